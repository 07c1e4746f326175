//! The object store: every object of every served type, one global resourceVersion, and the
//! event history that watches replay from.
//!
//! The store applies the write semantics that every client relies on, whoever writes (the HTTP
//! API or the simulator's own controllers): uid, creationTimestamp and generateName on create;
//! optimistic concurrency; a write that changes nothing is a no-op (no new resourceVersion, no
//! event); generation bumps only when something outside metadata and status changes; a main
//! write keeps the stored status and a status write keeps everything else; deletion waits for
//! finalizers. Defaulting and validation are delegated to [`crate::admission`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::admission;
use crate::error::ApiError;
use crate::machinery::strategy;
use crate::resources::{GroupResource, Registry, ResourceType};

/// Where an object lives within its type: namespace (empty for cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey { namespace: namespace.to_string(), name: name.to_string() }
    }
    pub fn cluster(name: &str) -> Self {
        Self::new("", name)
    }
    pub fn of(obj: &Value) -> Self {
        Self::new(meta_str(obj, "namespace").unwrap_or(""), meta_str(obj, "name").unwrap_or(""))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object. `object` is the state after the change (for `Deleted`, the last
/// state, carrying the deletion's resourceVersion); `previous` the state before, if any.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub resource_version: u64,
    pub resource: GroupResource,
    pub event_type: EventType,
    pub object: Arc<Value>,
    pub previous: Option<Arc<Value>>,
}

/// Which part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status` (for types with a status subresource).
    Main,
    /// Only `status`.
    Status,
}

/// `propagationPolicy` of a DELETE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    /// `gracePeriodSeconds`; for pods bound to a node, a positive grace leaves the kubelet to
    /// finish the deletion.
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// What a DELETE did.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Arc<Value>),
    /// The object waits for finalizers (or a kubelet); this is its state now.
    Terminating(Arc<Value>),
}

/// A watch starting point: the events after a resourceVersion, plus live ones.
pub struct Watch {
    /// Events already in the history, in order.
    pub replay: Vec<Arc<WatchEvent>>,
    /// Live events, all types; the receiver filters. A `Lagged` error means events were lost and
    /// the watch must end (the client then resumes or relists, as with a real API server).
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
}

/// A consistent list: the objects and the resourceVersion they were read at, plus a live
/// receiver subscribed at that same instant (for list-then-watch without gaps).
pub struct Snapshot {
    pub objects: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
}

#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How many events the history keeps for watches that resume; older resourceVersions get
    /// 410 Expired.
    pub history_limit: usize,
    /// Capacity of the live event channel; a watcher that falls further behind is cut off.
    pub live_capacity: usize,
    pub openshift: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { history_limit: 4096, live_capacity: 65536, openshift: false }
    }
}

struct Inner {
    resource_version: u64,
    objects: HashMap<GroupResource, BTreeMap<ObjectKey, Arc<Value>>>,
    history: VecDeque<Arc<WatchEvent>>,
    history_limit: usize,
    /// The highest resourceVersion whose event has left the history.
    compacted: u64,
}

pub struct Store {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<WatchEvent>>,
    registry: RwLock<Registry>,
}

impl Store {
    pub fn new(options: StoreOptions) -> Self {
        let (live, _) = broadcast::channel(options.live_capacity.max(16));
        Store {
            inner: Mutex::new(Inner {
                resource_version: 1,
                objects: HashMap::new(),
                history: VecDeque::new(),
                history_limit: options.history_limit.max(1),
                compacted: 0,
            }),
            live,
            registry: RwLock::new(Registry::new(options.openshift)),
        }
    }

    pub fn registry(&self) -> parking_lot::RwLockReadGuard<'_, Registry> {
        self.registry.read()
    }

    pub fn registry_mut(&self) -> parking_lot::RwLockWriteGuard<'_, Registry> {
        self.registry.write()
    }

    pub fn resource_type(&self, gr: &GroupResource) -> Result<ResourceType, ApiError> {
        self.registry.read().get(gr).cloned().ok_or_else(|| {
            ApiError::not_found(&gr.group, &gr.resource, "")
                .with_message(format!("the server could not find the requested resource ({gr})"))
        })
    }

    pub fn current_resource_version(&self) -> u64 {
        self.inner.lock().resource_version
    }

    /// The oldest resourceVersion a watch may still resume from.
    pub fn oldest_resumable(&self) -> u64 {
        self.inner.lock().compacted
    }

    pub fn get(&self, gr: &GroupResource, key: &ObjectKey) -> Option<Arc<Value>> {
        self.inner.lock().objects.get(gr).and_then(|m| m.get(key)).cloned()
    }

    /// All objects of a type (in one namespace, or all with `None`), ordered by namespace and name.
    pub fn list(&self, gr: &GroupResource, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.inner.lock();
        (list_locked(&inner, gr, namespace), inner.resource_version)
    }

    /// A list and a live subscription taken at the same instant.
    pub fn snapshot(&self, gr: &GroupResource, namespace: Option<&str>) -> Snapshot {
        let inner = self.inner.lock();
        Snapshot {
            objects: list_locked(&inner, gr, namespace),
            resource_version: inner.resource_version,
            live: self.live.subscribe(),
        }
    }

    /// Every event after `since`, then live events. Fails with 410 Expired when the history no
    /// longer holds all events after `since`.
    pub fn watch_from(&self, since: u64) -> Result<Watch, ApiError> {
        let inner = self.inner.lock();
        if since < inner.compacted {
            return Err(ApiError::expired(format!("too old resource version: {since} ({})", inner.compacted + 1)));
        }
        let replay = inner.history.iter().filter(|e| e.resource_version > since).cloned().collect();
        Ok(Watch { replay, live: self.live.subscribe() })
    }

    /// Live events only, for in-process controllers.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.live.subscribe()
    }

    pub fn create(&self, gr: &GroupResource, mut obj: Value) -> Result<Arc<Value>, ApiError> {
        let rt = self.resource_type(gr)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the request body is not a JSON object"));
        }
        prepare_for_create(&rt, &mut obj)?;
        admission::default(&rt, &mut obj);
        check_valid(&rt, &obj, None)?;
        let key = ObjectKey::of(&obj);
        let mut inner = self.inner.lock();
        if rt.namespaced {
            check_namespace_accepts(&inner, &key.namespace)?;
        }
        if inner.objects.get(gr).is_some_and(|m| m.contains_key(&key)) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &key.name));
        }
        let rv = next_rv(&mut inner);
        set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
        let obj = Arc::new(obj);
        inner.objects.entry(gr.clone()).or_default().insert(key, obj.clone());
        self.record(&mut inner, gr, EventType::Added, obj.clone(), None);
        Ok(obj)
    }

    /// A PUT: replaces the object (or its status). A non-empty `metadata.resourceVersion` must
    /// match the stored one.
    pub fn update(&self, gr: &GroupResource, obj: Value, part: Part) -> Result<Arc<Value>, ApiError> {
        let key = ObjectKey::of(&obj);
        let expected_rv = meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty()).map(String::from);
        let expected_uid = meta_str(&obj, "uid").filter(|s| !s.is_empty()).map(String::from);
        self.write(gr, &key, part, |current| {
            if expected_rv.as_deref().is_some_and(|rv| Some(rv) != meta_str(current, "resourceVersion")) {
                return Err(ApiError::stale(&gr.group, &gr.resource, &key.name));
            }
            if expected_uid.as_deref().is_some_and(|uid| Some(uid) != meta_str(current, "uid")) {
                return Err(ApiError::conflict(
                    &gr.group,
                    &gr.resource,
                    &key.name,
                    "Precondition failed: UID in precondition does not match the UID in record",
                ));
            }
            Ok(obj)
        })
    }

    /// Read, change and write one object atomically (no conflict is possible). The closure gets
    /// a copy of the stored object; the usual write semantics apply to what it leaves.
    pub fn modify(
        &self,
        gr: &GroupResource,
        key: &ObjectKey,
        part: Part,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        self.write(gr, key, part, |current| {
            let mut next = current.clone();
            change(&mut next)?;
            Ok(next)
        })
    }

    /// The write path shared by update, modify and patch: `build` turns the stored object into
    /// the proposed one, under the store lock.
    pub fn write(
        &self,
        gr: &GroupResource,
        key: &ObjectKey,
        part: Part,
        build: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = self.resource_type(gr)?;
        let mut inner = self.inner.lock();
        let current = inner
            .objects
            .get(gr)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &key.name))?;
        let proposed = build(&current)?;
        if !proposed.is_object() {
            return Err(ApiError::bad_request("the request body is not a JSON object"));
        }
        if ObjectKey::of(&proposed) != *key {
            return Err(ApiError::bad_request(format!(
                "the name or namespace of the object ({}/{}) does not match the request ({}/{})",
                meta_str(&proposed, "namespace").unwrap_or(""),
                meta_str(&proposed, "name").unwrap_or(""),
                key.namespace,
                key.name
            )));
        }
        let mut next = merge_parts(&rt, &current, proposed, part);
        if part == Part::Main {
            admission::default(&rt, &mut next);
            check_valid(&rt, &next, Some(&current))?;
        }
        if rt.generation && spec_changed(&current, &next) {
            let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            set_meta(&mut next, "generation", json!(generation + 1));
        }
        // A write that changes nothing is not a write.
        if same_ignoring_managed_fields(&current, &next) {
            return Ok(current);
        }
        // The last finalizer of a terminating object is gone: the object goes with it, unless
        // its grace period runs (a pod its kubelet is stopping, whose status it still writes).
        let grace_running =
            current.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) > 0;
        if is_terminating(&next) && !strategy::holds_deletion(gr, &next) && !grace_running {
            let rv = next_rv(&mut inner);
            set_meta(&mut next, "resourceVersion", json!(rv.to_string()));
            let gone = Arc::new(next);
            if let Some(m) = inner.objects.get_mut(gr) {
                m.remove(key);
            }
            self.record(&mut inner, gr, EventType::Deleted, gone.clone(), Some(current));
            return Ok(gone);
        }
        let rv = next_rv(&mut inner);
        set_meta(&mut next, "resourceVersion", json!(rv.to_string()));
        let next = Arc::new(next);
        inner.objects.entry(gr.clone()).or_default().insert(key.clone(), next.clone());
        self.record(&mut inner, gr, EventType::Modified, next.clone(), Some(current));
        Ok(next)
    }

    pub fn delete(&self, gr: &GroupResource, key: &ObjectKey, options: &DeleteOptions) -> Result<Deleted, ApiError> {
        let rt = self.resource_type(gr)?;
        let mut inner = self.inner.lock();
        let current = inner
            .objects
            .get(gr)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &key.name))?;
        if let Some(uid) = &options.precondition_uid
            && Some(uid.as_str()) != meta_str(&current, "uid")
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.plural,
                &key.name,
                "Precondition failed: UID in precondition does not match the UID in record",
            ));
        }
        if let Some(rv) = &options.precondition_resource_version
            && Some(rv.as_str()) != meta_str(&current, "resourceVersion")
        {
            return Err(ApiError::stale(&rt.group, &rt.plural, &key.name));
        }
        let mut next = (*current).clone();
        match options.propagation {
            Some(Propagation::Orphan) => add_finalizer(&mut next, FINALIZER_ORPHAN),
            Some(Propagation::Foreground) => add_finalizer(&mut next, FINALIZER_FOREGROUND),
            Some(Propagation::Background) | None => {}
        }
        strategy::prepare_for_delete(gr, &mut next);
        let graceful_pod = gr.group.is_empty()
            && &*gr.resource == "pods"
            && current.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty())
            && current
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .is_none_or(|p| p != "Succeeded" && p != "Failed");
        let grace = options.grace_period_seconds.unwrap_or_else(|| {
            if graceful_pod {
                current.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30)
            } else {
                0
            }
        });
        let wait_for_kubelet = graceful_pod && grace > 0;
        if !strategy::holds_deletion(gr, &next) && !wait_for_kubelet {
            let rv = next_rv(&mut inner);
            set_meta(&mut next, "resourceVersion", json!(rv.to_string()));
            let gone = Arc::new(next);
            if let Some(m) = inner.objects.get_mut(gr) {
                m.remove(key);
            }
            self.record(&mut inner, gr, EventType::Deleted, gone.clone(), Some(current));
            return Ok(Deleted::Gone(gone));
        }
        if !is_terminating(&next) {
            let at = if wait_for_kubelet { now_plus(grace) } else { now() };
            set_meta(&mut next, "deletionTimestamp", json!(at));
            set_meta(&mut next, "deletionGracePeriodSeconds", json!(grace.max(0)));
        } else if wait_for_kubelet
            && grace
                < current.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(i64::MAX)
        {
            // A shorter grace period shortens a deletion already under way.
            set_meta(&mut next, "deletionTimestamp", json!(now_plus(grace)));
            set_meta(&mut next, "deletionGracePeriodSeconds", json!(grace));
        }
        if next == *current {
            return Ok(Deleted::Terminating(current));
        }
        let rv = next_rv(&mut inner);
        set_meta(&mut next, "resourceVersion", json!(rv.to_string()));
        let next = Arc::new(next);
        inner.objects.entry(gr.clone()).or_default().insert(key.clone(), next.clone());
        self.record(&mut inner, gr, EventType::Modified, next.clone(), Some(current));
        Ok(Deleted::Terminating(next))
    }

    /// Removes every object of a type (when its CRD goes away), emitting DELETED events.
    pub fn drop_type(&self, gr: &GroupResource) {
        let mut inner = self.inner.lock();
        let Some(objects) = inner.objects.remove(gr) else { return };
        for (_, obj) in objects {
            let rv = next_rv(&mut inner);
            let mut last = (*obj).clone();
            set_meta(&mut last, "resourceVersion", json!(rv.to_string()));
            self.record(&mut inner, gr, EventType::Deleted, Arc::new(last), Some(obj));
        }
    }

    /// How many objects the store holds, by type (for the admin endpoint and benchmarks).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let inner = self.inner.lock();
        inner.objects.iter().map(|(gr, m)| (gr.to_string(), m.len())).collect()
    }

    fn record(
        &self,
        inner: &mut Inner,
        gr: &GroupResource,
        event_type: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) {
        let event = Arc::new(WatchEvent {
            resource_version: inner.resource_version,
            resource: gr.clone(),
            event_type,
            object,
            previous,
        });
        inner.history.push_back(event.clone());
        while inner.history.len() > inner.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.resource_version;
            }
        }
        // Nobody listening is fine.
        let _ = self.live.send(event);
    }
}

fn list_locked(inner: &Inner, gr: &GroupResource, namespace: Option<&str>) -> Vec<Arc<Value>> {
    let Some(objects) = inner.objects.get(gr) else { return Vec::new() };
    match namespace {
        None => objects.values().cloned().collect(),
        Some(ns) => {
            let start = ObjectKey::new(ns, "");
            objects.range(start..).take_while(|(k, _)| k.namespace == ns).map(|(_, v)| v.clone()).collect()
        }
    }
}

fn next_rv(inner: &mut Inner) -> u64 {
    inner.resource_version += 1;
    inner.resource_version
}

fn check_namespace_accepts(inner: &Inner, namespace: &str) -> Result<(), ApiError> {
    if namespace.is_empty() {
        return Err(ApiError::bad_request("the namespace of the object must be set"));
    }
    let ns = inner
        .objects
        .get(&GroupResource::core("namespaces"))
        .and_then(|m| m.get(&ObjectKey::cluster(namespace)))
        .ok_or_else(|| ApiError::not_found("", "namespaces", namespace))?;
    if is_terminating(ns) {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!("unable to create new content in namespace {namespace} because it is being terminated"),
        ));
    }
    Ok(())
}

fn check_valid(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let causes = admission::validate(rt, obj, old);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.group, &rt.kind, meta_str(obj, "name").unwrap_or(""), causes))
    }
}

/// Server-owned metadata on create, and the generated name.
fn prepare_for_create(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let meta = obj.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    let Some(meta) = meta.and_then(Value::as_object_mut) else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    if name.is_empty() {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                meta.insert("name".into(), json!(format!("{prefix}{}", random_suffix())));
            }
            _ => {
                return Err(ApiError::invalid(
                    &rt.group,
                    &rt.kind,
                    "",
                    vec![crate::error::Cause::required("metadata.name")],
                ));
            }
        }
    }
    if !rt.namespaced {
        meta.remove("namespace");
    }
    for server_owned in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
        meta.remove(server_owned);
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    if rt.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if rt.status_subresource
        && let Some(o) = obj.as_object_mut()
    {
        // As the API server's create strategies do: clients do not set status on create.
        if rt.group.is_empty() && rt.plural == "pods" {
            o.insert("status".into(), json!({"phase": "Pending"}));
        } else if rt.group.is_empty() && (rt.plural == "nodes" || rt.plural == "namespaces") {
            // Nodes register with their status; namespaces start Active.
        } else {
            o.remove("status");
        }
    }
    Ok(())
}

/// Combines the stored object with a proposed one according to which part the write may change.
fn merge_parts(rt: &ResourceType, current: &Value, proposed: Value, part: Part) -> Value {
    let mut next = match part {
        Part::Status => {
            let mut next = current.clone();
            match proposed.get("status") {
                Some(status) => next["status"] = status.clone(),
                None => {
                    if let Some(o) = next.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            // A status write records who owns which status fields.
            if let Some(managed) = proposed.pointer("/metadata/managedFields") {
                set_meta(&mut next, "managedFields", managed.clone());
            }
            next
        }
        Part::Main => {
            let mut next = proposed;
            if rt.status_subresource
                && let Some(o) = next.as_object_mut()
            {
                match current.get("status") {
                    Some(status) => {
                        o.insert("status".into(), status.clone());
                    }
                    None => {
                        o.remove("status");
                    }
                }
            }
            next
        }
    };
    // Server-owned metadata always comes from the stored object.
    for key in
        ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"]
    {
        match current.pointer(&format!("/metadata/{key}")) {
            Some(v) => set_meta(&mut next, key, v.clone()),
            None => {
                if let Some(meta) = next.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove(key);
                }
            }
        }
    }
    // Finalizers may only be removed once deletion started, never re-added after the last.
    next
}

/// Whether two objects' maps differ in any key but those skipped. Compares in place: objects
/// of pod size are compared on every write, so no copies.
fn differ_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
    let empty = Map::new();
    let (a, b) = (a.as_object().unwrap_or(&empty), b.as_object().unwrap_or(&empty));
    let keys_a = a.iter().filter(|(k, _)| !skip.contains(&k.as_str()));
    let keys_b = b.keys().filter(|k| !skip.contains(&k.as_str()));
    keys_a.clone().count() != keys_b.count() || keys_a.into_iter().any(|(k, v)| b.get(k) != Some(v))
}

fn spec_changed(a: &Value, b: &Value) -> bool {
    differ_except(a, b, &["metadata", "status"])
}

/// Equal but for the times in managedFields: a write that changes only when a manager last
/// wrote is not a change (as the API server treats it), while a change of ownership is.
fn same_ignoring_managed_fields(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let null = Value::Null;
    let (meta_a, meta_b) = (a.get("metadata").unwrap_or(&null), b.get("metadata").unwrap_or(&null));
    if differ_except(a, b, &["metadata"]) || differ_except(meta_a, meta_b, &["managedFields"]) {
        return false;
    }
    fn entries(meta: &Value) -> &[Value] {
        meta.get("managedFields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }
    let (entries_a, entries_b) = (entries(meta_a), entries(meta_b));
    entries_a.len() == entries_b.len() && entries_a.iter().zip(entries_b).all(|(x, y)| !differ_except(x, y, &["time"]))
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if let Some(o) = obj.as_object_mut() {
        let meta = o.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(field.to_string(), value);
        }
    }
}

pub fn is_terminating(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

pub fn finalizers(obj: &Value) -> Vec<&str> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    if finalizers(obj).contains(&finalizer) {
        return;
    }
    let mut list: Vec<Value> = finalizers(obj).into_iter().map(|f| json!(f)).collect();
    list.push(json!(finalizer));
    set_meta(obj, "finalizers", Value::Array(list));
}

pub fn remove_finalizer(obj: &mut Value, finalizer: &str) {
    let list: Vec<Value> = finalizers(obj).into_iter().filter(|f| *f != finalizer).map(|f| json!(f)).collect();
    if list.is_empty() {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("finalizers");
        }
    } else {
        set_meta(obj, "finalizers", Value::Array(list));
    }
}

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn now_plus(seconds: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The 5-character suffix of generated names, from the alphabet Kubernetes uses (no vowels,
/// no easily confused characters).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5].iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests;
