//! `kip operator`: the `KubernetesImagePuller` controller (`che.eclipse.org/v1alpha1`), a drop-in
//! replacement for the Go kubernetes-image-puller-operator that needs no cert-manager. For each
//! resource it keeps a ServiceAccount, a Role and RoleBinding, a ConfigMap and a Deployment
//! running `kip run`, all owned by the resource, and reports whether the images are cached.
//! See `reconcile` for the pipeline and `deploy/operator/README.md` for installing it.

pub mod apply;
pub mod build;
pub mod defaults;
pub mod error;
pub mod events;
pub mod observe;
pub mod reconcile;
pub mod resource;
pub mod singleton;
pub mod status;
pub mod telemetry;
pub mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::puller::leader::{Elector, LeaseSettings, Role as LeaderRole};
use crate::puller::parse_duration;
use crate::puller::reconcile::DAEMONSET_SELECTOR;
use crate::telemetry::logging::{self, LogFormat};
use build::MANAGED_BY_SELECTOR;
use reconcile::{Context, Guarded};
use telemetry::{OperatorHealth, OperatorMetrics};

pub use resource::{KubernetesImagePuller, KubernetesImagePullerSpec, KubernetesImagePullerStatus, crd, crd_yaml};

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "kip-operator";

/// Options of `kip operator`.
#[derive(Clone, Debug, clap::Args)]
pub struct OperatorOptions {
    /// Address of the health and metrics endpoints.
    #[arg(long, env = "KIP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "KIP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The image pullers run when a resource names none (or names the Go puller's image).
    #[arg(long, env = "KIP_PULLER_IMAGE", default_value = defaults::DEFAULT_PULLER_IMAGE)]
    pub puller_image: String,
    /// Elect a leader through a Lease, so that only one replica writes.
    #[arg(long, env = "KIP_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Name of the leader Lease.
    #[arg(long, env = "KIP_LEASE_NAME", default_value = "kip-operator")]
    pub lease_name: String,
    /// Namespace of the leader Lease (default: the namespace the operator runs in).
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long a leader's lease lasts without renewal.
    #[arg(long, env = "KIP_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How often the leader renews its lease (and a standby checks it).
    #[arg(long, env = "KIP_LEASE_RENEW", default_value = "5s", value_parser = parse_duration)]
    pub lease_renew: Duration,
    /// This replica's identity in the lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// Runs the operator until SIGTERM/SIGINT: 0 after a clean shutdown, 1 without a cluster.
pub async fn run(options: OperatorOptions) -> ExitCode {
    logging::init(options.log_format);
    let client = match Client::try_default().await {
        Ok(client) => client,
        Err(err) => {
            eprintln!("kip: no Kubernetes cluster is configured (in-cluster service account or KUBECONFIG): {err}");
            return ExitCode::from(1);
        }
    };
    let shutdown = CancellationToken::new();
    crate::puller::spawn_signal_handler(shutdown.clone());
    match run_with(client, options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!(error = %err, "kip operator stopped");
            ExitCode::FAILURE
        }
    }
}

/// The operator with an existing client, until `shutdown` fires (also used by tests).
pub async fn run_with(client: Client, options: OperatorOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics = OperatorMetrics::new();
    let health = OperatorHealth::default();
    let (addr, http_task) =
        crate::telemetry::server::serve(options.http_addr, health.clone(), metrics.clone(), shutdown.clone()).await?;
    info!(%addr, puller_image = %options.puller_image, "kip operator is starting");
    let identity = options.identity.clone().unwrap_or_else(|| format!("kip-operator-{}", std::process::id()));
    let mut elector = options.leader_elect.then(|| {
        Elector::new(
            client.clone(),
            LeaseSettings {
                name: options.lease_name.clone(),
                namespace: options.lease_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string()),
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
            None => LeaderRole::Leader,
        };
        match (role, leading.is_some()) {
            (LeaderRole::Leader, false) => {
                info!(%identity, "leading: reconciling KubernetesImagePullers");
                metrics.leader.set(1);
                health.set_leading(true);
                let stop = shutdown.child_token();
                let controller = run_controller(
                    client.clone(),
                    reconcile::build_context(&options.puller_image),
                    identity.clone(),
                    metrics.clone(),
                    health.clone(),
                    stop.clone(),
                );
                leading = Some((stop, tokio::spawn(controller)));
            }
            (LeaderRole::Follower, true) => {
                warn!("lost the leader lease; standing by");
                metrics.leader.set(0);
                health.set_leading(false);
                if let Some((stop, task)) = leading.take() {
                    stop.cancel();
                    let _ = task.await;
                }
            }
            (LeaderRole::Follower, false) => health.set_api_reachable(client.apiserver_version().await.is_ok()),
            (LeaderRole::Leader, true) => {}
        }
        let pause = if elector.is_some() { options.lease_renew } else { Duration::from_secs(3600) };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    info!("shutting down");
    if let Some((stop, task)) = leading.take() {
        stop.cancel();
        let _ = task.await;
    }
    if let Some(elector) = elector.as_mut() {
        elector.release().await;
    }
    let _ = http_task.await;
    Ok(())
}

/// The resources of `namespace` in `store` other than `except`, as reconcile requests.
fn resources_in(store: &Store<Guarded>, namespace: Option<String>, except: Option<String>) -> Vec<ObjectRef<Guarded>> {
    store
        .state()
        .iter()
        .filter(|r| r.namespace() == namespace && (except.is_none() || Some(r.name_any()) != except))
        .map(|r| ObjectRef::from_obj(r.as_ref()))
        .collect()
}

/// The controller on every `KubernetesImagePuller`, until `stop`.
async fn run_controller(
    client: Client,
    build: build::BuildContext,
    identity: String,
    metrics: OperatorMetrics,
    health: OperatorHealth,
    stop: CancellationToken,
) {
    let children = || watcher::Config::default().labels(MANAGED_BY_SELECTOR);
    let resources: Api<Guarded> = Api::all(client.clone());
    let controller = Controller::new(resources.clone(), watcher::Config::default())
        // Status updates of the DaemonSet come in bursts; one pass covers a burst.
        .with_config(controller::Config::default().debounce(Duration::from_millis(500)));
    let store = controller.store();
    let (for_daemonsets, for_siblings, loaded) = (store.clone(), store.clone(), store.clone());
    // Ready once the first list arrived, even with no resource to reconcile.
    let ready = health.clone();
    tokio::spawn(async move {
        if loaded.wait_until_ready().await.is_ok() {
            ready.set_api_reachable(true);
            ready.set_cache_ready(true);
        }
    });
    let ctx = Arc::new(Context::new(
        client.clone(),
        store,
        build,
        events::Notifier::new(client.clone(), Some(identity)),
        metrics,
        health,
    ));
    controller
        .owns(Api::<ServiceAccount>::all(client.clone()), children())
        .owns(Api::<Role>::all(client.clone()), children())
        .owns(Api::<RoleBinding>::all(client.clone()), children())
        .owns(Api::<ConfigMap>::all(client.clone()), children())
        .owns(Api::<Deployment>::all(client.clone()), children())
        // The caching DaemonSet belongs to the puller Deployment, not to the resource; there is
        // one resource in force per namespace, so its namespace says whose it is.
        .watches(
            Api::<DaemonSet>::all(client.clone()),
            watcher::Config::default().labels(DAEMONSET_SELECTOR),
            move |daemonset| resources_in(&for_daemonsets, daemonset.namespace(), None),
        )
        // When a resource comes or goes, the others of its namespace may change role.
        .watches(resources, watcher::Config::default(), move |resource: Guarded| {
            resources_in(&for_siblings, resource.namespace(), Some(resource.name_any()))
        })
        .graceful_shutdown_on(stop.cancelled_owned())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                warn!(error = %err, "controller event");
            }
        })
        .await;
}
