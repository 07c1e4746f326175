//! Discovery documents in their plain (unaggregated) JSON forms, built from the registry at
//! request time so CRD types appear and disappear as they are established and removed.
//! OpenAPI: a minimal v3 surface and an empty v2 document (see [`super::openapi`]).

use serde_json::{Value, json};

use super::paths::Route;
use super::{ServerState, not_found};
use crate::error::ApiError;
use crate::resources::ResourceType;

/// The version the simulator claims to be.
pub const GIT_VERSION: &str = "v1.33.0-kip-sim";

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

pub fn document(state: &ServerState, route: Route) -> Result<Value, ApiError> {
    let registry = state.store.registry();
    match route {
        Route::Version => Ok(version()),
        Route::CoreVersions => Ok(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address.to_string()}],
        })),
        Route::Groups => {
            let groups: Vec<Value> = registry
                .group_versions()
                .into_iter()
                .filter(|(g, _)| !g.is_empty())
                .fold(Vec::<(String, Vec<String>)>::new(), |mut acc, (g, v)| {
                    match acc.iter_mut().find(|(name, _)| *name == g) {
                        Some((_, versions)) => versions.push(v),
                        None => acc.push((g, vec![v])),
                    }
                    acc
                })
                .into_iter()
                .map(|(g, versions)| group(&g, &versions))
                .collect();
            Ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        Route::Group(name) => {
            let versions: Vec<String> =
                registry.group_versions().into_iter().filter(|(g, _)| *g == name).map(|(_, v)| v).collect();
            if versions.is_empty() || name.is_empty() {
                return Err(not_found());
            }
            let mut doc = group(&name, &versions);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            Ok(doc)
        }
        Route::Resources { group, version } => {
            let types: Vec<&ResourceType> =
                registry.all().filter(|t| t.group == group && t.version == version).collect();
            if types.is_empty() {
                return Err(not_found());
            }
            let group_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            let mut resources = Vec::new();
            for t in types {
                resources.push(resource(t));
                if t.status_subresource {
                    resources.push(json!({
                        "name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                        "kind": t.kind, "verbs": ["get", "patch", "update"],
                    }));
                }
            }
            Ok(
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
            )
        }
        Route::OpenApiIndex => Ok(super::openapi::index(&registry)),
        Route::OpenApiGroupVersion { group, version } => {
            super::openapi::group_version(&registry, &group, &version).ok_or_else(not_found)
        }
        Route::OpenApi => Err(not_found()),
        Route::NotFound | Route::Health | Route::OpenApiV2 | Route::Resource(_) => Err(not_found()),
    }
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn group(name: &str, versions: &[String]) -> Value {
    let entries: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    let preferred = entries.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": entries, "preferredVersion": preferred})
}

fn resource(t: &ResourceType) -> Value {
    let mut r = json!({
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": VERBS,
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    r
}
