//! One set of Events through both Event APIs. A real API server stores an Event once and serves
//! it as core/v1 (`involvedObject`, `message`: what `kubectl describe` reads) and as
//! events.k8s.io/v1 (`regarding`, `note`: what kube-rs's recorder writes). The simulator stores
//! the two apart, so this task mirrors each Event into the other API, converting the fields;
//! mirrored copies carry [`MIRRORED`] and are not mirrored back.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::resources::GroupResource;
use crate::store::{DeleteOptions, EventType, ObjectKey, Part, Store, WatchEvent};

/// Annotation on a mirrored copy, naming the API it was copied from.
pub const MIRRORED: &str = "kip-sim.dev/mirrored-from";

fn core() -> GroupResource {
    GroupResource::core("events")
}

fn events_api() -> GroupResource {
    GroupResource::new("events.k8s.io", "events")
}

/// Mirrors Events between the two APIs until `shutdown`.
pub async fn run(store: Arc<Store>, shutdown: CancellationToken) {
    let mut live = store.subscribe();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = live.recv() => event,
        };
        match event {
            Ok(event) => mirror(&store, &event),
            // Missed events are lost for the mirror only; Events are best effort anyway.
            Err(RecvError::Lagged(missed)) => debug!(missed, "the event mirror fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Applies one store event to the other API.
pub fn mirror(store: &Store, event: &WatchEvent) {
    let (target, convert): (GroupResource, fn(&Value) -> Value) = if event.resource == core() {
        (events_api(), core_to_events_api)
    } else if event.resource == events_api() {
        (core(), events_api_to_core)
    } else {
        return;
    };
    if event.object.pointer(&format!("/metadata/annotations/{}", MIRRORED.replace('/', "~1"))).is_some() {
        return;
    }
    let key = ObjectKey::of(&event.object);
    let result = match event.event_type {
        EventType::Deleted => store.delete(&target, &key, &DeleteOptions::default()).map(|_| ()),
        EventType::Added | EventType::Modified => {
            let copy = convert(&event.object);
            match store.get(&target, &key) {
                None => store.create(&target, copy).map(|_| ()),
                Some(_) => {
                    store.write(&target, &key, Part::Main, |current| Ok(with_identity(copy, current))).map(|_| ())
                }
            }
        }
    };
    if let Err(err) = result {
        debug!(error = %err, name = %key.name, "could not mirror an Event");
    }
}

/// The copy keeps the stored object's identity (uid, resourceVersion are the store's).
fn with_identity(mut copy: Value, current: &Value) -> Value {
    for field in ["uid", "creationTimestamp", "resourceVersion"] {
        if let Some(value) = current.pointer(&format!("/metadata/{field}")) {
            copy["metadata"][field] = value.clone();
        }
    }
    copy
}

fn metadata(source: &Value, from: &str) -> Value {
    let mut meta = Map::new();
    for field in ["name", "namespace", "labels"] {
        if let Some(value) = source.pointer(&format!("/metadata/{field}")) {
            meta.insert(field.into(), value.clone());
        }
    }
    let mut annotations =
        source.pointer("/metadata/annotations").and_then(Value::as_object).cloned().unwrap_or_default();
    annotations.insert(MIRRORED.into(), json!(from));
    meta.insert("annotations".into(), Value::Object(annotations));
    Value::Object(meta)
}

/// Copies the fields present in `source` under their names in the other API.
fn copy_fields(source: &Value, target: &mut Map<String, Value>, fields: &[(&str, &str)]) {
    for (from, to) in fields {
        if let Some(value) = source.pointer(from).filter(|v| !v.is_null()) {
            target.insert((*to).to_string(), value.clone());
        }
    }
}

/// events.k8s.io/v1 -> core/v1.
pub fn events_api_to_core(event: &Value) -> Value {
    let mut core = Map::new();
    core.insert("apiVersion".into(), json!("v1"));
    core.insert("kind".into(), json!("Event"));
    core.insert("metadata".into(), metadata(event, "events.k8s.io/v1"));
    copy_fields(
        event,
        &mut core,
        &[
            ("/regarding", "involvedObject"),
            ("/related", "related"),
            ("/reason", "reason"),
            ("/note", "message"),
            ("/type", "type"),
            ("/action", "action"),
            ("/eventTime", "eventTime"),
            ("/reportingController", "reportingComponent"),
            ("/reportingInstance", "reportingInstance"),
            ("/deprecatedSource", "source"),
            ("/deprecatedFirstTimestamp", "firstTimestamp"),
            ("/deprecatedLastTimestamp", "lastTimestamp"),
            ("/deprecatedCount", "count"),
            ("/series/count", "count"),
            ("/series/lastObservedTime", "lastTimestamp"),
        ],
    );
    if !core.contains_key("source")
        && let Some(controller) = event.get("reportingController")
    {
        core.insert("source".into(), json!({"component": controller}));
    }
    Value::Object(core)
}

/// core/v1 -> events.k8s.io/v1.
pub fn core_to_events_api(event: &Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    out.insert("kind".into(), json!("Event"));
    out.insert("metadata".into(), metadata(event, "v1"));
    copy_fields(
        event,
        &mut out,
        &[
            ("/involvedObject", "regarding"),
            ("/related", "related"),
            ("/reason", "reason"),
            ("/message", "note"),
            ("/type", "type"),
            ("/action", "action"),
            ("/eventTime", "eventTime"),
            ("/reportingComponent", "reportingController"),
            ("/reportingInstance", "reportingInstance"),
            ("/source", "deprecatedSource"),
            ("/firstTimestamp", "deprecatedFirstTimestamp"),
            ("/lastTimestamp", "deprecatedLastTimestamp"),
            ("/count", "deprecatedCount"),
        ],
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn recorder_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "kip.1", "namespace": "default"},
            "regarding": {"kind": "DaemonSet", "name": "puller", "namespace": "default", "apiVersion": "apps/v1"},
            "reason": "Created", "note": "DaemonSet applied", "type": "Normal", "action": "Apply",
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "kip", "reportingInstance": "kip-1",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:01:00.000000Z"}
        })
    }

    #[test]
    fn recorder_events_read_as_core_events() {
        let core = events_api_to_core(&recorder_event());
        assert_eq!(core["involvedObject"]["name"], "puller");
        assert_eq!(core["message"], "DaemonSet applied");
        assert_eq!(core["count"], 3);
        assert_eq!(core["lastTimestamp"], "2026-01-01T00:01:00.000000Z");
        assert_eq!(core["source"]["component"], "kip");
        assert_eq!(core["metadata"]["annotations"][MIRRORED], "events.k8s.io/v1");
    }

    #[test]
    fn core_events_read_as_recorder_events() {
        let back = core_to_events_api(&events_api_to_core(&recorder_event()));
        for field in ["regarding", "reason", "note", "type", "action", "reportingController", "reportingInstance"] {
            assert_eq!(back[field], recorder_event()[field], "{field}");
        }
    }

    #[test]
    fn the_store_mirrors_both_ways_without_looping() {
        let store = Store::new(StoreOptions::default());
        store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": "default"}})).expect("ns");
        let mut live = store.subscribe();
        store.create(&events_api(), recorder_event()).expect("event");
        let mut mirrored = 0;
        while let Ok(event) = live.try_recv() {
            mirror(&store, &event);
            mirrored += 1;
        }
        assert_eq!(mirrored, 2, "the original and its copy, and no copy of the copy");
        let copy = store.get(&core(), &ObjectKey::new("default", "kip.1")).expect("mirrored");
        assert_eq!(copy["involvedObject"]["kind"], "DaemonSet");
        store.delete(&events_api(), &ObjectKey::new("default", "kip.1"), &DeleteOptions::default()).expect("delete");
        while let Ok(event) = live.try_recv() {
            mirror(&store, &event);
        }
        assert!(store.get(&core(), &ObjectKey::new("default", "kip.1")).is_none(), "deletions follow");
    }
}
