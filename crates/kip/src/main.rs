use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    kip::cli::main(kip::cli::Cli::parse()).await
}
