//! The HTTP API server: Kubernetes REST paths and verbs over the [`Store`], spoken well enough
//! that kube-rs and kubectl take it for a cluster.
//!
//! A request goes: admin paths (`/_sim/*`, never faulted) aside; the path is parsed
//! ([`paths`]) and its type looked up in the store's registry at request time (CRD types come
//! and go); the verb is derived from method and path; the request is counted ([`stats`]),
//! faults are applied ([`crate::faults`]), and a handler per verb family answers ([`read`],
//! [`watch`], [`write`], [`delete`]). Every failure is a `kind: Status` body.

mod admin;
mod admin_nodes;
mod delete;
mod discovery;
mod encode;
mod listen;
mod negotiate;
mod openapi;
mod paging;
mod paths;
mod query;
mod read;
mod registry;
mod selectors;
pub mod stats;
mod table;
mod watch;
mod write;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;

use crate::cluster::catalog::ImageCatalog;
use crate::error::ApiError;
use crate::faults::{Faults, fault_error};
use crate::resources::{GroupResource, ResourceType};
use crate::store::{ObjectKey, Part, Store};
pub use encode::Response;
pub use listen::ApiServer;
use negotiate::Output;
use paths::{ResourcePath, Route};
use query::Query;
pub use stats::{Stats, StatsSnapshot, Verb};
use table::IncludeObject;

/// The largest request body accepted (the real API server takes 3 MiB; benchmarks write more).
const MAX_BODY: usize = 64 << 20;

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Where to listen; port 0 lets the OS choose.
    pub listen: SocketAddr,
    /// How often a watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// How long a list's continue token stays valid.
    pub continue_ttl: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            bookmark_interval: Duration::from_secs(1),
            continue_ttl: Duration::from_secs(300),
        }
    }
}

/// Everything a request handler reads.
pub struct ServerState {
    pub store: Arc<Store>,
    pub faults: Arc<Faults>,
    pub stats: Stats,
    pub options: ServerOptions,
    /// The address actually listened on.
    pub address: SocketAddr,
    pager: paging::Pager,
    encoded: watch::EncodedEvents,
    /// Cancelled on shutdown: watches end and connections close.
    shutdown: CancellationToken,
    /// The simulated cluster, once it runs, for the node endpoints under `/_sim/nodes`.
    pub cluster: OnceLock<crate::cluster::Cluster>,
    /// The image catalog served under `/v2/` (see [`ServerState::serve_registry`]).
    registry: OnceLock<Arc<ImageCatalog>>,
}

/// One resource request, resolved.
pub struct ApiRequest {
    pub rt: ResourceType,
    pub path: ResourcePath,
    pub query: Query,
    pub headers: HeaderMap,
    pub verb: Verb,
    pub output: Output,
    pub include: IncludeObject,
}

impl ApiRequest {
    pub fn group_resource(&self) -> GroupResource {
        self.rt.group_resource()
    }

    /// The namespace the request is confined to (`None`: all, or a cluster-scoped type).
    pub fn namespace(&self) -> Option<&str> {
        if self.rt.namespaced { self.path.namespace.as_deref() } else { None }
    }

    pub fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or("")
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(self.namespace().unwrap_or(""), self.name())
    }

    pub fn part(&self) -> Part {
        if self.path.subresource.as_deref() == Some("status") { Part::Status } else { Part::Main }
    }

    /// The field manager of a write: `fieldManager`, else the User-Agent's first word, as the
    /// API server defaults it.
    pub fn field_manager(&self) -> String {
        if let Some(manager) = self.query.non_empty("fieldManager") {
            return manager.to_string();
        }
        self.headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}

fn not_found() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource")
}

impl ServerState {
    pub(crate) fn new(
        store: Arc<Store>,
        faults: Arc<Faults>,
        options: ServerOptions,
        address: SocketAddr,
        shutdown: CancellationToken,
    ) -> Self {
        ServerState {
            pager: paging::Pager::new(options.continue_ttl),
            store,
            faults,
            stats: Stats::default(),
            options,
            address,
            encoded: watch::EncodedEvents::default(),
            shutdown,
            cluster: OnceLock::new(),
            registry: OnceLock::new(),
        }
    }

    /// Serves `catalog` over the OCI distribution API under `/v2/` (once; later calls are
    /// ignored).
    pub fn serve_registry(&self, catalog: Arc<ImageCatalog>) {
        let _ = self.registry.set(catalog);
    }
}

/// Answers one HTTP request.
pub async fn handle(state: Arc<ServerState>, request: http::Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return admin::handle(&state, &parts, body).await;
    }
    if path == "/v2" || path.starts_with("/v2/") {
        return registry::handle(&state, &parts);
    }
    let query = Query::parse(parts.uri.query());
    let result = match paths::parse(path) {
        Route::Health => Ok(encode::text(StatusCode::OK, "ok")),
        Route::OpenApiV2 => Ok(openapi::v2(&parts.headers)),
        Route::Resource(resource) => resource_request(&state, parts.method, parts.headers, resource, query, body).await,
        route => discovery_request(&state, &parts.method, &parts.headers, route).await,
    };
    result.unwrap_or_else(|err| encode::error(&err))
}

async fn discovery_request(
    state: &Arc<ServerState>,
    method: &Method,
    headers: &HeaderMap,
    route: Route,
) -> Result<Response, ApiError> {
    if method != Method::GET {
        return Err(ApiError::method_not_allowed(format!("the server does not allow this method ({method}) here")));
    }
    state.stats.record(Verb::Get, "discovery");
    apply_faults(state, Verb::Get, "", "discovery", "").await?;
    // Aggregated discovery is not spoken: the plain document, typed `application/json`, makes
    // clients fall back to the per-group documents.
    let _ = negotiate::output(headers);
    discovery::document(state, route).map(|doc| encode::json(StatusCode::OK, &doc))
}

async fn apply_faults(state: &ServerState, verb: Verb, group: &str, plural: &str, name: &str) -> Result<(), ApiError> {
    let decision = state.faults.decide(verb, group, plural);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.fail.and_then(|f| fault_error(&f, group, plural, name)) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The verb the API server would see in a request.
fn verb_of(method: &Method, path: &ResourcePath, query: &Query) -> Result<Verb, ApiError> {
    let watch = path.legacy_watch || query.flag("watch")?;
    let named = path.name.is_some();
    let verb = match *method {
        Method::GET if watch => Verb::Watch,
        Method::GET if named => Verb::Get,
        Method::GET => Verb::List,
        Method::POST if !named => Verb::Create,
        Method::PUT if named => Verb::Update,
        Method::PATCH if named => Verb::Patch,
        Method::DELETE if named => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            )));
        }
    };
    Ok(verb)
}

fn resolve(state: &ServerState, path: &ResourcePath) -> Result<ResourceType, ApiError> {
    let rt = state.store.registry().lookup(&path.group, &path.version, &path.plural).cloned().ok_or_else(not_found)?;
    if path.namespace.is_some() && !rt.namespaced {
        return Err(not_found());
    }
    if rt.namespaced && path.name.is_some() && path.namespace.is_none() {
        return Err(not_found());
    }
    match path.subresource.as_deref() {
        None => {}
        Some("status") if rt.status_subresource => {}
        Some(_) => return Err(not_found()),
    }
    Ok(rt)
}

async fn resource_request(
    state: &Arc<ServerState>,
    method: Method,
    headers: HeaderMap,
    path: ResourcePath,
    query: Query,
    body: Body,
) -> Result<Response, ApiError> {
    let rt = resolve(state, &path)?;
    let verb = verb_of(&method, &path, &query)?;
    if path.subresource.is_some() && !matches!(verb, Verb::Get | Verb::Update | Verb::Patch) {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        )));
    }
    state.stats.record(verb, &rt.group_resource().to_string());
    apply_faults(state, verb, &rt.group, &rt.plural, path.name.as_deref().unwrap_or("")).await?;
    let output = negotiate::output(&headers)?;
    let include = IncludeObject::parse(query.get("includeObject"))?;
    let request = ApiRequest { rt, path, query, headers, verb, output, include };
    let body = if verb.is_write() { read_body(body).await? } else { Bytes::new() };
    match verb {
        Verb::Get => read::get(state, &request),
        Verb::List => read::list(state, &request),
        Verb::Watch => watch::watch(state, &request),
        Verb::Create => write::create(state, &request, &body),
        Verb::Update => write::update(state, &request, &body),
        Verb::Patch => write::patch(state, &request, &body),
        Verb::Delete => delete::delete(state, &request, &body),
        Verb::DeleteCollection => delete::delete_collection(state, &request, &body),
    }
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(ApiError::new(413, "RequestEntityTooLarge", format!("reading the request body failed: {e}"))),
    }
}
