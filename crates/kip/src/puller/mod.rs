//! `kip run`: the image puller. Keeps the caching DaemonSet as the configuration says, for as
//! long as it runs: level-triggered (a deleted or edited DaemonSet is restored within
//! seconds), refreshed on schedule by a rolling restart, led by one replica at a time, and
//! alive through API outages. On SIGTERM it deletes the DaemonSet, as the Go puller does,
//! unless `KIP_KEEP_DAEMONSET_ON_EXIT` says to keep it.

pub mod config_source;
pub mod error;
pub mod events;
pub mod leader;
pub mod reconcile;
pub mod refresh;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::DeleteParams;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::telemetry::{self, Health, Metrics, logging::LogFormat};
use config_source::ConfigSource;
use leader::{Elector, LeaseSettings, Role};
use reconcile::Context;

/// Where kip reports what happens: events, metrics, readiness.
#[derive(Clone)]
pub struct Reporters {
    pub notifier: events::Notifier,
    pub metrics: Metrics,
    pub health: Health,
}

/// Options of `kip run` (the configuration itself comes from the environment).
#[derive(Clone, Debug, clap::Args)]
pub struct RunOptions {
    /// Address of the health and metrics endpoints.
    #[arg(long, env = "KIP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "KIP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Elect a leader through a Lease, so that only one replica writes.
    #[arg(long, env = "KIP_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Name of the leader Lease (default: `kip-` and the DaemonSet name).
    #[arg(long, env = "KIP_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// How long a leader's lease lasts without renewal.
    #[arg(long, env = "KIP_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How often the leader renews its lease (and a standby checks it).
    #[arg(long, env = "KIP_LEASE_RENEW", default_value = "5s", value_parser = parse_duration)]
    pub lease_renew: Duration,
    /// This replica's identity in the lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Watch this ConfigMap (in NAMESPACE) and apply changes to it without a restart.
    #[arg(long, env = "KIP_CONFIG_MAP")]
    pub config_map: Option<String>,
    /// Refresh interval replacing CACHING_INTERVAL_HOURS, e.g. `90s` (for demos and tests).
    #[arg(long, env = "KIP_REFRESH_INTERVAL", value_parser = parse_duration, hide = true)]
    pub refresh_interval: Option<Duration>,
}

/// Parses `15s`, `500ms`, `2m`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration =
        text.parse().map_err(|e| format!("{text:?} is not a duration such as 15s, 500ms or 1h30m: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} must not be negative"))
}

/// Runs the puller until SIGTERM/SIGINT. Exit code 2 for an invalid configuration (nothing in
/// the cluster is touched), 1 when no cluster is configured, 0 after a clean shutdown.
pub async fn run(options: RunOptions) -> ExitCode {
    telemetry::logging::init(options.log_format);
    let source = ConfigSource::from_env(options.config_map.clone());
    let config = match config_source::parse(&source.env) {
        Ok(config) => Arc::new(config),
        Err(problems) => {
            eprintln!("kip: refusing to start: {problems}");
            return ExitCode::from(2);
        }
    };
    for warning in &config.warnings {
        warn!(%warning, "configuration warning");
    }
    let client = match Client::try_default().await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("kip: no Kubernetes cluster is configured (in-cluster service account or KUBECONFIG): {err}");
            return ExitCode::from(1);
        }
    };
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    match run_with(client, config, source, options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!(error = %err, "kip stopped");
            ExitCode::FAILURE
        }
    }
}

/// The puller with an existing client, until `shutdown` fires (also used by `kip demo` and the
/// tests). Returns after the shutdown cleanup.
pub async fn run_with(
    client: Client,
    config: Arc<Config>,
    source: ConfigSource,
    options: RunOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let health = Health::new();
    health.set_config_valid(true);
    metrics.images_configured.set(config.images.len() as i64);
    let (_, http_task) =
        telemetry::server::serve(options.http_addr, health.clone(), metrics.clone(), shutdown.clone()).await?;
    info!(addr = %options.http_addr, images = config.images.len(), daemonset = %config.daemonset_name, namespace = %config.namespace, "kip is starting");

    let identity = options.identity.clone().unwrap_or_else(default_identity);
    let notifier =
        events::Notifier::new(client.clone(), Some(identity.clone()), &config.namespace, &config.deployment_name);
    let (config_tx, config_rx) = watch::channel(config.clone());
    let config_task = tokio::spawn(config_source::watch_config_map(
        client.clone(),
        source,
        config.namespace.clone(),
        config_tx,
        Reporters { notifier: notifier.clone(), metrics: metrics.clone(), health: health.clone() },
        shutdown.clone(),
    ));

    let mut elector = options.leader_elect.then(|| {
        Elector::new(
            client.clone(),
            LeaseSettings {
                name: options.lease_name.clone().unwrap_or_else(|| format!("kip-{}", config.daemonset_name)),
                namespace: config.namespace.clone(),
                identity: identity.clone(),
                lease_duration: options.lease_duration,
                renew_every: options.lease_renew,
            },
        )
    });
    let mut leading: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    loop {
        let role = match elector.as_mut() {
            Some(elector) => elector.round().await,
            None => Role::Leader,
        };
        match (role, leading.is_some()) {
            (Role::Leader, false) => {
                metrics.leader.set(1);
                if elector.is_some() {
                    notifier.leading(&identity).await;
                }
                let token = shutdown.child_token();
                let task = tokio::spawn(lead(
                    client.clone(),
                    config_rx.clone(),
                    options.refresh_interval,
                    metrics.clone(),
                    health.clone(),
                    notifier.clone(),
                    token.clone(),
                ));
                leading = Some((token, task));
            }
            (Role::Follower, true) => {
                warn!("lost the leader lease; standing by");
                metrics.leader.set(0);
                if let Some((token, task)) = leading.take() {
                    token.cancel();
                    let _ = task.await;
                }
            }
            (Role::Follower, false) => observe_as_follower(&client, &config_rx, &health).await,
            (Role::Leader, true) => {}
        }
        let pause = if elector.is_some() { options.lease_renew } else { Duration::from_secs(3600) };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }

    info!("shutting down");
    let was_leader = leading.is_some();
    if let Some((token, task)) = leading.take() {
        token.cancel();
        let _ = task.await;
    }
    let current = config_rx.borrow().clone();
    if was_leader && !current.keep_daemonset_on_exit {
        delete_daemonset(&client, &current).await;
    }
    if let Some(elector) = elector.as_mut() {
        elector.release().await;
    }
    let _ = config_task.await;
    let _ = http_task.await;
    info!("kip stopped");
    Ok(())
}

/// The leader's work: the controller on kip's own Deployment, owning the DaemonSet.
async fn lead(
    client: Client,
    config: watch::Receiver<Arc<Config>>,
    refresh_interval: Option<Duration>,
    metrics: Metrics,
    health: Health,
    notifier: events::Notifier,
    stop: CancellationToken,
) {
    let current = config.borrow().clone();
    let openshift = detect_openshift(&client, &health, &stop).await;
    if stop.is_cancelled() {
        return;
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &current.namespace);
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), &current.namespace);
    let owner_selector = format!("metadata.name={}", current.deployment_name);
    let config_changes = tokio_stream::wrappers::WatchStream::from_changes(config.clone()).map(|_| ());
    let ctx = Arc::new(Context::new(client, config, openshift, refresh_interval, metrics, health.clone(), notifier));
    let owner_missing = check_owner(&deployments, &current, &health);
    let controller = Controller::new(deployments.clone(), watcher::Config::default().fields(&owner_selector))
        .owns(daemonsets, watcher::Config::default().labels(reconcile::DAEMONSET_SELECTOR))
        .reconcile_all_on(config_changes)
        .graceful_shutdown_on(stop.clone().cancelled_owned())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                warn!(error = %err, "controller event");
            }
        });
    tokio::join!(owner_missing, controller);
}

/// The DaemonSet is reconciled for kip's own Deployment, which owns it. Without that
/// Deployment nothing happens, so say so clearly.
async fn check_owner(api: &Api<Deployment>, config: &Config, health: &Health) {
    match api.get_opt(&config.deployment_name).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            health.set_api_reachable(true);
            error!(
                deployment = %config.deployment_name,
                namespace = %config.namespace,
                "DEPLOYMENT_NAME names no Deployment in NAMESPACE: kip manages the DaemonSet on behalf of that Deployment (its owner), and waits for it to exist"
            );
        }
        Err(err) => warn!(error = %err, "could not read kip's own Deployment yet"),
    }
}

/// OpenShift is recognised by the `route.openshift.io` API group. Retries until the API answers.
async fn detect_openshift(client: &Client, health: &Health, stop: &CancellationToken) -> bool {
    let mut failures = 0;
    loop {
        match client.list_api_groups().await {
            Ok(groups) => {
                health.set_api_reachable(true);
                let openshift = groups.groups.iter().any(|g| g.name == "route.openshift.io");
                info!(openshift, "detected the platform");
                return openshift;
            }
            Err(err) => {
                failures += 1;
                health.set_api_reachable(false);
                let delay = error::backoff(failures, true, Duration::from_secs(30));
                warn!(error = %err, retry_in = ?delay, "the Kubernetes API is not answering");
                tokio::select! {
                    _ = stop.cancelled() => return false,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// A standby replica is ready when the API answers and the leader has applied the DaemonSet.
async fn observe_as_follower(client: &Client, config: &watch::Receiver<Arc<Config>>, health: &Health) {
    let current = config.borrow().clone();
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &current.namespace);
    match api.get_opt(&current.daemonset_name).await {
        Ok(found) => {
            health.set_api_reachable(true);
            health.set_daemonset_applied(found.is_some());
        }
        Err(_) => health.set_api_reachable(false),
    }
}

async fn delete_daemonset(client: &Client, config: &Config) {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &config.namespace);
    let name = &config.daemonset_name;
    match tokio::time::timeout(Duration::from_secs(10), api.delete(name, &DeleteParams::background())).await {
        Ok(Ok(_)) => info!(daemonset = %name, "deleted the DaemonSet (set KIP_KEEP_DAEMONSET_ON_EXIT=true to keep it)"),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => {}
        Ok(Err(err)) => warn!(error = %err, daemonset = %name, "could not delete the DaemonSet"),
        Err(_) => warn!(daemonset = %name, "deleting the DaemonSet timed out"),
    }
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kip".into());
    format!("{host}-{}", std::process::id())
}

pub fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = terminate => info!("received SIGTERM"),
            _ = tokio::signal::ctrl_c() => info!("received SIGINT"),
        }
        shutdown.cancel();
    });
}
