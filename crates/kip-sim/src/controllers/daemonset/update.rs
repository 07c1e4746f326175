//! DaemonSet `RollingUpdate`, after Kubernetes' rules.
//!
//! Without surge, old pods are deleted only while fewer than `maxUnavailable` nodes lack an
//! available pod (a node whose old pod is unavailable anyway may always be replaced), and the
//! core loop creates the new pods. With surge, a new pod is created next to an available old
//! one on at most `maxSurge` nodes at a time, and the old pod goes once the new one is
//! available. Pods being deleted do not count as unavailable, so updates progress past nodes
//! that are down.

use super::super::cache::PodView;
use super::super::rollout::daemonset_limits;
use super::super::{Manager, SyncError};
use super::{DaemonSetView, fits, pods_by_node, sync_nodes};
use crate::store::ObjectKey;

/// The new and the old pod of a node, ignoring pods being deleted. `None` when the node has
/// more than one of either: the core loop prunes it first.
fn new_and_old<'a>(
    ds: &DaemonSetView,
    pods: &[&'a PodView],
    hash: &str,
) -> Option<(Option<&'a PodView>, Option<&'a PodView>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|p| !p.terminating) {
        let slot = if ds.is_updated(pod, hash) { &mut new } else { &mut old };
        if slot.replace(*pod).is_some() {
            return None;
        }
    }
    Some((new, old))
}

pub(super) fn rolling_update(m: &mut Manager, ds: &DaemonSetView, hash: &str) -> Result<(), SyncError> {
    let fits = fits(m, ds);
    let desired = fits.values().filter(|f| f.should_run).count() as i64;
    let (max_surge, max_unavailable) = daemonset_limits(ds.update_strategy(), desired)
        .map_err(|e| SyncError::Invalid(format!("DaemonSet {}/{}: {e}", ds.key.namespace, ds.key.name)))?;
    let now = m.clock.now();
    let available = |pod: &PodView| pod.is_available(ds.min_ready_seconds, now);
    let mut by_node = pods_by_node(&m.caches, ds);
    for (node, fit) in &fits {
        if fit.should_run {
            by_node.entry(node.clone()).or_default();
        }
    }
    let should_run = |node: &str| fits.get(node).is_some_and(|f| f.should_run);

    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace: Vec<ObjectKey> = Vec::new();
        let mut candidates: Vec<ObjectKey> = Vec::new();
        for pods in by_node.values() {
            match new_and_old(ds, pods, hash) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !available(old) {
                        replace.push(old.key.clone());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.key.clone());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).clamp(0, candidates.len() as i64) as usize;
        replace.extend(candidates.into_iter().take(room));
        drop(by_node);
        sync_nodes(m, ds, &replace, &[], hash)?;
        return Ok(());
    }

    let mut delete: Vec<ObjectKey> = Vec::new();
    let mut off_schedule: Vec<ObjectKey> = Vec::new();
    let mut allowed_nodes: Vec<String> = Vec::new();
    let mut candidate_nodes: Vec<String> = Vec::new();
    let (mut surging, mut available_count) = (0, 0);
    for (node, pods) in &by_node {
        let Some((new, old)) = new_and_old(ds, pods, hash) else {
            surging += 1;
            continue;
        };
        if let Some(pod) = old.or(new)
            && available(pod)
        {
            available_count += 1;
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !available(old) => {
                if should_run(node) {
                    allowed_nodes.push(node.clone());
                } else {
                    delete.push(old.key.clone());
                }
            }
            (None, Some(old)) => {
                if !should_run(node) {
                    off_schedule.push(old.key.clone());
                } else if surging < max_surge {
                    candidate_nodes.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    delete.push(old.key.clone());
                } else {
                    surging += 1;
                }
            }
        }
    }
    // Pods on nodes the DaemonSet no longer wants go only while enough others are available.
    let deletable = (available_count - desired).clamp(0, off_schedule.len() as i64) as usize;
    delete.extend(off_schedule.into_iter().take(deletable));
    let room = (max_surge - surging).clamp(0, candidate_nodes.len() as i64) as usize;
    allowed_nodes.extend(candidate_nodes.into_iter().take(room));
    drop(by_node);
    sync_nodes(m, ds, &delete, &allowed_nodes, hash)?;
    Ok(())
}
