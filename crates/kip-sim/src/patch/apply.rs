//! Server-side apply (`application/apply-patch+yaml`; the body may be YAML or JSON).
//!
//! The applied configuration is merged into the live object by the structured-merge rules:
//! maps merge key by key (unless atomic), keyed lists element by element, set lists by value,
//! atomic lists and scalars are replaced. Fields this manager applied before and omits now are
//! removed, unless another *applier* still applies them (updaters do not hold fields back, as
//! in the API server). `metadata.managedFields` then records the configuration's fields as
//! this manager's (operation `Apply`, per subresource).
//!
//! Conflict detection, exactly:
//! - a conflict is a field that another manager's entry owns (an applier or an updater, any
//!   subresource, including an `Update` entry of the same manager name) and whose value this
//!   apply adds or changes; applying the value a field already holds is no conflict and makes
//!   the ownership shared;
//! - fields are compared leaf by leaf: scalars, atomic lists and maps as whole values,
//!   elements of keyed lists (built-in keys from [`super::schema`], custom resources'
//!   `x-kubernetes-list-map-keys`) and set-list values by presence;
//! - updaters own what [`super::record_update`] gave them: the fields their writes added or
//!   changed, minus what later writes changed or removed;
//! - with `force=true` the conflicting fields move to this manager; fields the apply removes
//!   leave every manager;
//! - identity and server metadata (name, namespace, uid, resourceVersion, ...) are never owned;
//!   a main-resource apply to a type with a status subresource ignores `status`, and an apply
//!   to `/status` touches and owns only `status`.

use serde_json::{Map, Value, json};

use super::PatchOptions;
use super::fieldset::{FieldSet, PathElement, display_path};
use super::managed::{self, Entry, Operation, drop_unowned};
use super::schema::Cursor;
use super::walk::{compare, fields_of, merge_applied, remove_fields};
use crate::error::{ApiError, Cause};
use crate::resources::ResourceType;
use crate::store::{meta_str, now};

pub fn apply(
    rt: &ResourceType,
    current: Option<&Value>,
    body: &[u8],
    options: &PatchOptions,
) -> Result<Value, ApiError> {
    let Some(manager) = options.field_manager.as_deref().filter(|m| !m.is_empty()) else {
        return Err(manager_required());
    };
    let subresource = options.subresource.as_deref().unwrap_or("");
    let config = decode_body(body)?;
    check_kind(rt, &config)?;
    if config.pointer("/metadata/managedFields").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let (name, namespace) = identity(rt, current, &config, options)?;
    check_preconditions(rt, current, &config, &name)?;
    if current.is_none() && subresource == "status" {
        return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
    }

    let cursor = Cursor::root(rt);
    let mut config_set = fields_of(&config, &cursor, true).map_err(|e| {
        ApiError::internal(format!("failed to create typed patch object ({namespace}/{name}; {}): {e}", gvk(rt)))
    })?;
    drop_unowned(&mut config_set, rt, subresource);

    let live = match current {
        Some(live) => live.clone(),
        None => {
            let mut metadata = Map::new();
            metadata.insert("name".into(), json!(name));
            if rt.namespaced {
                metadata.insert("namespace".into(), json!(namespace));
            }
            json!({"apiVersion": rt.api_version(), "kind": rt.kind, "metadata": metadata})
        }
    };
    let mut entries = managed::decode(&live);
    let mine = entries.iter().position(|e| e.is(manager, Operation::Apply, subresource));

    let mut merged = merge_applied(&live, &applicable_part(rt, &config, subresource), &cursor);
    if let Some(i) = mine {
        let mut keep = config_set.clone();
        for (j, entry) in entries.iter().enumerate() {
            if j != i && entry.operation == Operation::Apply {
                keep.union_in_place(&entry.fields);
            }
        }
        let given_up = entries[i].fields.difference(&keep);
        remove_fields(&mut merged, &given_up, &keep, &cursor);
    }

    let mut diff = compare(Some(&live), Some(&merged), &cursor);
    for set in [&mut diff.added, &mut diff.modified, &mut diff.removed] {
        drop_unowned(set, rt, subresource);
    }
    let changed = diff.changed();
    let conflicts: Vec<(&Entry, FieldSet)> = entries
        .iter()
        .enumerate()
        .filter(|(j, _)| Some(*j) != mine)
        .map(|(_, e)| (e, e.fields.intersection(&changed)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if !conflicts.is_empty() && !options.force {
        return Err(conflict_error(&conflicts));
    }
    for (j, entry) in entries.iter_mut().enumerate() {
        if Some(j) != mine {
            entry.fields = entry.fields.difference(&changed).difference(&diff.removed);
        }
    }
    let unchanged_time = mine.filter(|&i| entries[i].fields == config_set).and_then(|i| entries[i].time.clone());
    let entry = Entry {
        manager: manager.to_string(),
        operation: Operation::Apply,
        subresource: subresource.to_string(),
        api_version: rt.api_version(),
        time: Some(unchanged_time.unwrap_or_else(now)),
        fields: config_set,
    };
    match mine {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    managed::encode(&mut merged, entries);
    // A re-apply of the same configuration leaves the object exactly as it was.
    if current.is_some() && merged == live {
        return Ok(live);
    }
    Ok(merged)
}

fn manager_required() -> ApiError {
    let cause = Cause {
        reason: "FieldValueRequired",
        field: "fieldManager".into(),
        message: "Required value: is required for apply patch".into(),
    };
    ApiError::invalid("meta.k8s.io", "PatchOptions", "", vec![cause])
}

/// The body as YAML (JSON being YAML), which must be a map.
fn decode_body(body: &[u8]) -> Result<Value, ApiError> {
    let parsed = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(_) => serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
    };
    match parsed {
        Value::Object(_) => Ok(parsed),
        Value::Null => Ok(json!({})),
        _ => Err(ApiError::bad_request("error decoding YAML: the applied configuration must be a map")),
    }
}

fn gvk(rt: &ResourceType) -> String {
    format!("{}/{}, Kind={}", rt.group, rt.version, rt.kind)
}

fn check_kind(rt: &ResourceType, config: &Value) -> Result<(), ApiError> {
    let api_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version == rt.api_version() && kind == rt.kind {
        return Ok(());
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Err(ApiError::bad_request(format!("invalid object type: {group}/{version}, Kind={kind}")))
}

/// The object's name and namespace: from the stored object, else from the URL, else from the
/// configuration; a configuration that names another object is refused.
fn identity(
    rt: &ResourceType,
    current: Option<&Value>,
    config: &Value,
    options: &PatchOptions,
) -> Result<(String, String), ApiError> {
    let url_name =
        current.and_then(|c| meta_str(c, "name")).or(options.target.as_ref().map(|t| t.name.as_str())).unwrap_or("");
    let url_namespace = current
        .and_then(|c| meta_str(c, "namespace"))
        .or(options.target.as_ref().map(|t| t.namespace.as_str()))
        .unwrap_or("");
    let name = meta_str(config, "name").unwrap_or("");
    let namespace = meta_str(config, "namespace").unwrap_or("");
    if !name.is_empty() && !url_name.is_empty() && name != url_name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({url_name})"
        )));
    }
    if rt.namespaced && !namespace.is_empty() && !url_namespace.is_empty() && namespace != url_namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let pick = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { a.to_string() };
    let namespace = if rt.namespaced { pick(url_namespace, namespace) } else { String::new() };
    Ok((pick(url_name, name), namespace))
}

/// `metadata.uid` and `metadata.resourceVersion` in the configuration are preconditions.
fn check_preconditions(rt: &ResourceType, current: Option<&Value>, config: &Value, name: &str) -> Result<(), ApiError> {
    if let Some(uid) = meta_str(config, "uid").filter(|u| !u.is_empty()) {
        match current {
            None => {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!("uid mismatch: the provided object specified uid {uid}, and no existing object was found"),
                ));
            }
            Some(live) if meta_str(live, "uid") != Some(uid) => {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    "Precondition failed: UID in precondition does not match the UID in record",
                ));
            }
            Some(_) => {}
        }
    }
    if let (Some(rv), Some(live)) = (meta_str(config, "resourceVersion").filter(|r| !r.is_empty()), current)
        && meta_str(live, "resourceVersion") != Some(rv)
    {
        return Err(ApiError::stale(&rt.group, &rt.plural, name));
    }
    Ok(())
}

/// What of the configuration this apply may write: status only for `/status`; otherwise all but
/// the server's metadata (and all but status when status is a subresource).
fn applicable_part(rt: &ResourceType, config: &Value, subresource: &str) -> Value {
    let mut part = config.clone();
    let Some(object) = part.as_object_mut() else { return part };
    if subresource == "status" {
        object.retain(|k, _| k == "status");
        return part;
    }
    if rt.status_subresource {
        object.remove("status");
    }
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(key);
        }
    }
    part
}

/// The 409 the API server answers: one cause per conflicting field.
fn conflict_error(conflicts: &[(&Entry, FieldSet)]) -> ApiError {
    let mut by_manager: Vec<(&Entry, Vec<Vec<PathElement>>)> =
        conflicts.iter().map(|(entry, set)| (*entry, set.paths())).collect();
    by_manager.sort_by(|a, b| {
        (&a.0.manager, a.0.operation, &a.0.subresource).cmp(&(&b.0.manager, b.0.operation, &b.0.subresource))
    });
    let mut causes = Vec::new();
    let mut lines = Vec::new();
    for (entry, paths) in &by_manager {
        lines.push(format!("conflicts with {}:", entry.describe()));
        for path in paths {
            let shown = display_path(path);
            lines.push(format!("- {shown}"));
            causes.push(Cause {
                reason: "FieldManagerConflict",
                field: shown,
                message: format!("conflict with {}", entry.describe()),
            });
        }
    }
    let message = if causes.len() == 1 {
        format!("Apply failed with 1 conflict: {}: {}", causes[0].message, causes[0].field)
    } else {
        format!("Apply failed with {} conflicts: {}", causes.len(), lines.join("\n"))
    };
    let mut err = ApiError::new(409, "Conflict", message);
    err.causes = causes;
    err
}
