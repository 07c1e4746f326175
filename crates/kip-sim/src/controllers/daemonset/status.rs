//! DaemonSet status: the counts `kubectl rollout status` and kip read, computed from the cache
//! and written only when they change.

use serde_json::{Value, json};

use super::super::{DAEMONSETS, Manager, SyncError, WorkKey};
use super::{DaemonSetView, fits, pods_by_node};
use crate::error::ApiError;
use crate::store::{Part, meta_str};

/// The counts of a DaemonSet's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub desired: i64,
    pub current: i64,
    pub misscheduled: i64,
    pub ready: i64,
    pub updated: i64,
    pub available: i64,
    pub unavailable: i64,
}

impl Counts {
    fn of_status(status: &Value) -> Self {
        let field = |name: &str| status.get(name).and_then(Value::as_i64).unwrap_or(0);
        Counts {
            desired: field("desiredNumberScheduled"),
            current: field("currentNumberScheduled"),
            misscheduled: field("numberMisscheduled"),
            ready: field("numberReady"),
            updated: field("updatedNumberScheduled"),
            available: field("numberAvailable"),
            unavailable: field("numberUnavailable"),
        }
    }
}

/// Counts for the DaemonSet as the cache shows it now. Each node counts its oldest pod.
pub(super) fn counts(m: &mut Manager, ds: &DaemonSetView, hash: &str) -> Counts {
    let fits = fits(m, ds);
    let now = m.clock.now();
    let by_node = pods_by_node(&m.caches, ds);
    let mut c = Counts::default();
    for (node, fit) in &fits {
        let pod = by_node.get(node).and_then(|pods| pods.first());
        match (fit.should_run, pod) {
            (true, None) => c.desired += 1,
            (true, Some(pod)) => {
                c.desired += 1;
                c.current += 1;
                if pod.ready {
                    c.ready += 1;
                    if pod.is_available(ds.min_ready_seconds, now) {
                        c.available += 1;
                    }
                }
                if ds.is_updated(pod, hash) {
                    c.updated += 1;
                }
            }
            (false, Some(_)) => c.misscheduled += 1,
            (false, None) => {}
        }
    }
    c.unavailable = c.desired - c.available;
    c
}

pub(super) fn update(m: &mut Manager, ds: &DaemonSetView, hash: &str) -> Result<(), SyncError> {
    let counts = counts(m, ds, hash);
    let status = ds.obj.get("status").unwrap_or(&Value::Null);
    let observed = status.get("observedGeneration").and_then(Value::as_i64).unwrap_or(0);
    if counts != Counts::of_status(status) || observed < ds.generation {
        let (uid, generation) = (ds.uid.clone(), ds.generation);
        let written = m.store.modify(&DAEMONSETS, &ds.key, Part::Status, |obj| {
            if meta_str(obj, "uid") != Some(uid.as_str()) {
                return Err(ApiError::new(409, "Conflict", "the DaemonSet was replaced"));
            }
            write_counts(obj, &counts, generation);
            Ok(())
        })?;
        super::super::cache::remember(&mut m.caches.daemonsets, &written);
    }
    // Availability comes with time alone: look again once the oldest ready pod qualifies.
    if ds.min_ready_seconds > 0 && counts.ready != counts.available {
        m.requeue_after(
            WorkKey::DaemonSet(ds.key.clone()),
            std::time::Duration::from_secs(ds.min_ready_seconds.unsigned_abs()),
        );
    }
    Ok(())
}

/// Sets the counts as the API serializes them: the four required fields always, the optional
/// ones only when not zero. Other status fields (collisionCount, conditions) stay.
fn write_counts(obj: &mut Value, c: &Counts, generation: i64) {
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let status = &mut obj["status"];
    status["observedGeneration"] = json!(generation);
    status["desiredNumberScheduled"] = json!(c.desired);
    status["currentNumberScheduled"] = json!(c.current);
    status["numberMisscheduled"] = json!(c.misscheduled);
    status["numberReady"] = json!(c.ready);
    for (name, value) in
        [("updatedNumberScheduled", c.updated), ("numberAvailable", c.available), ("numberUnavailable", c.unavailable)]
    {
        if value == 0 {
            if let Some(o) = status.as_object_mut() {
                o.remove(name);
            }
        } else {
            status[name] = json!(value);
        }
    }
}
