//! The simulator's own endpoints under `/_sim/`, never faulted nor counted:
//! `GET /_sim/stats` (request counts), `DELETE /_sim/stats` (reset), `GET /_sim/objects`
//! (object counts by type), `GET /_sim/faults` and `PUT /_sim/faults` (rules, seed, and the
//! one-shot actions `dropWatches` and `restartApiServer`), and the nodes of the simulated
//! cluster under `/_sim/nodes` (see [`super::admin_nodes`]).

use axum::body::Body;
use http::request::Parts;
use http::{Method, StatusCode};
use serde::Deserialize;

use super::encode::{self, Response};
use super::{ServerState, read_body};
use crate::error::ApiError;
use crate::faults::{FaultConfig, FaultRule};

/// The body of `PUT /_sim/faults`. Rules are replaced only when given.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsUpdate {
    rules: Option<Vec<FaultRule>>,
    seed: Option<u64>,
    #[serde(default)]
    drop_watches: bool,
    #[serde(default)]
    restart_api_server: bool,
}

pub async fn handle(state: &ServerState, parts: &Parts, body: Body) -> Response {
    let result = match (parts.uri.path(), &parts.method) {
        ("/_sim/stats", &Method::GET) => Ok(encode::json(StatusCode::OK, &state.stats.snapshot())),
        ("/_sim/stats", &Method::DELETE) => {
            state.stats.reset();
            Ok(encode::json(StatusCode::OK, &state.stats.snapshot()))
        }
        ("/_sim/objects", &Method::GET) => Ok(encode::json(StatusCode::OK, &state.store.counts())),
        ("/_sim/faults", &Method::GET) => Ok(encode::json(StatusCode::OK, &state.faults.config())),
        ("/_sim/faults", &Method::PUT) => put_faults(state, body).await,
        (path, _) if path == "/_sim/nodes" || path.starts_with("/_sim/nodes/") => {
            super::admin_nodes::handle(state, parts, body).await
        }
        (path, method) => Err(ApiError::new(
            404,
            "NotFound",
            format!(
                "no simulator endpoint {method} {path}: GET/DELETE /_sim/stats, GET /_sim/objects, GET/PUT /_sim/faults, GET/POST /_sim/nodes, PATCH/DELETE /_sim/nodes/NAME"
            ),
        )),
    };
    result.unwrap_or_else(|err| encode::error(&err))
}

async fn put_faults(state: &ServerState, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let update: FaultsUpdate = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the faults in the request body are not valid: {e}")))?;
    let current = state.faults.config();
    if update.rules.is_some() || update.seed.is_some() {
        state.faults.set(FaultConfig {
            rules: update.rules.unwrap_or(current.rules),
            seed: update.seed.unwrap_or(current.seed),
        });
    }
    if update.drop_watches {
        state.faults.drop_watches();
    }
    if update.restart_api_server {
        // The restart drops this very connection: it happens once the answer is on its way.
        state.faults.request_restart();
    }
    Ok(encode::json(StatusCode::OK, &state.faults.config()))
}
