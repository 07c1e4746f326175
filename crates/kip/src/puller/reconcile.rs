//! One reconciliation of the caching DaemonSet, for the Deployment that runs kip (its owner):
//! *dereference* (the live DaemonSet and its refresh token) -> *build* (render the desired
//! DaemonSet, a pure function) -> *apply* (server-side apply, field manager `kip`, forced) ->
//! *observe* (status into metrics, readiness and events). Only the first, third and fourth
//! steps touch the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::watch;
use tracing::{info, instrument, warn};

use super::error::{Error, backoff};
use super::events::Notifier;
use super::refresh::{self, REFRESH_ANNOTATION};
use crate::config::Config;
use crate::render::{RenderContext, desired_daemonset};
use crate::telemetry::metrics::NodeState;
use crate::telemetry::{Health, Metrics};

/// The field manager of every write kip makes.
pub const FIELD_MANAGER: &str = "kip";

/// Selects caching DaemonSets (the label the Go puller puts on them too); the owner reference
/// then tells which one is ours.
pub const DAEMONSET_SELECTOR: &str = "app.kubernetes.io/name=image-puller";

/// Longest wait between retries of a failing reconciliation.
const TRANSIENT_BACKOFF_CAP: Duration = Duration::from_secs(60);
const PERMANENT_BACKOFF: Duration = Duration::from_secs(300);

pub struct Context {
    pub client: kube::Client,
    /// The configuration in force (the last valid one).
    pub config: watch::Receiver<Arc<Config>>,
    pub openshift: bool,
    /// Replaces `CACHING_INTERVAL_HOURS` when set (demos and tests).
    pub refresh_interval: Option<Duration>,
    pub metrics: Metrics,
    pub health: Health,
    pub notifier: Notifier,
    consecutive_failures: AtomicU32,
    applied_before: AtomicBool,
    /// Namespace and name of the DaemonSet applied last, to clean up after a rename.
    last_applied: Mutex<Option<(String, String)>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: watch::Receiver<Arc<Config>>,
        openshift: bool,
        refresh_interval: Option<Duration>,
        metrics: Metrics,
        health: Health,
        notifier: Notifier,
    ) -> Self {
        Context {
            client,
            config,
            openshift,
            refresh_interval,
            metrics,
            health,
            notifier,
            consecutive_failures: AtomicU32::new(0),
            applied_before: AtomicBool::new(false),
            last_applied: Mutex::new(None),
        }
    }

    fn interval(&self, config: &Config) -> Duration {
        self.refresh_interval.unwrap_or(Duration::from_secs(u64::from(config.caching_interval_hours) * 3600))
    }
}

#[instrument(skip(owner, ctx), fields(deployment = %owner.name_any()))]
pub async fn reconcile(owner: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.time_reconcile();
    let config = ctx.config.borrow().clone();
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &config.namespace);
    if owner.meta().deletion_timestamp.is_some() {
        // The owner is going away and the garbage collector takes the DaemonSet with it.
        return Ok(Action::await_change());
    }

    // Dereference.
    let live = api.get_opt(&config.daemonset_name).await.map_err(Error::from_kube)?;
    ctx.health.set_api_reachable(true);
    let live_token = live
        .as_ref()
        .and_then(|ds| ds.spec.as_ref())
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.annotations.as_ref())
        .and_then(|annotations| annotations.get(REFRESH_ANNOTATION))
        .map(String::as_str);
    let now = Timestamp::now();
    let plan = refresh::plan(live_token, live.is_some(), now, ctx.interval(&config));

    // Build.
    let render_context =
        RenderContext { openshift: ctx.openshift, owner_uid: owner.uid(), refresh_token: Some(plan.token.clone()) };
    let desired = desired_daemonset(&config, &render_context);

    // Apply.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied =
        api.patch(&config.daemonset_name, &params, &Patch::Apply(&desired)).await.map_err(Error::from_kube)?;
    let applied = remove_foreign_containers(&api, &desired, applied).await?;
    forget_renamed(&ctx, &config, &owner).await;

    // Observe.
    observe(&ctx, &config, &applied, live.is_none(), &plan).await;
    ctx.consecutive_failures.store(0, Ordering::Relaxed);
    ctx.metrics.count_reconcile(None);
    Ok(Action::requeue(refresh::until(Timestamp::now(), plan.next_due).max(Duration::from_secs(1))))
}

/// Server-side apply never removes what another field manager added, so containers added by
/// hand would stay; the DaemonSet must hold exactly the configured images.
async fn remove_foreign_containers(
    api: &Api<DaemonSet>,
    desired: &DaemonSet,
    applied: DaemonSet,
) -> Result<DaemonSet, Error> {
    let names = |ds: &DaemonSet, init: bool| -> Vec<String> {
        ds.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|pod| if init { pod.init_containers.clone().unwrap_or_default() } else { pod.containers.clone() })
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    let mut deletions = serde_json::Map::new();
    for (field, init) in [("containers", false), ("initContainers", true)] {
        let wanted = names(desired, init);
        let foreign: Vec<serde_json::Value> = names(&applied, init)
            .into_iter()
            .filter(|name| !wanted.contains(name))
            .map(|name| json!({"name": name, "$patch": "delete"}))
            .collect();
        if !foreign.is_empty() {
            deletions.insert(field.to_string(), serde_json::Value::Array(foreign));
        }
    }
    if deletions.is_empty() {
        return Ok(applied);
    }
    info!(containers = ?deletions, "removing containers that are not in the configuration");
    let patch = json!({"spec": {"template": {"spec": deletions}}});
    api.patch(
        &applied.name_any(),
        &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() },
        &Patch::Strategic(patch),
    )
    .await
    .map_err(Error::from_kube)
}

/// After the DaemonSet's name or namespace changed in the configuration, the old one is
/// deleted (only if it belongs to the same owner).
async fn forget_renamed(ctx: &Context, config: &Config, owner: &Deployment) {
    let current = (config.namespace.clone(), config.daemonset_name.clone());
    let previous = ctx.last_applied.lock().replace(current.clone());
    let Some((namespace, name)) = previous.filter(|p| *p != current) else { return };
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &namespace);
    let Ok(Some(old)) = api.get_opt(&name).await else { return };
    let owned = old.owner_references().iter().any(|r| Some(&r.uid) == owner.uid().as_ref());
    if owned {
        info!(namespace, name, "deleting the DaemonSet of the previous configuration");
        if let Err(err) = api.delete(&name, &DeleteParams::background()).await {
            warn!(error = %err, namespace, name, "could not delete the previous DaemonSet");
        }
    }
}

async fn observe(ctx: &Context, config: &Config, applied: &DaemonSet, created: bool, plan: &refresh::RefreshPlan) {
    ctx.health.set_daemonset_applied(true);
    ctx.metrics.images_configured.set(config.images.len() as i64);
    if let Some(status) = &applied.status {
        ctx.metrics.set_nodes(NodeState::Desired, i64::from(status.desired_number_scheduled));
        ctx.metrics.set_nodes(NodeState::Current, i64::from(status.current_number_scheduled));
        ctx.metrics.set_nodes(NodeState::Ready, i64::from(status.number_ready));
        ctx.metrics.set_nodes(NodeState::Updated, i64::from(status.updated_number_scheduled.unwrap_or(0)));
        ctx.metrics.set_nodes(NodeState::Available, i64::from(status.number_available.unwrap_or(0)));
    }
    if let Ok(last) = plan.token.parse::<Timestamp>() {
        ctx.metrics.last_refresh.set(last.as_millisecond() as f64 / 1000.0);
    }
    let reference = applied.object_ref(&());
    let name = &config.daemonset_name;
    let images = config.images.len();
    if created {
        let restored = ctx.applied_before.load(Ordering::Relaxed);
        let (reason, note) = if restored {
            ("Restored", format!("DaemonSet {name} was missing and has been created again with {images} images"))
        } else {
            ("Created", format!("DaemonSet {name} applied with {images} images"))
        };
        info!(daemonset = %name, images, restored, "{note}");
        ctx.notifier.daemonset(&reference, reason, note).await;
    } else if plan.refreshing {
        ctx.metrics.refreshes.inc();
        let note = format!("Refreshing the cached images: rolling restart of DaemonSet {name}");
        info!(daemonset = %name, "{note}");
        ctx.notifier.daemonset(&reference, "Refreshing", note).await;
    }
    ctx.applied_before.store(true, Ordering::Relaxed);
}

pub fn error_policy(_owner: Arc<Deployment>, err: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.consecutive_failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
    ctx.metrics.count_reconcile(Some(err.category()));
    if err.api_unavailable() {
        ctx.health.set_api_reachable(false);
    }
    let delay = if err.is_transient() { backoff(failures, true, TRANSIENT_BACKOFF_CAP) } else { PERMANENT_BACKOFF };
    warn!(error = %err, category = err.category(), retry_in = ?delay, failures, "reconciliation failed");
    Action::requeue(delay)
}
