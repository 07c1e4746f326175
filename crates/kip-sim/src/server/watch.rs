//! watch: one JSON event per line, flushed as it happens, as the API server's watch cache sends
//! them. Synthetic ADDED events for the current state when no resourceVersion is given, replay
//! from the history for a given one (410 as an ERROR event when it is too old), BOOKMARKs,
//! the streaming-list end bookmark, selectors with the ADDED/DELETED transitions of objects that
//! start or stop matching, and the ways a watch ends (timeout, client gone, lag, dropped by a
//! fault, shutdown).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::encode::Response;
use super::negotiate::Output;
use super::read::Selectors;
use super::table::{IncludeObject, TableBuilder, partial_metadata};
use super::{ApiRequest, ServerState};
use crate::error::ApiError;
use crate::resources::{GroupResource, ResourceType};
use crate::store::{EventType, WatchEvent, meta_str};

/// Serialized objects by resourceVersion, shared by all watches: a version of an object is
/// serialized once however many watchers receive it.
pub struct EncodedEvents {
    cache: Mutex<(HashMap<u64, Bytes>, VecDeque<u64>)>,
    capacity: usize,
}

impl Default for EncodedEvents {
    fn default() -> Self {
        EncodedEvents { cache: Mutex::new((HashMap::new(), VecDeque::new())), capacity: 4096 }
    }
}

impl EncodedEvents {
    fn get(&self, obj: &Value) -> Bytes {
        let Some(rv) = meta_str(obj, "resourceVersion").and_then(|s| s.parse::<u64>().ok()) else {
            return Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
        };
        if let Some(bytes) = self.cache.lock().0.get(&rv) {
            return bytes.clone();
        }
        let bytes = Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
        let mut cache = self.cache.lock();
        let (map, order) = &mut *cache;
        if map.insert(rv, bytes.clone()).is_none() {
            order.push_back(rv);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        bytes
    }
}

/// How each event's object is written.
struct Encoder {
    output: Output,
    table: Option<TableBuilder>,
    kind: String,
    api_version: String,
}

impl Encoder {
    fn new(rt: &ResourceType, output: Output, include: IncludeObject) -> Self {
        let table = (output == Output::Table).then(|| TableBuilder::new(rt, include));
        Encoder { output, table, kind: rt.kind.clone(), api_version: rt.api_version() }
    }

    fn event(&self, cache: &EncodedEvents, event_type: &str, obj: &Value) -> Bytes {
        let object = match (self.output, &self.table) {
            (Output::Table, Some(table)) => {
                let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
                Bytes::from(
                    serde_json::to_vec(&table.table(vec![table.row(obj)], json!({"resourceVersion": rv})))
                        .unwrap_or_default(),
                )
            }
            (Output::Metadata, _) => Bytes::from(serde_json::to_vec(&partial_metadata(obj)).unwrap_or_default()),
            _ => cache.get(obj),
        };
        let mut line = Vec::with_capacity(object.len() + 32);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(event_type.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        line.extend_from_slice(&object);
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    }

    fn bookmark(&self, resource_version: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let event = json!({
            "type": "BOOKMARK",
            "object": {"kind": self.kind, "apiVersion": self.api_version, "metadata": metadata},
        });
        line(&event)
    }
}

fn line(event: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(event).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Where a watch starts.
enum Start {
    /// Synthetic ADDED events for these objects (at `resource_version`), then live events.
    Snapshot { objects: Vec<Arc<Value>>, resource_version: u64, end_bookmark: bool },
    /// Events from the history, then live events.
    Replay { events: Vec<Arc<WatchEvent>>, resource_version: u64 },
}

/// What one watch filters on.
struct Filter {
    resource: GroupResource,
    namespace: Option<String>,
    selectors: Selectors,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.selectors.matches(obj)
    }

    /// The event this watcher sees for a store event, if any, with the watch cache's rules for
    /// objects entering and leaving the selection.
    fn translate(&self, event: &WatchEvent) -> Option<(&'static str, Arc<Value>)> {
        if event.resource != self.resource {
            return None;
        }
        if let Some(ns) = &self.namespace
            && meta_str(&event.object, "namespace") != Some(ns.as_str())
        {
            return None;
        }
        match event.event_type {
            EventType::Added => self.matches(&event.object).then(|| ("ADDED", event.object.clone())),
            EventType::Deleted => self.matches(&event.object).then(|| ("DELETED", event.object.clone())),
            EventType::Modified => {
                let now = self.matches(&event.object);
                let before = event.previous.as_deref().is_none_or(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some(("MODIFIED", event.object.clone())),
                    (false, true) => Some(("ADDED", event.object.clone())),
                    (true, false) => {
                        // The object left the selection: it is deleted for this watcher, as it
                        // was before, at the event's resourceVersion.
                        let mut last = event.previous.as_deref().cloned().unwrap_or_else(|| (*event.object).clone());
                        crate::store::set_meta(&mut last, "resourceVersion", json!(event.resource_version.to_string()));
                        Some(("DELETED", Arc::new(last)))
                    }
                    (false, false) => None,
                }
            }
        }
    }
}

pub fn watch(state: &Arc<ServerState>, req: &ApiRequest) -> Result<Response, ApiError> {
    let selectors = Selectors::from_request(req)?;
    let bookmarks = req.query.flag("allowWatchBookmarks")?;
    let send_initial = req.query.flag("sendInitialEvents")?;
    let rv_match = req.query.non_empty("resourceVersionMatch");
    if send_initial && rv_match != Some("NotOlderThan") {
        return Err(ApiError::bad_request(
            "sendInitialEvents is forbidden unless resourceVersionMatch is \"NotOlderThan\"",
        ));
    }
    if !send_initial && rv_match.is_some() {
        return Err(ApiError::bad_request("resourceVersionMatch is forbidden for watch"));
    }
    let timeout = req.query.integer("timeoutSeconds")?.filter(|t| *t > 0).map(|t| Duration::from_secs(t as u64));
    let gr = req.group_resource();
    let encoder = Encoder::new(&req.rt, req.output, req.include);
    let (start, live) = match req.query.resource_version()? {
        Some(rv) if !send_initial => match state.store.watch_from(rv) {
            Ok(w) => (Start::Replay { events: w.replay, resource_version: rv }, w.live),
            // The API server accepts the watch, then sends the 410 as an ERROR event and ends it.
            Err(err) => return Ok(single_event(line(&json!({"type": "ERROR", "object": err.to_status()})))),
        },
        _ => {
            let snapshot = state.store.snapshot(&gr, req.namespace());
            let start = Start::Snapshot {
                objects: snapshot.objects,
                resource_version: snapshot.resource_version,
                end_bookmark: send_initial,
            };
            (start, snapshot.live)
        }
    };
    let filter = Filter { resource: gr, namespace: req.namespace().map(String::from), selectors };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let task = WatchTask {
        state: state.clone(),
        encoder,
        filter,
        tx,
        bookmark_interval: bookmarks.then_some(state.options.bookmark_interval),
        timeout,
    };
    tokio::spawn(task.run(start, live));
    let mut response = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(response)
}

fn single_event(bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

struct WatchTask {
    state: Arc<ServerState>,
    encoder: Encoder,
    filter: Filter,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    bookmark_interval: Option<Duration>,
    timeout: Option<Duration>,
}

impl WatchTask {
    async fn send(&self, bytes: Bytes) -> bool {
        self.tx.send(Ok(bytes)).await.is_ok()
    }

    async fn run(self, start: Start, mut live: broadcast::Receiver<Arc<WatchEvent>>) {
        let mut last_rv = match start {
            Start::Snapshot { objects, resource_version, end_bookmark } => {
                for obj in objects.iter().filter(|o| self.filter.matches(o)) {
                    if !self.send(self.encoder.event(&self.state.encoded, "ADDED", obj)).await {
                        return;
                    }
                }
                if end_bookmark && !self.send(self.encoder.bookmark(resource_version, true)).await {
                    return;
                }
                resource_version
            }
            Start::Replay { events, resource_version } => {
                let mut last = resource_version;
                for event in &events {
                    last = event.resource_version;
                    if !self.forward(event).await {
                        return;
                    }
                }
                last
            }
        };
        let mut drops = self.state.faults.watch_drops();
        drops.mark_unchanged();
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let period = self.bookmark_interval.unwrap_or(Duration::from_secs(3600));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = self.tx.closed() => return,
                _ = self.state.shutdown.cancelled() => return,
                _ = drops.changed() => return,
                _ = sleep_until(deadline) => return,
                _ = ticks.tick(), if self.bookmark_interval.is_some() => {
                    if !self.send(self.encoder.bookmark(last_rv, false)).await {
                        return;
                    }
                }
                received = live.recv() => match received {
                    Ok(event) => {
                        // Events the replay already sent come again on the live channel.
                        if event.resource_version <= last_rv {
                            continue;
                        }
                        last_rv = event.resource_version;
                        if !self.forward(&event).await {
                            return;
                        }
                    }
                    // Lagged: events were lost, so the stream ends and the client resumes.
                    Err(_) => return,
                },
            }
        }
    }

    async fn forward(&self, event: &WatchEvent) -> bool {
        match self.filter.translate(event) {
            Some((event_type, obj)) => self.send(self.encoder.event(&self.state.encoded, event_type, &obj)).await,
            None => true,
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
