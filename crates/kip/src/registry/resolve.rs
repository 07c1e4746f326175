//! Resolving one reference: `HEAD` the manifest with the OCI and Docker Accept types and read
//! `Docker-Content-Digest`, falling back to `GET` and hashing the body when a registry omits
//! the header; authenticating anonymously, with Basic credentials, or through the Bearer
//! token flow as the registry's `WWW-Authenticate` challenge asks; and turning every answer
//! into a result or a categorised error.

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::auth_cache::{KnownScheme, parse_token_response};
use super::challenge::{BearerChallenge, parse_challenges};
use super::client::{RegistryClient, RequestKind, Resolved, error_chain};
use super::credentials::{BasicCredentials, Credentials, RegistryCredential};
use super::error::RegistryError;
use super::rate_limit::retry_after;
use super::reference::{Reference, validate_digest};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Sent on every manifest request: without the index types a registry may answer with one
/// platform's manifest, and without the OCI types it may refuse OCI images.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";
const DIGEST_HEADER: &str = "docker-content-digest";
/// Registries refuse manifests above 4 MiB; a larger body is not a manifest.
const MAX_MANIFEST_BYTES: usize = 4 << 20;
const MAX_TOKEN_BYTES: usize = 1 << 20;
const NO_PULL_ACCESS: &str = "HTTP 401 with a token just issued for the pull scope: these credentials \
     have no pull access to the repository (it is private, or does not exist)";
/// Longest registry error text quoted in a message.
const MAX_REASON_CHARS: usize = 300;

/// One image being resolved with one candidate credential.
struct Target<'a> {
    reference: &'a Reference,
    image: String,
    credential: Option<&'a RegistryCredential>,
}

impl Target<'_> {
    fn registry(&self) -> &str {
        self.reference.registry()
    }

    fn basic(&self) -> Option<&BasicCredentials> {
        self.credential.and_then(|credential| credential.basic.as_ref())
    }

    fn unauthorized(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.registry().to_owned(),
            image: self.image.clone(),
            credentials_source: self.credential.filter(|c| c.basic.is_some()).map(|c| c.source.clone()),
            reason: reason.into(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::InvalidResponse {
            registry: self.registry().to_owned(),
            image: self.image.clone(),
            reason: reason.into(),
        }
    }

    fn request_failed(&self, error: &reqwest::Error) -> RegistryError {
        // Only registry-supplied values (a token, a realm) can make a request unbuildable.
        if error.is_builder() {
            return self.invalid(format!("its answer led to a request that cannot be sent: {}", error_chain(error)));
        }
        let reason =
            if error.is_timeout() { format!("no answer in time ({})", error_chain(error)) } else { error_chain(error) };
        RegistryError::Unreachable { registry: self.registry().to_owned(), image: self.image.clone(), reason }
    }
}

enum Authorization<'a> {
    Basic(&'a BasicCredentials),
    /// The token, and whether it was reused from the cache (and so may be stale).
    Bearer(SecretString, bool),
}

impl RegistryClient {
    /// Resolves a parsed reference, trying each matching credential in turn as the kubelet
    /// does, and anonymously when none matches.
    pub async fn resolve_reference(
        &self,
        reference: &Reference,
        credentials: &Credentials,
    ) -> Result<Resolved, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Ok(Resolved { digest: digest.to_owned(), media_type: None });
        }
        let image = reference.to_string();
        if let Some(retry_after) = self.rate_limits.remaining(reference.registry()) {
            return Err(RegistryError::RateLimited { registry: reference.registry().to_owned(), image, retry_after });
        }
        let candidates = credentials.lookup(reference);
        if candidates.is_empty() {
            return self.resolve_as(&Target { reference, image, credential: None }).await;
        }
        let mut last_error = None;
        for credential in candidates {
            let target = Target { reference, image: image.clone(), credential: Some(credential) };
            match self.resolve_as(&target).await {
                // Another secret may hold the right credentials.
                Err(error @ (RegistryError::Unauthorized { .. } | RegistryError::NotFound { .. })) => {
                    last_error = Some(error)
                }
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| RegistryError::NotFound { registry: reference.registry().to_owned(), image }))
    }

    async fn resolve_as(&self, target: &Target<'_>) -> Result<Resolved, RegistryError> {
        let url = self.manifest_url(target.reference);
        let head = self.send_authorized(Method::HEAD, &url, target).await?;
        match head.status() {
            StatusCode::OK => {
                if let Some(digest) = header_digest(head.headers(), target)? {
                    tracing::debug!(image = %target.image, %digest, "resolved");
                    return Ok(Resolved { digest, media_type: media_type(head.headers()) });
                }
            }
            // Some registries do not implement HEAD; GET works everywhere.
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {}
            _ => return Err(status_error(head, target).await),
        }
        let get = self.send_authorized(Method::GET, &url, target).await?;
        if get.status() != StatusCode::OK {
            return Err(status_error(get, target).await);
        }
        let declared = header_digest(get.headers(), target)?;
        let media_type = media_type(get.headers());
        let body = read_body(get, MAX_MANIFEST_BYTES, target).await?;
        let computed = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        let digest = match declared {
            Some(declared) if declared.starts_with("sha256:") && declared != computed => {
                return Err(
                    target.invalid(format!("the manifest hashes to {computed} but the registry declared {declared}"))
                );
            }
            Some(declared) => declared,
            None => computed,
        };
        tracing::debug!(image = %target.image, %digest, "resolved from the manifest body");
        Ok(Resolved { digest, media_type })
    }

    /// Sends a manifest request with what this registry is known to want, and on a 401
    /// answers its challenge once: Basic with the credentials, or a Bearer token fetched for
    /// the repository's pull scope.
    async fn send_authorized(&self, method: Method, url: &str, target: &Target<'_>) -> Result<Response, RegistryError> {
        let scope = format!("repository:{}:pull", target.reference.repository());
        let first = match self.auth.scheme(target.registry()) {
            Some(KnownScheme::Basic) => target.basic().map(Authorization::Basic),
            Some(KnownScheme::Bearer { realm, service }) => {
                Some(self.bearer(target, &realm, service.as_deref(), &scope, &scope).await?)
            }
            None => None,
        };
        let response = self.send_manifest_request(&method, url, first.as_ref(), target).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenges: Vec<_> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let second = if let Some(bearer) = BearerChallenge::find(&challenges) {
            if matches!(first, Some(Authorization::Bearer(_, false))) {
                return Err(target.unauthorized(NO_PULL_ACCESS));
            }
            self.auth.forget_token(target.registry(), &scope, target.basic());
            let requested_scope = bearer.scope.as_deref().unwrap_or(&scope);
            self.auth.remember_scheme(
                target.registry(),
                KnownScheme::Bearer { realm: bearer.realm.clone(), service: bearer.service.clone() },
            );
            self.bearer(target, &bearer.realm, bearer.service.as_deref(), &scope, requested_scope).await?
        } else if challenges.iter().any(|challenge| challenge.scheme == "basic") {
            self.auth.remember_scheme(target.registry(), KnownScheme::Basic);
            match (target.basic(), &first) {
                (Some(_), Some(Authorization::Basic(_))) => {
                    return Err(target.unauthorized("the username or password is wrong (HTTP 401)"));
                }
                (Some(basic), _) => Authorization::Basic(basic),
                (None, _) => {
                    return Err(target.unauthorized("the registry requires a username and password (HTTP 401)"));
                }
            }
        } else {
            let schemes: Vec<&str> = challenges.iter().map(|challenge| challenge.scheme.as_str()).collect();
            return Err(
                target.unauthorized(format!("HTTP 401 asking for authentication kip does not support: {schemes:?}"))
            );
        };
        let response = self.send_manifest_request(&method, url, Some(&second), target).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(target.unauthorized(match second {
                Authorization::Bearer(..) => NO_PULL_ACCESS,
                Authorization::Basic(_) => "HTTP 401: the username or password is wrong",
            }));
        }
        Ok(response)
    }

    async fn send_manifest_request(
        &self,
        method: &Method,
        url: &str,
        authorization: Option<&Authorization<'_>>,
        target: &Target<'_>,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.request(method.clone(), url).header(ACCEPT, MANIFEST_ACCEPT);
        request = match authorization {
            Some(Authorization::Basic(basic)) => request.basic_auth(basic.username(), Some(basic.password())),
            Some(Authorization::Bearer(token, _)) => request.bearer_auth(token.expose_secret()),
            None => request,
        };
        self.send(RequestKind::Manifest, request, target).await
    }

    /// A Bearer token for the scope: from the cache, or from the token endpoint (with the
    /// credentials, if any, as Basic auth).
    async fn bearer(
        &self,
        target: &Target<'_>,
        realm: &str,
        service: Option<&str>,
        cache_scope: &str,
        requested_scope: &str,
    ) -> Result<Authorization<'static>, RegistryError> {
        if let Some(token) = self.auth.token(target.registry(), cache_scope, target.basic()) {
            return Ok(Authorization::Bearer(token, true));
        }
        let mut url = reqwest::Url::parse(realm)
            .map_err(|_| target.invalid(format!("the token realm {realm:?} is not a URL")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.is_insecure(target.registry()) => {}
            "http" => return Err(target.invalid(format!(
                "the token realm {realm:?} is plain HTTP; credentials are only sent over HTTP to registries marked insecure"
            ))),
            _ => return Err(target.invalid(format!("the token realm {realm:?} is not an http(s) URL"))),
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", requested_scope);
        }
        let mut request = self.http.get(url);
        if let Some(basic) = target.basic() {
            request = request.basic_auth(basic.username(), Some(basic.password()));
        }
        let response = self.send(RequestKind::Token, request, target).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let status = response.status();
                return Err(target.unauthorized(format!(
                    "the token endpoint {realm} refused the request (HTTP {})",
                    status.as_u16()
                )));
            }
            _ => return Err(status_error(response, target).await),
        }
        let body = read_body(response, MAX_TOKEN_BYTES, target).await?;
        let (token, lifetime) = parse_token_response(&body).map_err(|reason| target.invalid(reason))?;
        self.auth.store_token(target.registry(), cache_scope, target.basic(), token.clone(), lifetime);
        Ok(Authorization::Bearer(token, false))
    }

    /// Sends one request, counts it, and turns a 429 into a rate-limit error that also holds
    /// back the registry's other requests.
    async fn send(
        &self,
        kind: RequestKind,
        request: RequestBuilder,
        target: &Target<'_>,
    ) -> Result<Response, RegistryError> {
        self.count(kind);
        let response = request.send().await.map_err(|error| target.request_failed(&error))?;
        tracing::trace!(registry = target.registry(), status = response.status().as_u16(), "registry answered");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let value = response.headers().get(RETRY_AFTER).and_then(|value| value.to_str().ok());
            let wait = retry_after(value, self.options.default_retry_after);
            self.rate_limits.block(target.registry(), wait);
            return Err(RegistryError::RateLimited {
                registry: target.registry().to_owned(),
                image: target.image.clone(),
                retry_after: wait,
            });
        }
        Ok(response)
    }
}

fn header_digest(headers: &HeaderMap, target: &Target<'_>) -> Result<Option<String>, RegistryError> {
    let Some(value) = headers.get(DIGEST_HEADER) else { return Ok(None) };
    let digest = value.to_str().map_err(|_| target.invalid("the Docker-Content-Digest header is not text"))?.trim();
    validate_digest(digest).map_err(|why| target.invalid(format!("the Docker-Content-Digest {digest:?} {why}")))?;
    Ok(Some(digest.to_owned()))
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next().unwrap_or_default().trim();
    (!media_type.is_empty()).then(|| media_type.to_owned())
}

async fn read_body(mut response: Response, limit: usize, target: &Target<'_>) -> Result<Vec<u8>, RegistryError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| target.request_failed(&error))? {
        if body.len() + chunk.len() > limit {
            return Err(target.invalid(format!("the answer is larger than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Maps an unexpected status to its category, quoting the registry's error codes and
/// messages (the distribution error format) when the body has them.
async fn status_error(response: Response, target: &Target<'_>) -> RegistryError {
    let status = response.status();
    let detail = read_body(response, 64 << 10, target).await.ok().and_then(|body| registry_error_text(&body));
    let reason = match detail {
        Some(detail) => format!("HTTP {}: {detail}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    let registry = target.registry().to_owned();
    let image = target.image.clone();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => target.unauthorized(reason),
        StatusCode::NOT_FOUND => RegistryError::NotFound { registry, image },
        status if status.is_server_error() => {
            RegistryError::ServerError { registry, image, status: status.as_u16(), reason }
        }
        _ => target.invalid(format!("unexpected {reason}")),
    }
}

/// `CODE: message; CODE: message` from `{"errors": [{"code": ..., "message": ...}]}`.
fn registry_error_text(body: &[u8]) -> Option<String> {
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = document.get("errors")?.as_array()?;
    let text = errors
        .iter()
        .map(|error| {
            let field = |name: &str| error.get(name).and_then(serde_json::Value::as_str).unwrap_or_default();
            format!("{}: {}", field("code"), field("message"))
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(text.chars().take(MAX_REASON_CHARS).collect())
}
