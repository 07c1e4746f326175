//! Node faults from the admin endpoint, for `kip sim` users and scripts: list the simulated
//! nodes, add one, remove one, or flip one NotReady or unschedulable.
//!
//! - `GET /_sim/nodes`: `[{"name", "ready", "unschedulable"}]`
//! - `POST /_sim/nodes` with `{"name", "labels"?, "unschedulable"?, "ready"?}`: a new node
//! - `PATCH /_sim/nodes/NAME` with `{"ready"?, "unschedulable"?}`
//! - `DELETE /_sim/nodes/NAME`

use std::collections::BTreeMap;

use axum::body::Body;
use http::request::Parts;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::encode::{self, Response};
use super::{ServerState, read_body};
use crate::cluster::Cluster;
use crate::cluster::node::NodeSpec;
use crate::error::ApiError;
use crate::resources::GroupResource;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewNode {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    unschedulable: bool,
    #[serde(default = "yes")]
    ready: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NodeChange {
    ready: Option<bool>,
    unschedulable: Option<bool>,
}

pub async fn handle(state: &ServerState, parts: &Parts, body: Body) -> Result<Response, ApiError> {
    let cluster = state.cluster.get().ok_or_else(|| {
        ApiError::new(404, "NotFound", "this simulator runs without a cluster: there are no simulated nodes")
    })?;
    let name = parts.uri.path().strip_prefix("/_sim/nodes").unwrap_or("").trim_matches('/');
    match (name, &parts.method) {
        ("", &Method::GET) => Ok(encode::json(StatusCode::OK, &list(state))),
        ("", &Method::POST) => {
            let node: NewNode = parse(body).await?;
            let mut spec = NodeSpec::new(node.name.clone());
            spec.labels = node.labels;
            spec.unschedulable = node.unschedulable;
            spec.ready = node.ready;
            cluster.add_node(spec).map_err(conflict)?;
            Ok(encode::json(StatusCode::CREATED, &json!({"name": node.name})))
        }
        (name, &Method::PATCH) if !name.is_empty() => {
            let change: NodeChange = parse(body).await?;
            apply_change(cluster, name, &change)?;
            Ok(encode::json(StatusCode::OK, &json!({"name": name})))
        }
        (name, &Method::DELETE) if !name.is_empty() => {
            cluster.remove_node(name).map_err(not_found)?;
            Ok(encode::json(StatusCode::OK, &json!({"name": name})))
        }
        (_, method) => Err(ApiError::method_not_allowed(format!(
            "{method} is not served on /_sim/nodes: GET or POST /_sim/nodes, PATCH or DELETE /_sim/nodes/NAME"
        ))),
    }
}

fn apply_change(cluster: &Cluster, name: &str, change: &NodeChange) -> Result<(), ApiError> {
    if let Some(ready) = change.ready {
        cluster.set_node_ready(name, ready).map_err(not_found)?;
    }
    if let Some(unschedulable) = change.unschedulable {
        cluster.set_node_unschedulable(name, unschedulable).map_err(not_found)?;
    }
    Ok(())
}

fn list(state: &ServerState) -> Vec<Value> {
    let (nodes, _) = state.store.list(&GroupResource::core("nodes"), None);
    nodes
        .iter()
        .map(|node| {
            let ready = node
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "True");
            json!({
                "name": node.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
                "ready": ready,
                "unschedulable": node.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

async fn parse<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
}

fn not_found(err: impl std::fmt::Display) -> ApiError {
    ApiError::new(404, "NotFound", err.to_string())
}

fn conflict(err: impl std::fmt::Display) -> ApiError {
    ApiError::new(409, "AlreadyExists", err.to_string())
}
