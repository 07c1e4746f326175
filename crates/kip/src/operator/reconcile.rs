//! One reconciliation of a `KubernetesImagePuller`: *dereference* (which resource is in force in
//! the namespace, the live children) -> *validate* (the spec, as the puller will read it) ->
//! *build* (the children, pure) -> *apply* (server-side apply, leftovers deleted) -> *update
//! status* (conditions, nodes, events). Only the first, fourth and fifth steps touch the API.
//! An invalid spec or a duplicate resource stops before anything is written but the status.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;
use tracing::{info, instrument, warn};

use super::FIELD_MANAGER;
use super::apply::{Applied, apply};
use super::build::{self, BuildContext, CONFIG_HASH_ANNOTATION, config_map_data, data_hash, desired_children};
use super::defaults;
use super::error::{Error, retry_delay};
use super::events::{self, Notifier, PullerBefore};
use super::observe::{self, Wanted};
use super::resource::KubernetesImagePuller;
use super::singleton;
use super::status::{self, Findings, Problem};
use super::telemetry::{OperatorHealth, OperatorMetrics};
use super::validate::validate;

/// Resources as the controller watches them: one that does not deserialize is reported, and the
/// others keep being served.
pub type Guarded = DeserializeGuard<KubernetesImagePuller>;

/// How often a settled resource is looked at again, for drift no watch reports.
const RESYNC: Duration = Duration::from_secs(600);

pub struct Context {
    pub client: Client,
    /// Every resource in the cluster, from the controller's own watch.
    pub store: Store<Guarded>,
    pub build: BuildContext,
    pub notifier: Notifier,
    pub metrics: OperatorMetrics,
    pub health: OperatorHealth,
    /// Consecutive failures per resource (`namespace/name`), for the retry backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        store: Store<Guarded>,
        build: BuildContext,
        notifier: Notifier,
        metrics: OperatorMetrics,
        health: OperatorHealth,
    ) -> Self {
        Context { client, store, build, notifier, metrics, health, failures: Mutex::new(HashMap::new()) }
    }
}

fn key(meta: &kube::core::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

#[instrument(skip_all, fields(resource = %key(guard.meta())))]
pub async fn reconcile(guard: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let result = match &guard.0 {
        Ok(kip) => reconcile_one(kip, &ctx).await,
        Err(invalid) => {
            warn!(error = %invalid.error, "a KubernetesImagePuller does not have the expected shape; it is skipped until it changes");
            Ok(Action::await_change())
        }
    };
    ctx.metrics.observe_duration(start);
    if result.is_ok() {
        ctx.metrics.count_reconcile(None);
        ctx.failures.lock().remove(&key(guard.meta()));
        ctx.health.set_api_reachable(true);
    }
    result
}

pub fn error_policy(guard: Arc<Guarded>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.count_reconcile(Some(err.category()));
    if err.category() == "unreachable" {
        ctx.health.set_api_reachable(false);
    }
    let failures = {
        let mut failures = ctx.failures.lock();
        let count = failures.entry(key(guard.meta())).or_insert(0);
        *count = count.saturating_add(1);
        *count
    };
    let delay = retry_delay(failures, err.is_transient());
    warn!(error = %err, category = err.category(), retry_in = ?delay, failures, "reconciliation failed");
    Action::requeue(delay)
}

async fn reconcile_one(kip: &KubernetesImagePuller, ctx: &Context) -> Result<Action, Error> {
    if kip.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the children through their owner references.
        return Ok(Action::await_change());
    }
    let name = kip.name_any();
    let namespace = kip.namespace().ok_or_else(|| Error::Incomplete(name.clone(), "namespace"))?;
    let uid = kip.uid().ok_or_else(|| Error::Incomplete(name.clone(), "uid"))?;
    // Before the first full list, a younger duplicate could look alone in its namespace.
    if ctx.store.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    ctx.health.set_cache_ready(true);

    let data = config_map_data(kip, &ctx.build);
    let mut findings = Findings {
        generation: kip.metadata.generation.unwrap_or(0),
        namespace: namespace.clone(),
        image: data.get(crate::config::vars::KIP_IMAGE).cloned().unwrap_or_default(),
        deployment_name: defaults::deployment_name(&kip.spec).to_string(),
        daemonset_name: data.get(crate::config::vars::DAEMONSET_NAME).cloned().unwrap_or_default(),
        ..Findings::default()
    };

    // Dereference: the resource in force in this namespace.
    let resources = ctx.store.state();
    let primary = singleton::primary(
        resources.iter().map(|r| r.meta()).filter(|meta| meta.namespace.as_deref() == Some(namespace.as_str())),
    )
    .map(str::to_string);
    if let Some(primary) = primary.filter(|primary| *primary != name) {
        findings.problem = Some(Problem::Duplicate { primary });
        update_status(kip, ctx, &findings, Vec::new()).await?;
        return Ok(Action::await_change());
    }

    // Validate.
    let config = match validate(kip, &data) {
        Ok(config) => config,
        Err(problems) => {
            findings.problem = Some(Problem::InvalidSpec { report: problems.to_string() });
            update_status(kip, ctx, &findings, Vec::new()).await?;
            return Ok(Action::await_change());
        }
    };
    findings.images = config.images.len();
    findings.warnings = config.warnings.iter().map(ToString::to_string).collect();

    // Build.
    let children = desired_children(kip, &data);
    let hash = data_hash(&data);

    // Dereference: the live children.
    let wanted = Wanted {
        uid: &uid,
        config_map: defaults::config_map_name(&kip.spec),
        deployment: &findings.deployment_name,
        daemonset: &config.daemonset_name,
    };
    let live = observe::live(&ctx.client, &namespace, &wanted).await?;
    findings.puller = live.deployment.as_ref().map(|d| status::puller_state(d, &hash));
    findings.caching = live.daemonset.as_ref().map(|d| status::caching_state(d, &config.images));
    let puller_current = findings.puller.is_some_and(|p| p.running_current_config);

    // Apply.
    match apply(&ctx.client, kip, &children, &live, puller_current).await {
        Ok(applied) => {
            let before = match &live.deployment {
                None => PullerBefore::Missing,
                Some(deployment) => PullerBefore::Present(template_hash(deployment)),
            };
            let notes = events::changes(&applied, before, &hash, &findings.deployment_name, findings.images);
            log_changes(&applied);
            update_status(kip, ctx, &findings, notes).await?;
            Ok(Action::requeue(RESYNC))
        }
        Err(err) => {
            findings.problem = Some(Problem::ApplyFailed { category: err.category(), message: err.to_string() });
            // The status write may fail for the same reason; the apply error is the one to report.
            if let Err(status_err) = update_status(kip, ctx, &findings, Vec::new()).await {
                warn!(error = %status_err, "could not report the failure in the status either");
            }
            Err(err)
        }
    }
}

fn template_hash(deployment: &k8s_openapi::api::apps::v1::Deployment) -> Option<&str> {
    deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH_ANNOTATION)
        .map(String::as_str)
}

fn log_changes(applied: &Applied) {
    for (kind, name) in &applied.deleted {
        info!(kind, name = %name, "deleted a leftover of a rename");
    }
    if applied.role_binding_recreated {
        info!("recreated RoleBinding {} for its new roleRef", defaults::RBAC_NAME);
    }
    if !applied.defaulted.is_empty() {
        info!(fields = ?applied.defaulted, "wrote the defaults into the spec");
    }
}

/// Writes the status when it changed (server-side apply on `/status`, forced), then publishes
/// `notes` and the events of the conditions that changed.
async fn update_status(
    kip: &KubernetesImagePuller,
    ctx: &Context,
    findings: &Findings,
    mut notes: Vec<events::Note>,
) -> Result<(), Error> {
    let previous = kip.status.as_ref();
    let next = status::desired_status(findings, previous, Timestamp::now());
    if previous != Some(&next) {
        let name = kip.name_any();
        let api: Api<KubernetesImagePuller> = Api::namespaced(ctx.client.clone(), &findings.namespace);
        let patch = json!({
            "apiVersion": KubernetesImagePuller::api_version(&()),
            "kind": KubernetesImagePuller::kind(&()),
            "metadata": {"name": name},
            "status": next,
        });
        api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
            .await
            .map_err(|e| Error::api(format!("writing the status of KubernetesImagePuller {name}"), e))?;
        notes.extend(events::transitions(previous, &next));
        if defaults::is_go_puller_image(kip.spec.image_puller_image.as_deref().unwrap_or_default())
            && previous.and_then(|p| p.image_puller_image.as_deref()) != next.image_puller_image.as_deref()
        {
            notes.push(events::Note {
                warning: false,
                reason: "ImageReplaced",
                text: format!(
                    "imagePullerImage names the Go puller's image, which kip replaces: running {}",
                    findings.image
                ),
            });
        }
    }
    ctx.notifier.publish(&kip.object_ref(&()), notes).await;
    Ok(())
}

/// Builds the [`BuildContext`] for an operator whose default puller image is `image`.
pub fn build_context(image: &str) -> BuildContext {
    build::BuildContext { default_image: image.to_string() }
}
