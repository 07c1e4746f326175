//! Request paths: which document or which resource (type, namespace, name, subresource) a URL
//! path names, following the API server's URL layout.

/// What a request path names, before the resource type is looked up in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Version,
    /// `/healthz`, `/readyz`, `/livez` (and their sub-checks).
    Health,
    /// `/api`: the core API versions.
    CoreVersions,
    /// `/apis`: the group list.
    Groups,
    /// `/apis/GROUP`: one group.
    Group(String),
    /// `/api/v1` or `/apis/GROUP/VERSION`: the resources of a group version.
    Resources {
        group: String,
        version: String,
    },
    /// `/openapi/v3`: the OpenAPI v3 index.
    OpenApiIndex,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`.
    OpenApiGroupVersion {
        group: String,
        version: String,
    },
    /// `/openapi/v2`: an empty document (see `openapi::v2`).
    OpenApiV2,
    /// Any other `/openapi/...`: not served.
    OpenApi,
    Resource(ResourcePath),
    NotFound,
}

/// A path below a group version that names a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub plural: String,
    /// `namespaces/NS/...` form.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` form: a watch whatever the query says.
    pub legacy_watch: bool,
}

/// Splits a request path (without query) into a [`Route`].
pub fn parse(path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", "api", version] => {
            Route::OpenApiGroupVersion { group: String::new(), version: version.to_string() }
        }
        ["openapi", "v3", "apis", group, version] => {
            Route::OpenApiGroupVersion { group: group.to_string(), version: version.to_string() }
        }
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", ..] => Route::OpenApi,
        ["api"] => Route::CoreVersions,
        ["api", version] => Route::Resources { group: String::new(), version: version.to_string() },
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group(group.to_string()),
        ["apis", group, version] => Route::Resources { group: group.to_string(), version: version.to_string() },
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Route::NotFound,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let mut path = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        legacy_watch,
        ..ResourcePath::default()
    };
    // `namespaces/NS/status` and `namespaces/NS/finalize` are subresources of a namespace, not
    // a namespaced collection.
    let namespaced = match rest {
        ["namespaces", _, sub] => !matches!(*sub, "status" | "finalize"),
        ["namespaces", _, _, ..] => true,
        _ => false,
    };
    let rest = if namespaced {
        path.namespace = Some(rest[1].to_string());
        &rest[2..]
    } else {
        rest
    };
    match rest {
        [plural] => path.plural = plural.to_string(),
        [plural, name] => {
            path.plural = plural.to_string();
            path.name = Some(name.to_string());
        }
        [plural, name, sub] => {
            path.plural = plural.to_string();
            path.name = Some(name.to_string());
            path.subresource = Some(sub.to_string());
        }
        _ => return Route::NotFound,
    }
    Route::Resource(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(group: &str, plural: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Route {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: "v1".into(),
            plural: plural.into(),
            namespace: ns.map(String::from),
            name: name.map(String::from),
            subresource: sub.map(String::from),
            legacy_watch: false,
        })
    }

    #[test]
    fn paths_name_what_the_api_server_serves_there() {
        let cases = [
            ("/version", Route::Version),
            ("/healthz", Route::Health),
            ("/readyz/ping", Route::Health),
            ("/openapi/v2", Route::OpenApiV2),
            ("/openapi/v1", Route::OpenApi),
            ("/openapi/v3", Route::OpenApiIndex),
            ("/openapi/v3/api/v1", Route::OpenApiGroupVersion { group: "".into(), version: "v1".into() }),
            ("/openapi/v3/apis/apps/v1", Route::OpenApiGroupVersion { group: "apps".into(), version: "v1".into() }),
            ("/api", Route::CoreVersions),
            ("/apis", Route::Groups),
            ("/apis/apps", Route::Group("apps".into())),
            ("/api/v1", Route::Resources { group: "".into(), version: "v1".into() }),
            ("/apis/apps/v1", Route::Resources { group: "apps".into(), version: "v1".into() }),
            ("/api/v1/pods", res("", "pods", None, None, None)),
            ("/api/v1/namespaces", res("", "namespaces", None, None, None)),
            ("/api/v1/namespaces/kube-system", res("", "namespaces", None, Some("kube-system"), None)),
            ("/api/v1/namespaces/x/status", res("", "namespaces", None, Some("x"), Some("status"))),
            ("/api/v1/namespaces/x/finalize", res("", "namespaces", None, Some("x"), Some("finalize"))),
            ("/api/v1/namespaces/x/pods", res("", "pods", Some("x"), None, None)),
            ("/api/v1/namespaces/x/pods/p", res("", "pods", Some("x"), Some("p"), None)),
            ("/api/v1/namespaces/x/pods/p/status", res("", "pods", Some("x"), Some("p"), Some("status"))),
            ("/apis/apps/v1/namespaces/x/daemonsets/d", res("apps", "daemonsets", Some("x"), Some("d"), None)),
            ("/api/v1/nodes/n1/status", res("", "nodes", None, Some("n1"), Some("status"))),
            ("/api/v1/namespaces/x/pods/p/status/extra", Route::NotFound),
            ("/nope", Route::NotFound),
        ];
        for (path, want) in cases {
            assert_eq!(parse(path), want, "{path}");
        }
    }

    #[test]
    fn legacy_watch_prefix_is_recognised() {
        let Route::Resource(p) = parse("/api/v1/watch/namespaces/x/pods") else { panic!("not a resource") };
        assert!(p.legacy_watch);
        assert_eq!((p.plural.as_str(), p.namespace.as_deref()), ("pods", Some("x")));
    }
}
