//! A minimal OpenAPI v3 surface: no schemas, only one PATCH operation per kind declaring the
//! query parameters the server accepts (`fieldValidation`, `fieldManager`, `dryRun`, `force`).
//!
//! Why serve anything: kubectl's `create`/`apply` refuse to run ("failed to download openapi")
//! unless they can tell from OpenAPI that the server validates fields itself; with this
//! document they send the request with `fieldValidation` and leave validation to the server.
//! The PATCH operations list no request body types, so kubectl computes client-side apply
//! patches from its built-in types rather than from (absent) schemas.
//!
//! `/openapi/v2` is an empty document. kubectl falls back to it to validate documents the v3
//! surface does not cover, such as a `v1 List` (what `oc process` prints): with no definitions,
//! nothing is checked client side and the server validates each item. Clients ask for v2 in
//! protobuf, in which an empty document is an empty body.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::discovery::GIT_VERSION;
use crate::resources::{Registry, ResourceType};

/// As the API server labels it (the `@` of the Accept value is not valid in a media type).
const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `/openapi/v2`: an empty document, in protobuf when asked for, else in JSON.
pub fn v2(headers: &http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let accept = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("protobuf") {
        ([(http::header::CONTENT_TYPE, OPENAPI_V2_PROTOBUF)], Vec::<u8>::new()).into_response()
    } else {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": {}, "definitions": {}});
        ([(http::header::CONTENT_TYPE, "application/json")], doc.to_string()).into_response()
    }
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

fn types_of<'a>(registry: &'a Registry, group: &'a str, version: &'a str) -> impl Iterator<Item = &'a ResourceType> {
    registry.all().filter(move |t| t.group == group && t.version == version)
}

/// `/openapi/v3`: one entry per group version, its URL carrying a hash of what it serves.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, version) in registry.group_versions() {
        let mut hasher = Sha256::new();
        for t in types_of(registry, &group, &version) {
            hasher.update(t.plural.as_bytes());
            hasher.update(t.kind.as_bytes());
            hasher.update([u8::from(t.namespaced)]);
        }
        let hash = hex::encode(&hasher.finalize()[..16]).to_uppercase();
        let path = gv_path(&group, &version);
        paths.insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}));
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`; `None` for a group version not served.
pub fn group_version(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let parameters: Vec<Value> = ["dryRun", "fieldManager", "fieldValidation", "force"]
        .iter()
        .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    for t in types_of(registry, group, version) {
        let base = format!("/{}", gv_path(group, version));
        let path = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{base}/{}/{{name}}", t.plural)
        };
        let operation = json!({
            "operationId": format!("patch{}", t.kind),
            "parameters": parameters,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
        });
        paths.insert(path, json!({"patch": operation}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_patch_operation_accepting_field_validation() {
        let registry = Registry::new(false);
        let doc = group_version(&registry, "apps", "v1").expect("apps/v1");
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]["patch"];
        assert_eq!(
            op["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "DaemonSet"})
        );
        assert!(op["parameters"].as_array().expect("params").iter().any(|p| p["name"] == "fieldValidation"));
        assert!(op.get("requestBody").is_none(), "no strategic merge schema is promised");
        let core = group_version(&registry, "", "v1").expect("v1");
        assert!(core["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object(), "cluster-scoped path");
        assert!(group_version(&registry, "nope.io", "v1").is_none());
    }

    #[test]
    fn index_points_at_each_group_version() {
        let index = index(&Registry::new(false));
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().expect("url");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(index["paths"]["api/v1"].is_object());
    }
}
