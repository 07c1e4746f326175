//! One reconciliation of the caching DaemonSet, for the Deployment that runs kip (its owner):
//! *dereference* (the live DaemonSet, its refresh token and recorded digests) -> *build* (the
//! digests in force and the refresh token, then the desired DaemonSet: pure functions) ->
//! *apply* (server-side apply, field manager `kip`, forced) -> *observe* (status into metrics,
//! readiness and events). Only the first, third and fourth steps touch the API.

use std::collections::BTreeMap;
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

use super::Reporters;
use super::digests::{self, DigestChange, Recorded};
use super::error::{Error, backoff};
use super::events::Notifier;
use super::refresh;
use super::resolver::DigestBook;
use crate::config::{Config, RefreshPolicy};
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
/// How often a pinned configuration looks again while its first digest lookups are under way
/// (their end triggers a reconciliation anyway).
const PINNING_WAIT: Duration = Duration::from_secs(5);

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
    /// The digests the registry lookups found.
    pub book: Arc<DigestBook>,
    /// The digests in force, as last applied (for the cache status).
    pub applied_digests: watch::Sender<Arc<BTreeMap<String, String>>>,
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
        reporters: Reporters,
        book: Arc<DigestBook>,
    ) -> Self {
        let Reporters { notifier, metrics, health } = reporters;
        Context {
            client,
            config,
            openshift,
            refresh_interval,
            metrics,
            health,
            notifier,
            book,
            applied_digests: watch::Sender::new(Arc::default()),
            consecutive_failures: AtomicU32::new(0),
            applied_before: AtomicBool::new(false),
            last_applied: Mutex::new(None),
        }
    }

    pub fn interval(&self, config: &Config) -> Duration {
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
    let recorded = Recorded::of(live.as_ref());
    let book = ctx.book.snapshot();

    // Build.
    if config.pin_digests && !digests::all_attempted(&config.images, &book.attempted, &recorded) {
        // Applied by tag now, the pods would roll again to the digest in a moment.
        return Ok(Action::requeue(PINNING_WAIT));
    }
    let digests = digests::in_force(&config.images, &book.resolved, &recorded);
    let refresh = plan_refresh(&ctx, &config, &recorded, &digests, live.is_some());
    let render_context = RenderContext {
        openshift: ctx.openshift,
        owner_uid: owner.uid(),
        refresh_token: Some(refresh.token.clone()),
        digests: digests.clone(),
    };
    let desired = desired_daemonset(&config, &render_context);

    // Apply.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied =
        api.patch(&config.daemonset_name, &params, &Patch::Apply(&desired)).await.map_err(Error::from_kube)?;
    let applied = remove_foreign_containers(&api, &desired, applied).await?;
    forget_renamed(&ctx, &config, &owner).await;

    // Observe.
    ctx.applied_digests.send_if_modified(|applied| {
        let changed = **applied != digests;
        if changed {
            *applied = Arc::new(digests);
        }
        changed
    });
    observe(&ctx, &config, &applied, live.is_none(), &refresh).await;
    ctx.consecutive_failures.store(0, Ordering::Relaxed);
    ctx.metrics.count_reconcile(None);
    Ok(Action::requeue(refresh.next_check.max(Duration::from_secs(1))))
}

/// The refresh token to apply, by policy.
struct Refresh {
    token: String,
    /// This apply rolls the caching pods.
    rolling: bool,
    /// For `on-change`: the images whose digest changed.
    changes: Vec<DigestChange>,
    /// For `always`: when the token was set.
    timestamp: Option<Timestamp>,
    /// When to reconcile again at the latest.
    next_check: Duration,
}

fn plan_refresh(
    ctx: &Context,
    config: &Config,
    recorded: &Recorded,
    digests: &BTreeMap<String, String>,
    exists: bool,
) -> Refresh {
    let interval = ctx.interval(config);
    match config.refresh_policy {
        RefreshPolicy::Always => {
            let now = Timestamp::now();
            let plan = refresh::plan(recorded.token.as_deref(), exists, now, interval);
            Refresh {
                timestamp: plan.token.parse().ok(),
                rolling: plan.refreshing,
                token: plan.token,
                changes: Vec::new(),
                next_check: refresh::until(now, plan.next_due),
            }
        }
        RefreshPolicy::OnChange => {
            let plan = digests::plan(&config.images, recorded, digests);
            Refresh {
                rolling: exists && !plan.changes.is_empty(),
                token: plan.token,
                changes: plan.changes,
                timestamp: None,
                // The digest lookups trigger reconciliations; this is a safety net.
                next_check: interval,
            }
        }
    }
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

async fn observe(ctx: &Context, config: &Config, applied: &DaemonSet, created: bool, refresh: &Refresh) {
    ctx.health.set_daemonset_applied(true);
    ctx.metrics.images_configured.set(config.images.len() as i64);
    if let Some(status) = &applied.status {
        ctx.metrics.set_nodes(NodeState::Desired, i64::from(status.desired_number_scheduled));
        ctx.metrics.set_nodes(NodeState::Current, i64::from(status.current_number_scheduled));
        ctx.metrics.set_nodes(NodeState::Ready, i64::from(status.number_ready));
        ctx.metrics.set_nodes(NodeState::Updated, i64::from(status.updated_number_scheduled.unwrap_or(0)));
        ctx.metrics.set_nodes(NodeState::Available, i64::from(status.number_available.unwrap_or(0)));
    }
    if let Some(last) = refresh.timestamp {
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
    } else if refresh.rolling {
        ctx.metrics.refreshes.inc();
        if refresh.timestamp.is_none() {
            ctx.metrics.last_refresh.set(Timestamp::now().as_millisecond() as f64 / 1000.0);
        }
        let why = if refresh.changes.is_empty() {
            String::new()
        } else {
            let changed: Vec<String> =
                refresh.changes.iter().map(|c| format!("{} {} -> {}", c.name, short(&c.from), short(&c.to))).collect();
            format!(" (new content: {})", changed.join(", "))
        };
        let note = format!("Refreshing the cached images: rolling restart of DaemonSet {name}{why}");
        info!(daemonset = %name, "{note}");
        ctx.notifier.daemonset(&reference, "Refreshing", note).await;
    }
    ctx.applied_before.store(true, Ordering::Relaxed);
}

/// `sha256:0123456789ab`: enough of a digest to tell contents apart in a message.
fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
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
