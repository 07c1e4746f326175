//! create (POST), update (PUT) and patch (PATCH): request bodies checked against the URL
//! (apiVersion, kind, namespace, name), managedFields recorded for the field manager, `dryRun`,
//! and server-side apply creating a missing object.

use http::StatusCode;
use serde_json::{Value, json};

use super::encode::{self, Response};
use super::negotiate;
use super::{ApiRequest, ServerState};
use crate::admission;
use crate::error::{ApiError, Cause};
use crate::patch::{self, PatchOptions, PatchType};
use crate::resources::ResourceType;
use crate::store::{Part, meta_str, set_meta};

/// Fills a missing apiVersion/kind from the URL; a different one is a 400, as the API server's
/// decoder answers.
fn check_type_meta(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let api_version = rt.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = json!(api_version),
        Some(v) if v != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        Some(_) => {}
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(rt.kind),
        Some(k) if k != rt.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// The body's namespace must be the URL's: filled in when missing, 400 when different.
fn check_namespace(req: &ApiRequest, obj: &mut Value) -> Result<(), ApiError> {
    if !req.rt.namespaced {
        return Ok(());
    }
    let Some(url_ns) = req.namespace() else {
        return Err(ApiError::method_not_allowed(
            "a namespaced object must be written through its namespace's path (namespaces/NAMESPACE/...)",
        ));
    };
    match meta_str(obj, "namespace") {
        None | Some("") => set_meta(obj, "namespace", json!(url_ns)),
        Some(ns) if ns != url_ns => {
            return Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({ns}) does not match the namespace sent on the request ({url_ns})"
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

fn check_name(req: &ApiRequest, obj: &Value) -> Result<(), ApiError> {
    let body_name = meta_str(obj, "name").unwrap_or("");
    if body_name != req.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            req.name()
        )));
    }
    Ok(())
}

fn check_valid(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let causes = admission::validate(rt, obj, old);
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&rt.group, &rt.kind, meta_str(obj, "name").unwrap_or(""), causes))
}

/// A dry run: the object as it would be stored, defaulted and validated, not stored.
fn dry_run_result(rt: &ResourceType, mut obj: Value, current: Option<&Value>) -> Result<Value, ApiError> {
    admission::default(rt, &mut obj);
    check_valid(rt, &obj, current)?;
    match current {
        Some(current) => {
            for key in ["uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp"] {
                if let Some(v) = current.pointer(&format!("/metadata/{key}")) {
                    set_meta(&mut obj, key, v.clone());
                }
            }
        }
        None => {
            set_meta(&mut obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
            set_meta(&mut obj, "creationTimestamp", json!(crate::store::now()));
        }
    }
    Ok(obj)
}

pub fn create(state: &ServerState, req: &ApiRequest, body: &[u8]) -> Result<Response, ApiError> {
    let mut obj = negotiate::decode_object(&req.headers, body)?;
    check_type_meta(&req.rt, &mut obj)?;
    check_namespace(req, &mut obj)?;
    patch::record_update(&req.rt, None, &mut obj, &req.field_manager(), None);
    if req.query.dry_run()? {
        let key = crate::store::ObjectKey::of(&obj);
        if !key.name.is_empty() && state.store.get(&req.group_resource(), &key).is_some() {
            return Err(ApiError::already_exists(&req.rt.group, &req.rt.plural, &key.name));
        }
        if key.name.is_empty() && meta_str(&obj, "generateName").is_none_or(str::is_empty) {
            return Err(ApiError::invalid(&req.rt.group, &req.rt.kind, "", vec![Cause::required("metadata.name")]));
        }
        let obj = dry_run_result(&req.rt, obj, None)?;
        return Ok(encode::object(StatusCode::CREATED, &obj, &req.rt, req.output, req.include));
    }
    let created = state.store.create(&req.group_resource(), obj)?;
    Ok(encode::object(StatusCode::CREATED, &created, &req.rt, req.output, req.include))
}

pub fn update(state: &ServerState, req: &ApiRequest, body: &[u8]) -> Result<Response, ApiError> {
    let mut obj = negotiate::decode_object(&req.headers, body)?;
    check_type_meta(&req.rt, &mut obj)?;
    check_namespace(req, &mut obj)?;
    check_name(req, &obj)?;
    let gr = req.group_resource();
    let key = req.key();
    let expected_rv = meta_str(&obj, "resourceVersion").filter(|s| !s.is_empty()).map(String::from);
    let expected_uid = meta_str(&obj, "uid").filter(|s| !s.is_empty()).map(String::from);
    let preconditions = |current: &Value| -> Result<(), ApiError> {
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
        Ok(())
    };
    let manager = req.field_manager();
    let subresource = req.path.subresource.as_deref();
    if req.query.dry_run()? {
        let current =
            state.store.get(&gr, &key).ok_or_else(|| ApiError::not_found(&gr.group, &gr.resource, &key.name))?;
        preconditions(&current)?;
        let obj = dry_run_result(&req.rt, obj, Some(&current))?;
        return Ok(encode::object(StatusCode::OK, &obj, &req.rt, req.output, req.include));
    }
    let updated = state.store.write(&gr, &key, req.part(), |current| {
        preconditions(current)?;
        let mut next = obj;
        patch::record_update(&req.rt, Some(current), &mut next, &manager, subresource);
        Ok(next)
    })?;
    Ok(encode::object(StatusCode::OK, &updated, &req.rt, req.output, req.include))
}

pub fn patch(state: &ServerState, req: &ApiRequest, body: &[u8]) -> Result<Response, ApiError> {
    negotiate::reject_protobuf(&req.headers)?;
    let media = negotiate::content_type(&req.headers);
    let patch_type = PatchType::from_content_type(&media).ok_or_else(|| ApiError::unsupported_media_type(&media))?;
    let force = req.query.flag("force")?;
    let explicit_manager = req.query.non_empty("fieldManager");
    if patch_type == PatchType::Apply && explicit_manager.is_none() {
        let mut err = ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
        err.causes = vec![Cause::required("fieldManager")];
        return Err(err);
    }
    if force && patch_type != PatchType::Apply {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let manager = req.field_manager();
    let subresource = req.path.subresource.clone();
    let gr = req.group_resource();
    let key = req.key();
    let options = PatchOptions {
        field_manager: Some(manager.clone()),
        force,
        subresource: subresource.clone(),
        target: Some(key.clone()),
    };
    let may_create = patch_type == PatchType::Apply && req.part() == Part::Main;
    if req.query.dry_run()? {
        let current = state.store.get(&gr, &key);
        if current.is_none() && !may_create {
            return Err(ApiError::not_found(&gr.group, &gr.resource, &key.name));
        }
        let proposed = patch::patch(&req.rt, current.as_deref(), patch_type, body, &options)?;
        let obj = dry_run_result(&req.rt, proposed, current.as_deref())?;
        return Ok(encode::object(StatusCode::OK, &obj, &req.rt, req.output, req.include));
    }
    // Twice at most: an apply that finds no object creates it, and if someone else created it
    // meanwhile, the apply goes to that object instead.
    for _ in 0..2 {
        let written = state.store.write(&gr, &key, req.part(), |current| {
            let mut next = patch::patch(&req.rt, Some(current), patch_type, body, &options)?;
            if patch_type != PatchType::Apply {
                patch::record_update(&req.rt, Some(current), &mut next, &manager, subresource.as_deref());
            }
            Ok(next)
        });
        match written {
            Ok(obj) => return Ok(encode::object(StatusCode::OK, &obj, &req.rt, req.output, req.include)),
            Err(err) if err.code == 404 && may_create => {
                let mut obj = patch::patch(&req.rt, None, patch_type, body, &options)?;
                check_type_meta(&req.rt, &mut obj)?;
                check_namespace(req, &mut obj)?;
                if meta_str(&obj, "name").is_none_or(str::is_empty) {
                    set_meta(&mut obj, "name", json!(req.name()));
                }
                check_name(req, &obj)?;
                match state.store.create(&gr, obj) {
                    Ok(created) => {
                        return Ok(encode::object(StatusCode::CREATED, &created, &req.rt, req.output, req.include));
                    }
                    Err(err) if err.reason == "AlreadyExists" => continue,
                    Err(err) => return Err(err),
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::conflict(&gr.group, &gr.resource, &key.name, "the object was created and deleted while applying"))
}
