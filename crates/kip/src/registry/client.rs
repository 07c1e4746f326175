//! The registry client: its options, the HTTP client it owns (rustls with ring, Mozilla and
//! system roots, HTTP only for registries marked insecure, a timeout on every request),
//! request counting, and resolving many images at once with a bound on requests in flight.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;

use super::auth_cache::AuthCache;
use super::credentials::Credentials;
use super::error::{ClientSetupError, RegistryError};
use super::rate_limit::RateLimits;
use super::reference::Reference;

/// How the client behaves; `Default` suits production.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Registries (`host[:port]` as written in references) reached over plain HTTP.
    /// Credentials and tokens for them travel unencrypted.
    pub insecure_registries: BTreeSet<String>,
    /// Limit on each whole request, connection and body included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Images resolved at once by [`RegistryClient::resolve_all`].
    pub max_in_flight: usize,
    /// Wait after a 429 that carries no usable `Retry-After`.
    pub default_retry_after: Duration,
    pub user_agent: String,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: BTreeSet::new(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_in_flight: 8,
            default_retry_after: Duration::from_secs(60),
            user_agent: concat!("kip/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A resolved image: the manifest digest the registry reports for the tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// `sha256:<hex>`.
    pub digest: String,
    /// The manifest's media type (an index, a manifest list, a manifest), when the registry
    /// said; `None` for an image pinned by digest, which is not looked up.
    pub media_type: Option<String>,
}

/// Requests sent so far, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `HEAD` and `GET` of manifests.
    pub manifest: u64,
    /// Requests to token endpoints.
    pub token: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.manifest + self.token
    }
}

#[derive(Clone, Copy)]
pub(crate) enum RequestKind {
    Manifest,
    Token,
}

/// Resolves image tags to manifest digests. Cheap to share: wrap it in an `Arc`.
pub struct RegistryClient {
    pub(crate) http: reqwest::Client,
    pub(crate) options: RegistryOptions,
    pub(crate) auth: AuthCache,
    pub(crate) rate_limits: RateLimits,
    manifest_requests: AtomicU64,
    token_requests: AtomicU64,
}

impl RegistryClient {
    pub fn new(options: RegistryOptions) -> Result<RegistryClient, ClientSetupError> {
        let insecure = Arc::new(options.insecure_registries.clone());
        // Never follow a redirect from HTTPS down to plain HTTP, except to a registry the
        // user marked insecure.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let url = attempt.url();
            if attempt.previous().len() > 5 {
                attempt.error("more than 5 redirects")
            } else if url.scheme() == "http" && !insecure.contains(&host_and_port(url)) {
                attempt.error("redirect to plain HTTP refused")
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(redirects)
            .user_agent(options.user_agent.clone())
            .build()
            .map_err(|error| ClientSetupError { reason: error_chain(&error) })?;
        Ok(RegistryClient {
            http,
            options,
            auth: AuthCache::default(),
            rate_limits: RateLimits::default(),
            manifest_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        })
    }

    /// The current manifest digest of `image`. An image pinned by digest resolves to that
    /// digest without a request.
    pub async fn resolve(&self, image: &str, credentials: &Credentials) -> Result<Resolved, RegistryError> {
        let reference = Reference::parse(image)?;
        self.resolve_reference(&reference, credentials).await
    }

    /// Resolves every image, at most `max_in_flight` at once, each distinct image once.
    /// Returns one result per input, in input order.
    pub async fn resolve_all<I>(
        &self,
        images: I,
        credentials: &Credentials,
    ) -> Vec<(String, Result<Resolved, RegistryError>)>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let images: Vec<String> = images.into_iter().map(Into::into).collect();
        let mut position: HashMap<&str, usize> = HashMap::new();
        let mut distinct: Vec<&str> = Vec::new();
        let slots: Vec<usize> = images
            .iter()
            .map(|image| {
                *position.entry(image.as_str()).or_insert_with(|| {
                    distinct.push(image.as_str());
                    distinct.len() - 1
                })
            })
            .collect();
        // The (lazy) futures are collected first: a stream that holds the closure over `&str`
        // makes the whole future unprovably `Send`, so it could not run in a spawned task.
        let lookups: Vec<_> = distinct.into_iter().map(|image| self.resolve(image, credentials)).collect();
        let results: Vec<Result<Resolved, RegistryError>> =
            futures::stream::iter(lookups).buffered(self.options.max_in_flight.max(1)).collect().await;
        images.iter().zip(slots).map(|(image, slot)| (image.clone(), results[slot].clone())).collect()
    }

    /// Requests sent since the client was made.
    pub fn request_counts(&self) -> RequestCounts {
        RequestCounts {
            manifest: self.manifest_requests.load(Ordering::Relaxed),
            token: self.token_requests.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count(&self, kind: RequestKind) {
        let counter = match kind {
            RequestKind::Manifest => &self.manifest_requests,
            RequestKind::Token => &self.token_requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn is_insecure(&self, registry: &str) -> bool {
        self.options.insecure_registries.contains(registry)
    }

    /// `http(s)://<api host>/v2/<repository>/manifests/<tag or digest>`.
    pub(crate) fn manifest_url(&self, reference: &Reference) -> String {
        let scheme = if self.is_insecure(reference.registry()) { "http" } else { "https" };
        format!(
            "{scheme}://{}/v2/{}/manifests/{}",
            reference.api_host(),
            reference.repository(),
            reference.manifest_reference()
        )
    }
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .field("auth", &self.auth)
            .field("requests", &self.request_counts())
            .finish_non_exhaustive()
    }
}

/// rustls with the ring provider; trusts Mozilla's roots (built in, so a `FROM scratch`
/// image works) plus whatever the system store holds (private CAs, `SSL_CERT_FILE`).
fn tls_config() -> Result<rustls::ClientConfig, ClientSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable system certificates are skipped: the built-in roots still apply.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ClientSetupError { reason: error.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn host_and_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// An error and its causes on one line; reqwest's own message alone rarely says what failed.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
        source = source.and_then(std::error::Error::source);
    }
    message
}
