//! The DaemonSet controller, after Kubernetes': one pod per eligible node, pods that should
//! not be where they are removed, failed pods replaced (with back-off), template changes rolled
//! out by `RollingUpdate` or left for `OnDelete`, one ControllerRevision per template, and the
//! status `kubectl rollout status` reads.
//!
//! Pods are created bound to their node (`spec.nodeName`) as well as pinned to it by node
//! affinity: there is no separate scheduler to bind them, and that saves one write per pod.

mod history;
mod status;
mod update;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::cache::{Caches, PodView};
use super::eligibility::{DaemonFit, Placement, daemon_fit, with_daemon_tolerations};
use super::{Manager, SyncError, WorkKey, controller_ref};
use crate::store::{DeleteOptions, ObjectKey, is_terminating, meta_str};

pub(crate) const REVISION_HASH_LABEL: &str = "controller-revision-hash";
pub(crate) const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
const FAILED_POD_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const FAILED_POD_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// What the controller remembers between syncs of one DaemonSet.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    by_key: HashMap<ObjectKey, DaemonSetMemo>,
}

#[derive(Debug, Default)]
struct DaemonSetMemo {
    uid: String,
    generation: i64,
    placement: Placement,
    /// The current revision's hash, valid for `generation`.
    hash: Option<String>,
    /// Placement decisions by node, valid while the node's resourceVersion is unchanged.
    fits: HashMap<String, (u64, DaemonFit)>,
    /// Back-off for deleting failed pods, by node: (current delay, last deletion).
    failed_backoff: HashMap<String, (Duration, jiff::Timestamp)>,
}

/// The fields of a DaemonSet the controller reads.
pub(super) struct DaemonSetView {
    pub obj: Arc<Value>,
    pub key: ObjectKey,
    pub uid: String,
    pub generation: i64,
    pub min_ready_seconds: i64,
    pub template_generation: Option<i64>,
    pub collision_count: Option<i64>,
}

impl DaemonSetView {
    fn new(key: &ObjectKey, obj: Arc<Value>) -> Self {
        DaemonSetView {
            key: key.clone(),
            uid: meta_str(&obj, "uid").unwrap_or("").to_string(),
            generation: obj.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0),
            min_ready_seconds: obj.pointer("/spec/minReadySeconds").and_then(Value::as_i64).unwrap_or(0),
            template_generation: obj
                .pointer(&format!("/metadata/annotations/{}", TEMPLATE_GENERATION_ANNOTATION.replace('/', "~1")))
                .and_then(Value::as_str)
                .and_then(|g| g.parse().ok()),
            collision_count: obj.pointer("/status/collisionCount").and_then(Value::as_i64),
            obj,
        }
    }

    pub fn template(&self) -> &Value {
        self.obj.pointer("/spec/template").unwrap_or(&Value::Null)
    }

    pub fn update_strategy(&self) -> &Value {
        self.obj.pointer("/spec/updateStrategy").unwrap_or(&Value::Null)
    }

    pub fn is_rolling_update(&self) -> bool {
        self.update_strategy().get("type").and_then(Value::as_str).unwrap_or("RollingUpdate") == "RollingUpdate"
    }

    /// Whether a node may hold two pods (old and new) during an update.
    pub fn allows_surge(&self) -> bool {
        super::rollout::daemonset_limits(self.update_strategy(), 1).is_ok_and(|(surge, _)| surge > 0)
    }

    /// A pod runs the current template: its hash label, or the template generation it was
    /// created for, matches.
    pub fn is_updated(&self, pod: &PodView, hash: &str) -> bool {
        let generation_matches = self
            .template_generation
            .is_some_and(|g| pod.labels.get(TEMPLATE_GENERATION_LABEL).is_some_and(|l| *l == g.to_string()));
        let hash_matches = !hash.is_empty() && pod.labels.get(REVISION_HASH_LABEL).is_some_and(|l| l == hash);
        hash_matches || generation_matches
    }
}

/// Daemon pods by the node they are on (or meant for), oldest first (bound ones before unbound).
pub(super) type NodePods<'a> = BTreeMap<String, Vec<&'a PodView>>;

pub(super) fn sync(m: &mut Manager, key: &ObjectKey) -> Result<(), SyncError> {
    let Some(obj) = m.caches.daemonsets.get(key).cloned() else {
        m.daemonsets.by_key.remove(key);
        return Ok(());
    };
    // The garbage collector may be removing revisions and pods: status would be meaningless.
    if is_terminating(&obj) {
        return Ok(());
    }
    let ds = DaemonSetView::new(key, obj);
    refresh_memo(m, &ds);
    let Some(hash) = history::current_hash(m, &ds)? else {
        // A hash collision was recorded; the next sync uses the new collision count.
        m.queue.add(WorkKey::DaemonSet(key.clone()));
        return Ok(());
    };
    let acted = manage(m, &ds, &hash)?;
    if acted {
        // As with Kubernetes' expectations: roll only once the cache shows the last changes.
        m.queue.add(WorkKey::DaemonSet(key.clone()));
    } else if ds.is_rolling_update() {
        update::rolling_update(m, &ds, &hash)?;
    }
    history::cleanup(m, &ds)?;
    status::update(m, &ds, &hash)
}

fn refresh_memo(m: &mut Manager, ds: &DaemonSetView) {
    let memo = m.daemonsets.by_key.entry(ds.key.clone()).or_default();
    if memo.uid != ds.uid {
        *memo = DaemonSetMemo { uid: ds.uid.clone(), generation: -1, ..Default::default() };
    }
    if memo.generation != ds.generation {
        let spec = ds.template().get("spec").unwrap_or(&Value::Null);
        let mut placement = Placement::from_pod_spec(spec);
        placement.tolerations = with_daemon_tolerations(&placement.tolerations, placement.host_network);
        memo.generation = ds.generation;
        memo.placement = placement;
        memo.hash = None;
        memo.fits.clear();
    }
}

/// The placement decision for every node, from the memo where the node has not changed.
pub(super) fn fits(m: &mut Manager, ds: &DaemonSetView) -> BTreeMap<String, DaemonFit> {
    let Some(memo) = m.daemonsets.by_key.get_mut(&ds.key) else { return BTreeMap::new() };
    let mut result = BTreeMap::new();
    for (key, version, node) in m.caches.nodes.entries() {
        let fit = match memo.fits.get(&key.name) {
            Some((v, fit)) if *v == version => *fit,
            _ => {
                let fit = daemon_fit(&memo.placement, &node.facts);
                memo.fits.insert(key.name.clone(), (version, fit));
                fit
            }
        };
        result.insert(key.name.clone(), fit);
    }
    memo.fits.retain(|name, _| result.contains_key(name));
    result
}

/// The DaemonSet's pods by node. Pods that finished and are being deleted are ignored.
pub(super) fn pods_by_node<'a>(caches: &'a Caches, ds: &DaemonSetView) -> NodePods<'a> {
    let mut by_node: NodePods<'a> = BTreeMap::new();
    for pod in caches.pods.owned_by(&ds.uid) {
        if pod.is_terminal() && pod.terminating {
            continue;
        }
        by_node.entry(pod.node_name.clone().unwrap_or_default()).or_default().push(pod);
    }
    for pods in by_node.values_mut() {
        pods.sort_by(|a, b| (!a.bound, &a.created, &a.key.name).cmp(&(!b.bound, &b.created, &b.key.name)));
    }
    by_node
}

/// Creates the missing daemon pods and deletes those that should go. Returns whether it wrote.
fn manage(m: &mut Manager, ds: &DaemonSetView, hash: &str) -> Result<bool, SyncError> {
    let fits = fits(m, ds);
    let now = m.clock.now();
    let surge = ds.allows_surge();
    let mut create = Vec::new();
    let mut delete = Vec::new();
    let mut retry_after: Option<Duration> = None;
    {
        let by_node = pods_by_node(&m.caches, ds);
        let memo = m.daemonsets.by_key.entry(ds.key.clone()).or_default();
        for (node, fit) in &fits {
            let pods = by_node.get(node).map(Vec::as_slice).unwrap_or_default();
            if fit.should_run && pods.is_empty() {
                create.push(node.clone());
            } else if fit.should_continue_running {
                let mut running = Vec::new();
                for pod in pods.iter().filter(|p| !p.terminating) {
                    match pod.phase.as_str() {
                        "Failed" => match failed_pod_backoff(memo, node, now) {
                            Some(wait) => retry_after = Some(retry_after.map_or(wait, |r| r.min(wait))),
                            None => delete.push(pod.key.clone()),
                        },
                        "Succeeded" => delete.push(pod.key.clone()),
                        _ => running.push(*pod),
                    }
                }
                excess_pods(ds, hash, surge, fit.should_run, &running, now, node, &mut create, &mut delete);
            } else {
                delete.extend(pods.iter().filter(|p| !p.terminating).map(|p| p.key.clone()));
            }
        }
        // Unbound pods meant for nodes that no longer exist would wait forever.
        for (node, pods) in &by_node {
            if !fits.contains_key(node) {
                delete.extend(pods.iter().filter(|p| !p.bound && !p.terminating).map(|p| p.key.clone()));
            }
        }
    }
    if let Some(wait) = retry_after {
        m.requeue_after(WorkKey::DaemonSet(ds.key.clone()), wait);
    }
    sync_nodes(m, ds, &delete, &create, hash)
}

/// Kubernetes' rule for nodes with more than one running daemon pod.
#[allow(clippy::too_many_arguments)]
fn excess_pods(
    ds: &DaemonSetView,
    hash: &str,
    surge: bool,
    should_run: bool,
    running: &[&PodView],
    now: jiff::Timestamp,
    node: &str,
    create: &mut Vec<String>,
    delete: &mut Vec<ObjectKey>,
) {
    if !surge {
        // Keep the oldest; the others go.
        delete.extend(running.iter().skip(1).map(|p| p.key.clone()));
        return;
    }
    if running.is_empty() {
        if should_run {
            create.push(node.to_string());
        }
        return;
    }
    if running.len() == 1 {
        return;
    }
    // With surge, an old and a new pod may coexist until the new one is available.
    let (mut oldest_new, mut oldest_old) = (None, None);
    for pod in running {
        let slot = if pod.labels.get(REVISION_HASH_LABEL).is_some_and(|h| h == hash) {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(*pod);
        } else {
            delete.push(pod.key.clone());
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old)
        && (!old.ready || new.is_available(ds.min_ready_seconds, now))
    {
        delete.push(old.key.clone());
    }
}

/// Whether deleting the failed pod on `node` must wait (and how long); records the deletion
/// otherwise.
fn failed_pod_backoff(memo: &mut DaemonSetMemo, node: &str, now: jiff::Timestamp) -> Option<Duration> {
    let since = |t: jiff::Timestamp| Duration::try_from(now.duration_since(t)).unwrap_or(Duration::ZERO);
    if let Some((delay, last)) = memo.failed_backoff.get(node)
        && since(*last) < *delay
    {
        return Some(*delay - since(*last));
    }
    let next = match memo.failed_backoff.get(node) {
        Some((delay, last)) if since(*last) <= 2 * FAILED_POD_BACKOFF_MAX => (*delay * 2).min(FAILED_POD_BACKOFF_MAX),
        _ => FAILED_POD_BACKOFF_INITIAL,
    };
    memo.failed_backoff.insert(node.to_string(), (next, now));
    None
}

/// Deletes and creates pods, at most `burst_replicas` of each. Returns whether it wrote.
pub(super) fn sync_nodes(
    m: &mut Manager,
    ds: &DaemonSetView,
    delete: &[ObjectKey],
    create: &[String],
    hash: &str,
) -> Result<bool, SyncError> {
    let burst = m.config.burst_replicas.max(1);
    if create.len() > burst || delete.len() > burst {
        m.queue.add(WorkKey::DaemonSet(ds.key.clone()));
    }
    let tolerations = m.daemonsets.by_key.get(&ds.key).map(|memo| memo.placement.tolerations.clone());
    let tolerations = serde_json::to_value(tolerations.unwrap_or_default()).unwrap_or_else(|_| json!([]));
    for node in create.iter().take(burst) {
        m.create_pod(new_pod(ds, node, hash, &tolerations))?;
    }
    for key in delete.iter().take(burst) {
        m.delete_pod(key, &DeleteOptions::default())?;
    }
    Ok(!create.is_empty() || !delete.is_empty())
}

/// A daemon pod for `node` from the DaemonSet's template.
fn new_pod(ds: &DaemonSetView, node: &str, hash: &str, tolerations: &Value) -> Value {
    let template = ds.template();
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    labels[REVISION_HASH_LABEL] = json!(hash);
    let generation = ds.template_generation.unwrap_or(ds.generation);
    labels[TEMPLATE_GENERATION_LABEL] = json!(generation.to_string());
    let mut metadata = json!({
        "generateName": format!("{}-", ds.key.name),
        "namespace": ds.key.namespace,
        "labels": labels,
        "ownerReferences": [controller_ref(&ds.obj, "apps/v1", "DaemonSet")],
    });
    if let Some(annotations) = template.pointer("/metadata/annotations") {
        metadata["annotations"] = annotations.clone();
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["tolerations"] = tolerations.clone();
    let pin =
        json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]});
    if !spec.get("affinity").is_some_and(Value::is_object) {
        spec["affinity"] = json!({});
    }
    if !spec["affinity"].get("nodeAffinity").is_some_and(Value::is_object) {
        spec["affinity"]["nodeAffinity"] = json!({});
    }
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = pin;
    spec["nodeName"] = json!(node);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

#[cfg(test)]
mod tests;
