//! The `kip` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::puller::{self, RunOptions};
use crate::render::{self, RenderContext};
use crate::status;

const EXAMPLES: &str = "\
Examples:
  # See kip cache three images on a simulated three-node cluster
  kip demo

  # Check a configuration without touching any cluster
  IMAGES='java=eclipse/che-java:11;node=node:20' DEPLOYMENT_NAME=kip kip validate

  # Print the DaemonSet kip would apply
  IMAGES='java=eclipse/che-java:11' DEPLOYMENT_NAME=kip kip render

  # Which node holds which image
  kip status -n k8s-image-puller -o wide

  # Run the puller against the cluster of the current kubeconfig
  IMAGES='java=eclipse/che-java:11' DEPLOYMENT_NAME=kip NAMESPACE=k8s-image-puller kip run
";

/// kip keeps a list of container images cached on every selected Kubernetes node.
///
/// Configuration comes from environment variables with the names of the Go
/// kubernetes-image-puller (IMAGES, CACHING_INTERVAL_HOURS, NAMESPACE, ...); see the README.
#[derive(Debug, Parser)]
#[command(name = "kip", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the image puller: keep the caching DaemonSet in the cluster.
    Run(RunOptions),
    /// Check the configuration from the environment; exit 2 when it is invalid.
    Validate(ValidateOptions),
    /// Print, as YAML, the DaemonSet kip would apply (no cluster needed).
    Render(RenderOptions),
    /// Show which selected node holds which cached image.
    Status(StatusOptions),
    /// Run a simulated Kubernetes cluster on 127.0.0.1 (for trying kip without a cluster).
    Sim(kip_sim::sim::SimArgs),
    /// Watch kip cache images on a simulated cluster; exits 0 once every node holds every image.
    Demo(crate::demo::DemoOptions),
    /// Run the operator: keep a puller for every KubernetesImagePuller resource.
    Operator(crate::operator::OperatorOptions),
    /// Print, as YAML, the CustomResourceDefinition of KubernetesImagePuller.
    Crd,
}

#[derive(Debug, clap::Args)]
pub struct StatusOptions {
    /// Namespace of the DaemonSet.
    #[arg(long, short = 'n', env = "NAMESPACE", default_value = "k8s-image-puller")]
    pub namespace: String,
    /// Name of the DaemonSet.
    #[arg(long, env = "DAEMONSET_NAME", default_value = "kubernetes-image-puller")]
    pub daemonset: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
    pub output: StatusFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// Images with the number of nodes holding them and the nodes missing them.
    Table,
    /// The images table and a grid of nodes by images.
    Wide,
    /// The report as JSON.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ValidateOptions {
    /// Also show what the DaemonSet reserves on this many nodes.
    #[arg(long)]
    pub nodes: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct RenderOptions {
    /// Render for OpenShift (the platform assigns user and group ids).
    #[arg(long)]
    pub openshift: bool,
    /// The uid of the owner Deployment; without it the owner reference is left out.
    #[arg(long)]
    pub owner_uid: Option<String>,
    /// Also show, as a YAML comment, what the DaemonSet reserves on this many nodes.
    #[arg(long)]
    pub nodes: Option<u32>,
}

pub async fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(options) => puller::run(options).await,
        Command::Validate(options) => validate(options),
        Command::Render(options) => render_command(options),
        Command::Status(options) => status_command(options).await,
        Command::Demo(options) => crate::demo::run(options).await,
        Command::Sim(args) => match kip_sim::sim::run_sim_command(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kip sim: {err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Operator(options) => crate::operator::run(options).await,
        Command::Crd => {
            print!("{}", crate::operator::crd_yaml());
            ExitCode::SUCCESS
        }
    }
}

async fn status_command(options: StatusOptions) -> ExitCode {
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("kip: no Kubernetes cluster is configured (in-cluster service account or KUBECONFIG): {err}");
            return ExitCode::from(1);
        }
    };
    let report = match status::fetch::fetch(&client, &options.namespace, &options.daemonset).await {
        Ok(report) => report,
        Err(err) => {
            eprintln!("kip: {err}");
            return ExitCode::from(1);
        }
    };
    match options.output {
        StatusFormat::Table => print!("{}", status::table::images_table(&report)),
        StatusFormat::Wide => {
            print!("{}\n{}", status::table::images_table(&report), status::table::nodes_table(&report))
        }
        StatusFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("kip: {err}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}

fn config_from_env() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|problems| {
        eprintln!("{problems}");
        ExitCode::from(2)
    })
}

/// The report is this command's output, so it goes to stdout either way.
fn validate(options: ValidateOptions) -> ExitCode {
    match Config::from_env() {
        Ok(config) => {
            println!("{}", config.summary(options.nodes).trim_end());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            println!("{}", problems.to_string().trim_end());
            ExitCode::from(2)
        }
    }
}

fn render_command(options: RenderOptions) -> ExitCode {
    let config = match config_from_env() {
        Ok(config) => config,
        Err(code) => return code,
    };
    let ctx = RenderContext { openshift: options.openshift, owner_uid: options.owner_uid, ..RenderContext::default() };
    let daemonset = render::desired_daemonset(&config, &ctx);
    // The reservation as YAML comments, so that the output stays one YAML document for
    // `kubectl apply -f -`; warnings go to stderr.
    for line in config.reservation_report(options.nodes).lines() {
        println!("# {line}");
    }
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    print!("{}", render::to_yaml(&daemonset));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_options_have_sane_defaults() {
        let cli = Cli::try_parse_from(["kip", "run"]).expect("parse");
        let Command::Run(options) = cli.command else { panic!("run") };
        assert_eq!(options.http_addr.to_string(), "0.0.0.0:8080");
        assert!(options.leader_elect);
        assert_eq!(options.lease_duration.as_secs(), 15);
    }
}
