//! get and list: one object, or a filtered, paged list at the store's current resourceVersion.

use std::sync::Arc;

use http::StatusCode;

use super::encode::{self, ListMeta, Response};
use super::paging::Page;
use super::selectors::{FieldSelector, LabelSelector};
use super::{ApiRequest, ServerState};
use crate::error::ApiError;

pub fn get(state: &ServerState, req: &ApiRequest) -> Result<Response, ApiError> {
    let obj = state
        .store
        .get(&req.group_resource(), &req.key())
        .ok_or_else(|| ApiError::not_found(&req.rt.group, &req.rt.plural, req.name()))?;
    Ok(encode::object(StatusCode::OK, &obj, &req.rt, req.output, req.include))
}

/// The selectors of a list or watch request.
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn from_request(req: &ApiRequest) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))?;
        let mut field_text = req.query.get("fieldSelector").unwrap_or("").to_string();
        // A watch on a named object is a watch on the collection, narrowed to that name.
        if let Some(name) = &req.path.name {
            let clause = format!("metadata.name={name}");
            field_text = if field_text.is_empty() { clause } else { format!("{field_text},{clause}") };
        }
        let fields = FieldSelector::parse(&field_text, &req.rt)?;
        Ok(Selectors { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &serde_json::Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// `resourceVersion` and `resourceVersionMatch` of a list, for a store that serves only its
/// current state: older exact versions are 410 Expired, future ones 504 as the API server
/// answers after waiting for them.
fn check_list_resource_version(state: &ServerState, req: &ApiRequest) -> Result<(), ApiError> {
    let raw = req.query.non_empty("resourceVersion");
    let rv_match = req.query.non_empty("resourceVersionMatch");
    let current = state.store.current_resource_version();
    match (raw, rv_match) {
        (None, Some(m)) => {
            return Err(ApiError::bad_request(format!(
                "resourceVersionMatch {m:?} is forbidden unless resourceVersion is provided"
            )));
        }
        (Some("0"), Some("Exact")) => {
            return Err(ApiError::bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\""));
        }
        (_, Some(m)) if m != "Exact" && m != "NotOlderThan" => {
            return Err(ApiError::bad_request(format!(
                "resourceVersionMatch {m:?} is not supported: use \"Exact\" or \"NotOlderThan\""
            )));
        }
        _ => {}
    }
    let Some(rv) = req.query.resource_version()? else { return Ok(()) };
    if rv > current {
        let mut err = ApiError::new(504, "Timeout", format!("Too large resource version: {rv}, current: {current}"));
        err.retry_after = Some(1);
        return Err(err);
    }
    if rv_match == Some("Exact") && rv < current {
        return Err(ApiError::expired(format!("too old resource version: {rv} ({current})")));
    }
    Ok(())
}

pub fn list(state: &ServerState, req: &ApiRequest) -> Result<Response, ApiError> {
    let selectors = Selectors::from_request(req)?;
    let limit = req.query.integer("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let list_key = format!(
        "{}|{}|{}|{}",
        req.group_resource(),
        req.namespace().unwrap_or(""),
        req.query.get("labelSelector").unwrap_or(""),
        req.query.get("fieldSelector").unwrap_or("")
    );
    let page = match req.query.non_empty("continue") {
        Some(token) => {
            if req.query.non_empty("resourceVersion").is_some_and(|rv| rv != "0") {
                return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
            }
            state.pager.resume(token, &list_key)?
        }
        None => {
            check_list_resource_version(state, req)?;
            let (mut objects, resource_version) = state.store.list(&req.group_resource(), req.namespace());
            if !selectors.is_empty() {
                objects.retain(|o| selectors.matches(o));
            }
            Page { items: Arc::new(objects), offset: 0, resource_version, list_key }
        }
    };
    let total = page.items.len();
    let start = page.offset.min(total);
    let end = limit.map_or(total, |l| start.saturating_add(l).min(total));
    let mut meta = ListMeta { resource_version: page.resource_version, ..ListMeta::default() };
    if end < total {
        // As the API server does, the count is given only when no selector filters the list.
        if selectors.is_empty() {
            meta.remaining_item_count = Some((total - end) as u64);
        }
        meta.continue_token = Some(state.pager.hold(Page { offset: end, ..page.clone() }));
    }
    Ok(encode::list(&req.rt, page.items, start..end, &meta, req.output, req.include))
}
