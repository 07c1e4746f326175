//! The simulated cluster's image catalog over the OCI distribution API, on the API server's
//! port: `GET /v2/`, and `HEAD`/`GET /v2/<name>/manifests/<tag or digest>` with
//! `Docker-Content-Digest` and the manifest media type negotiated from `Accept`. Errors carry
//! the distribution error JSON: 404 for unknown manifests, 401 with a Basic challenge for
//! references marked unauthorized (unless the request carries the catalog's credentials), and
//! 503 or 429 while a registry fault is set.
//!
//! Repository names are read as images of the registry the client addressed: a request for
//! `/v2/eclipse/che-theia/manifests/next` with `Host: 127.0.0.1:PORT` is the catalog's
//! `127.0.0.1:PORT/eclipse/che-theia:next`, the very reference the simulated nodes pull.

use axum::body::Body;
use base64::Engine as _;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::ServerState;
use super::encode::Response;
use crate::cluster::catalog::{
    ImageCatalog, ImageRef, OCI_MANIFEST, REGISTRY_PASSWORD, REGISTRY_USERNAME, RegistryError, RegistryFault,
    RegistryRequestKind,
};

const API_VERSION_HEADER: &str = "docker-distribution-api-version";
const DIGEST_HEADER: &str = "docker-content-digest";
const REALM: &str = "Basic realm=\"kip-sim registry\"";

/// Answers a request under `/v2`.
pub fn handle(state: &ServerState, parts: &Parts) -> Response {
    let Some(catalog) = state.registry.get() else {
        return distribution_error(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "this simulator runs no cluster, so no registry",
        );
    };
    let path = parts.uri.path();
    let method = &parts.method;
    if method != Method::GET && method != Method::HEAD {
        catalog.count_refusal();
        return distribution_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "only GET and HEAD are served");
    }
    if path == "/v2" || path == "/v2/" {
        catalog.count_request(RegistryRequestKind::Ping);
        return fault_response(catalog).unwrap_or_else(|| {
            let mut response = with_json(StatusCode::OK, b"{}".to_vec(), "application/json");
            response.headers_mut().insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
            response
        });
    }
    let Some((name, reference)) = path.strip_prefix("/v2/").and_then(|rest| rest.rsplit_once("/manifests/")) else {
        catalog.count_refusal();
        return distribution_error(StatusCode::NOT_FOUND, "UNSUPPORTED", "only manifests are served");
    };
    let kind =
        if method == Method::HEAD { RegistryRequestKind::ManifestHead } else { RegistryRequestKind::ManifestGet };
    catalog.count_request(kind);
    if let Some(response) = fault_response(catalog) {
        return response;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| state.address.to_string());
    if name.is_empty() || reference.is_empty() {
        catalog.count_refusal();
        return distribution_error(StatusCode::NOT_FOUND, "NAME_INVALID", "invalid repository name");
    }
    let separator = if reference.contains(':') { '@' } else { ':' };
    let image = ImageRef::parse(&format!("{host}/{name}{separator}{reference}"));
    let authorized = carries_credentials(parts);
    if catalog.requires_credentials(&image) && !authorized {
        catalog.count_refusal();
        let mut response = distribution_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        return response;
    }
    if !accepts_oci_manifest(parts) {
        catalog.count_refusal();
        return distribution_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "OCI manifest found, but the Accept header does not allow OCI manifests",
        );
    }
    match catalog.manifest(&image, authorized) {
        Ok((_, manifest)) => {
            let length = manifest.body.len();
            let body = if method == Method::HEAD { Vec::new() } else { manifest.body.to_vec() };
            let mut response = with_json(StatusCode::OK, body, manifest.media_type);
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            if let Ok(digest) = HeaderValue::from_str(&manifest.digest) {
                headers.insert(DIGEST_HEADER, digest);
            }
            response
        }
        Err(RegistryError::NotFound(_)) => {
            catalog.count_refusal();
            distribution_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown")
        }
        Err(RegistryError::Unauthorized(_)) => {
            catalog.count_refusal();
            let mut response = distribution_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
            response
        }
    }
}

/// The answer while the whole registry is failing.
fn fault_response(catalog: &ImageCatalog) -> Option<Response> {
    let fault = catalog.registry_fault()?;
    catalog.count_refusal();
    Some(match fault {
        RegistryFault::Unavailable => {
            distribution_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "service unavailable")
        }
        RegistryFault::RateLimited { retry_after } => {
            let mut response =
                distribution_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", "too many requests");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs()));
            response
        }
    })
}

/// Whether the request carries Basic credentials equal to the catalog's.
fn carries_credentials(parts: &Parts) -> bool {
    let Some(value) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    decoded == format!("{REGISTRY_USERNAME}:{REGISTRY_PASSWORD}").as_bytes()
}

/// The catalog holds OCI manifests only: a client must accept them (or say nothing, or accept
/// anything).
fn accepts_oci_manifest(parts: &Parts) -> bool {
    let mut values = parts.headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).peekable();
    if values.peek().is_none() {
        return true;
    }
    values
        .flat_map(|v| v.split(','))
        .map(|item| item.split(';').next().unwrap_or_default().trim())
        .any(|media| media == OCI_MANIFEST || media == "*/*" || media == "application/*")
}

fn with_json(status: StatusCode, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `{"errors": [{"code": ..., "message": ...}]}`, as distribution registries answer.
fn distribution_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]});
    let mut response = with_json(status, serde_json::to_vec(&body).unwrap_or_default(), "application/json");
    response.headers_mut().insert(API_VERSION_HEADER, HeaderValue::from_static("registry/2.0"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::get("/v2/x/manifests/1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn accept_negotiation() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (
                &[("accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")],
                true,
            ),
            (&[("accept", "application/vnd.docker.distribution.manifest.v2+json")], false),
            (&[("accept", "application/vnd.docker.distribution.manifest.v2+json"), ("accept", OCI_MANIFEST)], true),
            (&[("accept", "*/*;q=0.8")], true),
        ];
        for (headers, expected) in cases {
            assert_eq!(accepts_oci_manifest(&parts(headers)), *expected, "{headers:?}");
        }
    }

    #[test]
    fn only_the_catalog_credentials_count() {
        let basic = |user: &str, password: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
        };
        let right = basic(REGISTRY_USERNAME, REGISTRY_PASSWORD);
        let wrong = basic(REGISTRY_USERNAME, "guess");
        assert!(carries_credentials(&parts(&[("authorization", &right)])));
        assert!(!carries_credentials(&parts(&[("authorization", &wrong)])));
        assert!(!carries_credentials(&parts(&[("authorization", "Bearer abc")])));
        assert!(!carries_credentials(&parts(&[])));
    }
}
