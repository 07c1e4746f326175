//! `metadata.managedFields`: reading and writing its entries, the fields no manager owns
//! (server-set metadata; status or non-status depending on the subresource), and the
//! bookkeeping of non-apply writes (operation `Update`).

use serde_json::{Value, json};

use super::fieldset::{FieldSet, field};
use super::schema::Cursor;
use super::walk::compare;
use crate::resources::ResourceType;
use crate::store::now;

/// Update managers beyond this many are folded, oldest first, into one `ancient-changes` entry,
/// as the API server does to bound the size of managedFields.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    /// Empty for the main resource.
    pub subresource: String,
    pub api_version: String,
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    pub fn is(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How apply conflicts name a manager: `"kubectl"`, or for updaters
    /// `"kubectl-edit" using apps/v1`, with `with subresource "status"` when it applies.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// The entries recorded in an object; malformed ones are skipped.
pub fn decode(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|entry| {
            let text = |name: &str| entry.get(name).and_then(Value::as_str).map(String::from);
            let operation = match text("operation")?.as_str() {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return None,
            };
            Some(Entry {
                manager: text("manager").unwrap_or_default(),
                operation,
                subresource: text("subresource").unwrap_or_default(),
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time"),
                fields: FieldSet::from_fields_v1(entry.get("fieldsV1").unwrap_or(&Value::Null)),
            })
        })
        .collect()
}

/// Writes the entries into the object, dropping those that own nothing, in the API server's
/// order (operation, time, manager, apiVersion, subresource).
pub fn encode(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut out = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields.to_fields_v1(),
            });
            if let Some(time) = &e.time {
                out["time"] = json!(time);
            }
            if !e.subresource.is_empty() {
                out["subresource"] = json!(e.subresource);
            }
            out
        })
        .collect();
    let Some(meta) = obj.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| json!({}))) else { return };
    let Some(meta) = meta.as_object_mut() else { return };
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Metadata the server sets, never owned by a manager.
const SERVER_METADATA: [&str; 11] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// Removes from a field set what managers of this write cannot own: identity and server
/// metadata always; `status` for main-resource writes of types with a status subresource;
/// everything but `status` for status writes.
pub fn drop_unowned(set: &mut FieldSet, rt: &ResourceType, subresource: &str) {
    if subresource == "status" {
        set.children.retain(|element, _| element == "f:status");
        return;
    }
    set.children.remove("f:apiVersion");
    set.children.remove("f:kind");
    if rt.status_subresource {
        set.children.remove("f:status");
    }
    if let Some(meta) = set.children.get_mut("f:metadata") {
        for name in SERVER_METADATA {
            meta.children.remove(&field(name));
        }
    }
    // The top-level structs always exist; only their fields are owned.
    for name in ["f:metadata", "f:spec", "f:status"] {
        if let Some(child) = set.children.get_mut(name) {
            child.member = false;
        }
    }
    set.children.retain(|_, child| !child.is_empty());
}

/// The entries a write starts from: those of the stored object, unless the request carries its
/// own (an empty list, or a list of one empty entry, clears them all).
fn entries_for_write(old: Option<&Value>, new: &Value) -> Vec<Entry> {
    match new.pointer("/metadata/managedFields") {
        Some(Value::Array(list)) if list.is_empty() || (list.len() == 1 && list[0] == json!({})) => Vec::new(),
        Some(Value::Array(_)) => {
            let sent = decode(new);
            if sent.is_empty() { old.map(decode).unwrap_or_default() } else { sent }
        }
        _ => old.map(decode).unwrap_or_default(),
    }
}

/// Records a non-apply write: the fields `manager` added or changed become its own (operation
/// `Update`, one entry per manager and subresource) and leave every other manager; removed
/// fields leave everyone; managers left with nothing are dropped.
pub fn record_update(rt: &ResourceType, old: Option<&Value>, new: &mut Value, manager: &str, subresource: &str) {
    let mut entries = entries_for_write(old, new);
    let mut diff = compare(old, Some(new), &Cursor::root(rt));
    for set in [&mut diff.added, &mut diff.modified, &mut diff.removed] {
        drop_unowned(set, rt, subresource);
    }
    let changed = diff.changed();
    for entry in entries.iter_mut().filter(|e| !e.is(manager, Operation::Update, subresource)) {
        entry.fields = entry.fields.difference(&changed).difference(&diff.removed);
    }
    let position = entries.iter().position(|e| e.is(manager, Operation::Update, subresource));
    let previous = position.map(|i| entries[i].fields.clone()).unwrap_or_default();
    let fields = previous.union(&changed).difference(&diff.removed);
    if fields != previous || position.is_none() {
        let entry = Entry {
            manager: manager.to_string(),
            operation: Operation::Update,
            subresource: subresource.to_string(),
            api_version: rt.api_version(),
            time: Some(now()),
            fields,
        };
        match position {
            Some(i) => entries[i] = entry,
            None => entries.push(entry),
        }
    }
    cap_update_managers(&mut entries, rt);
    encode(new, entries);
}

/// Folds the oldest update managers into `ancient-changes` while there are too many.
fn cap_update_managers(entries: &mut Vec<Entry>, rt: &ResourceType) {
    entries.retain(|e| !e.fields.is_empty());
    let updaters = |entries: &[Entry]| entries.iter().filter(|e| e.operation == Operation::Update).count();
    while updaters(entries) > MAX_UPDATE_MANAGERS {
        let oldest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.operation == Operation::Update && e.manager != ANCIENT_CHANGES)
            .min_by(|(_, a), (_, b)| a.time.cmp(&b.time))
            .map(|(i, _)| i);
        let Some(oldest) = oldest else { break };
        let folded = entries.remove(oldest);
        match entries.iter_mut().find(|e| e.is(ANCIENT_CHANGES, Operation::Update, "")) {
            Some(ancient) => ancient.fields.union_in_place(&folded.fields),
            None => entries.push(Entry {
                manager: ANCIENT_CHANGES.into(),
                operation: Operation::Update,
                subresource: String::new(),
                api_version: rt.api_version(),
                time: folded.time,
                fields: folded.fields,
            }),
        }
    }
}
