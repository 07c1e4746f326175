//! Runs a simulator until Ctrl-C, as `kip sim` does:
//! `cargo run -p kip-sim --example serve -- --listen 127.0.0.1:6443 --kubeconfig /tmp/sim.kubeconfig`

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: kip_sim::SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    kip_sim::run_sim_command(Cli::parse().sim).await
}
