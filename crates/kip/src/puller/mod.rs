//! `kip run`: the image puller. Keeps the caching DaemonSet as the configuration says, for as
//! long as it runs: level-triggered (a deleted or edited DaemonSet is restored within
//! seconds), refreshed by a rolling restart when an image's digest changed (or on schedule,
//! with `KIP_REFRESH_POLICY=always`), led by one replica at a time, and alive through API and
//! registry outages. The leader also watches which node holds which image (metrics, events,
//! the optional warm signal). On SIGTERM it deletes the DaemonSet, as the Go puller does,
//! unless `KIP_KEEP_DAEMONSET_ON_EXIT` says to keep it.

pub mod cache_status;
pub mod config_source;
pub mod digests;
pub mod error;
pub mod events;
pub mod leader;
pub mod leading;
pub mod options;
pub mod reconcile;
pub mod refresh;
pub mod resolver;
pub mod warm;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::DeleteParams;
use kube::{Api, Client};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::telemetry::{self, Health, Metrics};
use config_source::ConfigSource;
use leader::{Elector, LeaseSettings, Role};
use leading::{Leadership, lead, observe_as_follower};
pub use options::{RunOptions, parse_duration};

/// Where kip reports what happens: events, metrics, readiness.
#[derive(Clone)]
pub struct Reporters {
    pub notifier: events::Notifier,
    pub metrics: Metrics,
    pub health: Health,
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
    let refresh = RefreshTrigger::default();
    let app = telemetry::server::router_with(health.clone(), metrics.clone(), refresh.routes());
    let (_, http_task) = telemetry::server::serve_with(options.http_addr, app, shutdown.clone()).await?;
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
                refresh.leading.store(true, Ordering::Relaxed);
                if elector.is_some() {
                    notifier.leading(&identity).await;
                }
                let token = shutdown.child_token();
                let leadership = Leadership {
                    client: client.clone(),
                    config: config_rx.clone(),
                    refresh_interval: options.refresh_interval,
                    reporters: Reporters {
                        notifier: notifier.clone(),
                        metrics: metrics.clone(),
                        health: health.clone(),
                    },
                    refresh: refresh.notify.clone(),
                };
                let task = tokio::spawn(lead(leadership, token.clone()));
                leading = Some((token, task));
            }
            (Role::Follower, true) => {
                warn!("lost the leader lease; standing by");
                metrics.leader.set(0);
                refresh.leading.store(false, Ordering::Relaxed);
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

/// `POST /refresh` on kip's HTTP port: look up every image's digest now (and roll the caching
/// pods if one changed), instead of at the next interval. Only the leader looks digests up.
#[derive(Clone, Default)]
struct RefreshTrigger {
    notify: Arc<Notify>,
    leading: Arc<AtomicBool>,
}

impl RefreshTrigger {
    fn routes(&self) -> Router {
        let trigger = self.clone();
        Router::new().route(
            "/refresh",
            post(move || {
                let trigger = trigger.clone();
                async move {
                    if trigger.leading.load(Ordering::Relaxed) {
                        trigger.notify.notify_one();
                        (
                            StatusCode::ACCEPTED,
                            "refresh requested: kip looks up every image's digest now and rolls the caching pods \
                             if one changed\n",
                        )
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "this replica is standing by: send the request to the leader (see the kip_leader metric)\n",
                        )
                    }
                }
            }),
        )
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
