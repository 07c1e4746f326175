//! Scaling ReplicaSets during a rollout, by Kubernetes' rules: the new ReplicaSet grows while
//! all pods together stay within `replicas + maxSurge`; old ones shrink while available pods
//! stay at least `replicas - maxUnavailable`, unhealthy old pods first.

use std::sync::Arc;

use serde_json::Value;

use super::super::{Manager, SyncError};
use super::{DeploymentView, scale, scale_old, spec_replicas, status_field};

/// The new ReplicaSet's replicas given `others` replicas in the other sets and its `current`.
pub(super) fn new_rs_replicas(d: &DeploymentView, others: i64, current: i64) -> i64 {
    let max_total = d.replicas + d.max_surge;
    let total = others + current;
    if total >= max_total {
        return current;
    }
    current + (max_total - total).min(d.replicas - current).max(0)
}

/// Grows (or shrinks, when above `replicas`) the new ReplicaSet. Returns whether it scaled,
/// and the set's current state.
pub(super) fn reconcile_new(
    m: &mut Manager,
    d: &DeploymentView,
    rs: &Arc<Value>,
    old: &[Arc<Value>],
) -> Result<(bool, Arc<Value>), SyncError> {
    let current = spec_replicas(rs);
    let wanted = if current >= d.replicas {
        d.replicas
    } else {
        new_rs_replicas(d, old.iter().map(|r| spec_replicas(r)).sum(), current)
    };
    let written = scale(m, d, rs, wanted)?;
    Ok((wanted != current, written))
}

/// Shrinks old ReplicaSets as far as availability allows. Returns whether it scaled.
pub(super) fn reconcile_old(
    m: &mut Manager,
    d: &DeploymentView,
    new_rs: &Arc<Value>,
    old: &[Arc<Value>],
) -> Result<bool, SyncError> {
    let mut old: Vec<Arc<Value>> = old.iter().filter(|rs| spec_replicas(rs) > 0).cloned().collect();
    if old.is_empty() {
        return Ok(false);
    }
    let all_pods: i64 = old.iter().map(|rs| spec_replicas(rs)).sum::<i64>() + spec_replicas(new_rs);
    let min_available = d.replicas - d.max_unavailable;
    let new_unavailable = spec_replicas(new_rs) - status_field(new_rs, "availableReplicas");
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(false);
    }
    // Unhealthy replicas first: they would block the rollout and serve nobody.
    let mut cleaned = 0;
    for rs in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = spec_replicas(rs) - status_field(rs, "availableReplicas");
        if unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down - cleaned);
        scale_old(m, rs, spec_replicas(rs) - down)?;
        if let Some(fresh) = m.caches.replicasets.get(&crate::store::ObjectKey::of(rs)) {
            *rs = fresh.clone();
        }
        cleaned += down;
    }
    // Then healthy ones, keeping enough available.
    let available: i64 = old.iter().map(|rs| status_field(rs, "availableReplicas")).sum::<i64>()
        + status_field(new_rs, "availableReplicas");
    let mut scaled = cleaned;
    if available > min_available {
        let mut budget = available - min_available;
        for rs in old.iter() {
            if budget <= 0 {
                break;
            }
            let down = spec_replicas(rs).min(budget);
            if down > 0 {
                scale_old(m, rs, spec_replicas(rs) - down)?;
                budget -= down;
                scaled += down;
            }
        }
    }
    Ok(scaled > 0)
}

/// `Recreate`: every old ReplicaSet to zero. Returns whether any was scaled.
pub(super) fn scale_old_to_zero(m: &mut Manager, old: &[Arc<Value>]) -> Result<bool, SyncError> {
    let mut scaled = false;
    for rs in old.iter().filter(|rs| spec_replicas(rs) > 0) {
        scale_old(m, rs, 0)?;
        scaled = true;
    }
    Ok(scaled)
}
