//! delete and deletecollection, with DeleteOptions from the body or the query. What the API
//! server returns: the object while it still exists (finalizers, graceful pod deletion) or for
//! types that return deleted objects (pods, custom resources), else a `Success` Status naming
//! it; 202 only when the deprecated `orphanDependents: false` asked for a cascade that is still
//! running.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Value, json};

use super::encode::{self, ListMeta, Response};
use super::negotiate::Output;
use super::read::Selectors;
use super::table::IncludeObject;
use super::{ApiRequest, ServerState};
use crate::error::ApiError;
use crate::store::{DeleteOptions, Deleted, Propagation, meta_str};

/// DeleteOptions as sent, before they become the store's.
struct Options {
    store: DeleteOptions,
    orphan_dependents: Option<bool>,
    dry_run: bool,
}

fn invalid_options(message: String) -> ApiError {
    ApiError::new(422, "Invalid", format!("DeleteOptions.meta.k8s.io \"\" is invalid: {message}"))
}

fn parse_propagation(value: &str) -> Result<Propagation, ApiError> {
    match value {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(invalid_options(format!(
            "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

fn parse_options(req: &ApiRequest, body: &[u8]) -> Result<Options, ApiError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the DeleteOptions in the request body are not valid JSON: {e}"))
        })?
    };
    let mut options = DeleteOptions::default();
    let policy = body.get("propagationPolicy").and_then(Value::as_str).or(req.query.non_empty("propagationPolicy"));
    options.propagation = policy.map(parse_propagation).transpose()?;
    options.grace_period_seconds = match body.get("gracePeriodSeconds").and_then(Value::as_i64) {
        Some(g) => Some(g),
        None => req.query.integer("gracePeriodSeconds")?,
    };
    options.precondition_uid = body.pointer("/preconditions/uid").and_then(Value::as_str).map(String::from);
    options.precondition_resource_version =
        body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(String::from);
    let orphan_dependents = match body.get("orphanDependents").and_then(Value::as_bool) {
        Some(o) => Some(o),
        None if req.query.non_empty("orphanDependents").is_some() => Some(req.query.flag("orphanDependents")?),
        None => None,
    };
    if let Some(orphan) = orphan_dependents {
        if options.propagation.is_some() {
            return Err(invalid_options(
                "propagationPolicy: Invalid value: orphanDependents and propagationPolicy cannot both be set".into(),
            ));
        }
        options.propagation = Some(if orphan { Propagation::Orphan } else { Propagation::Foreground });
    }
    let dry_run_body = body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    let dry_run = dry_run_body || req.query.dry_run()?;
    Ok(Options { store: options, orphan_dependents, dry_run })
}

/// Types whose storage returns the deleted object instead of a Status.
fn returns_deleted_object(req: &ApiRequest) -> bool {
    req.rt.custom || (req.rt.group.is_empty() && req.rt.plural == "pods")
}

fn success_status(req: &ApiRequest, obj: &Value) -> Value {
    let mut details = json!({"name": meta_str(obj, "name").unwrap_or(""), "kind": req.rt.plural});
    if !req.rt.group.is_empty() {
        details["group"] = json!(req.rt.group);
    }
    if let Some(uid) = meta_str(obj, "uid") {
        details["uid"] = json!(uid);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn check_preconditions(req: &ApiRequest, options: &DeleteOptions, current: &Value) -> Result<(), ApiError> {
    let (group, plural, name) = (&req.rt.group, &req.rt.plural, req.name());
    if options.precondition_uid.as_deref().is_some_and(|uid| Some(uid) != meta_str(current, "uid")) {
        return Err(ApiError::conflict(
            group,
            plural,
            name,
            "Precondition failed: UID in precondition does not match the UID in record",
        ));
    }
    if options
        .precondition_resource_version
        .as_deref()
        .is_some_and(|rv| Some(rv) != meta_str(current, "resourceVersion"))
    {
        return Err(ApiError::stale(group, plural, name));
    }
    Ok(())
}

pub fn delete(state: &ServerState, req: &ApiRequest, body: &[u8]) -> Result<Response, ApiError> {
    let options = parse_options(req, body)?;
    let gr = req.group_resource();
    let key = req.key();
    // A Status or the object, always as JSON: a Table of a deletion means nothing to a client.
    let respond = |status, obj: &Value| encode::object(status, obj, &req.rt, Output::Json, IncludeObject::Metadata);
    if options.dry_run {
        let current =
            state.store.get(&gr, &key).ok_or_else(|| ApiError::not_found(&gr.group, &gr.resource, &key.name))?;
        check_preconditions(req, &options.store, &current)?;
        return Ok(respond(StatusCode::OK, &current));
    }
    match state.store.delete(&gr, &key, &options.store)? {
        Deleted::Gone(obj) if returns_deleted_object(req) => Ok(respond(StatusCode::OK, &obj)),
        Deleted::Gone(obj) => Ok(encode::json(StatusCode::OK, &success_status(req, &obj))),
        Deleted::Terminating(obj) => {
            let status = if options.orphan_dependents == Some(false) { StatusCode::ACCEPTED } else { StatusCode::OK };
            Ok(respond(status, &obj))
        }
    }
}

pub fn delete_collection(state: &ServerState, req: &ApiRequest, body: &[u8]) -> Result<Response, ApiError> {
    let options = parse_options(req, body)?;
    let selectors = Selectors::from_request(req)?;
    let gr = req.group_resource();
    let (objects, _) = state.store.list(&gr, req.namespace());
    let mut deleted = Vec::new();
    for obj in objects.iter().filter(|o| selectors.matches(o)) {
        if options.dry_run {
            deleted.push(obj.clone());
            continue;
        }
        match state.store.delete(&gr, &crate::store::ObjectKey::of(obj), &options.store) {
            Ok(Deleted::Gone(last) | Deleted::Terminating(last)) => deleted.push(last),
            // Deleted by someone else meanwhile: nothing left to do for it.
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let meta = ListMeta { resource_version: state.store.current_resource_version(), ..ListMeta::default() };
    let count = deleted.len();
    Ok(encode::list(&req.rt, Arc::new(deleted), 0..count, &meta, Output::Json, IncludeObject::Metadata))
}
