//! What the leader runs, until it stops leading: the controller on kip's own Deployment (which
//! owns the DaemonSet), the digest lookups that drive refreshes, and the cache status view.
//! A standby replica only observes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use tokio::sync::{Notify, watch};
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::Reporters;
use super::cache_status::CacheStatus;
use super::error::backoff;
use super::reconcile::{self, Context};
use super::resolver::{DigestBook, Resolver};
use crate::config::Config;
use crate::telemetry::Health;

/// What the leader works with.
pub struct Leadership {
    pub client: Client,
    pub config: watch::Receiver<Arc<Config>>,
    pub refresh_interval: Option<Duration>,
    pub reporters: Reporters,
    /// Woken by `POST /refresh`.
    pub refresh: Arc<Notify>,
}

/// Leads until `stop`.
pub async fn lead(leadership: Leadership, stop: CancellationToken) {
    let Leadership { client, config, refresh_interval, reporters, refresh } = leadership;
    let current = config.borrow().clone();
    let health = reporters.health.clone();
    let openshift = detect_openshift(&client, &health, &stop).await;
    if stop.is_cancelled() {
        return;
    }
    let book = Arc::new(DigestBook::default());
    let resolver = Resolver {
        client: client.clone(),
        config: config.clone(),
        book: book.clone(),
        metrics: reporters.metrics.clone(),
        notifier: reporters.notifier.clone(),
        refresh,
        interval: refresh_interval,
    };
    let resolving = tokio::spawn(resolver.run(stop.clone()));

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &current.namespace);
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), &current.namespace);
    let owner_selector = format!("metadata.name={}", current.deployment_name);
    // A new configuration or new digests: every DaemonSet is looked at again.
    let config_changes = WatchStream::from_changes(config.clone()).map(|_| ());
    let digest_changes = WatchStream::from_changes(book.updates()).map(|_| ());
    let triggers = futures::stream::select(config_changes, digest_changes);
    let ctx =
        Arc::new(Context::new(client.clone(), config.clone(), openshift, refresh_interval, reporters.clone(), book));

    let cache_status = CacheStatus {
        client: client.clone(),
        config,
        digests: ctx.applied_digests.subscribe(),
        metrics: reporters.metrics.clone(),
        notifier: reporters.notifier.clone(),
    };
    let watching = tokio::spawn(cache_status.run(stop.clone()));

    let owner_missing = check_owner(&deployments, &current, &health);
    let controller = Controller::new(deployments.clone(), watcher::Config::default().fields(&owner_selector))
        .owns(daemonsets, watcher::Config::default().labels(reconcile::DAEMONSET_SELECTOR))
        .reconcile_all_on(triggers)
        .graceful_shutdown_on(stop.clone().cancelled_owned())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                warn!(error = %err, "controller event");
            }
        });
    tokio::join!(owner_missing, controller);
    let _ = resolving.await;
    let _ = watching.await;
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
                let delay = backoff(failures, true, Duration::from_secs(30));
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
pub async fn observe_as_follower(client: &Client, config: &watch::Receiver<Arc<Config>>, health: &Health) {
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
