//! The simulated image registry: which content each tag points to, how large it is, its
//! manifest, and which references fail (missing, unauthorized). Kubelets resolve references here
//! (one manifest request each) and download by digest; the API server serves the same catalog
//! over the OCI distribution API (`server::registry`), so a registry client resolves the very
//! digests the nodes pull.
//!
//! A reference nobody published resolves to a stable generated manifest of the default size, so
//! that any image works out of the box; publishing gives a tag new content, and a fault makes a
//! reference fail until it is published again or the fault is cleared.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The media type of every manifest the catalog generates.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The credentials that unlock, over the HTTP registry, references marked unauthorized (as a
/// private repository needs a pull secret). Kubelets have none: their pulls of such
/// references keep failing.
pub const REGISTRY_USERNAME: &str = "kip-sim";
pub const REGISTRY_PASSWORD: &str = "kip-sim-registry-password";

/// A parsed, normalised image reference, as container runtimes name images:
/// `nginx` is `docker.io/library/nginx:latest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host and path: `docker.io/library/nginx`.
    pub repo: String,
    pub tag: Option<String>,
    /// `sha256:<hex>` when the reference pins a digest.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Self {
        let reference = reference.trim();
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(normalize_digest(digest))),
            None => (reference, None),
        };
        let last_slash = name.rfind('/');
        let (name, tag) = match name.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&name[..colon], Some(name[colon + 1..].to_string()))
            }
            _ => (name, None),
        };
        let repo = match name.split_once('/') {
            Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => name.to_string(),
            Some(_) => format!("docker.io/{name}"),
            None => format!("docker.io/library/{name}"),
        };
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        ImageRef { repo, tag, digest }
    }

    /// The name a runtime shows for it: `repo:tag`, or `repo@digest` for a pinned reference.
    pub fn name(&self) -> String {
        match (&self.tag, &self.digest) {
            (_, Some(digest)) => format!("{}@{digest}", self.repo),
            (Some(tag), None) => format!("{}:{tag}", self.repo),
            (None, None) => self.repo.clone(),
        }
    }
}

/// `sha256:<hex>`, whether or not the algorithm was written.
pub fn normalize_digest(digest: &str) -> String {
    if digest.contains(':') { digest.to_string() } else { format!("sha256:{digest}") }
}

/// What a registry returns for a resolvable reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    pub reference: ImageRef,
    pub digest: String,
    pub size_bytes: u64,
}

impl ResolvedImage {
    /// The image's identity on a node: `repo@sha256:...` (what `imageID` shows).
    pub fn id(&self) -> String {
        format!("{}@{}", self.reference.repo, self.digest)
    }
}

/// Why the registry refused a reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("failed to pull and unpack image \"{0}\": failed to resolve reference \"{0}\": {0}: not found")]
    NotFound(String),
    #[error(
        "failed to pull and unpack image \"{0}\": failed to resolve reference \"{0}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    )]
    Unauthorized(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Missing,
    Unauthorized,
}

/// A failure of the whole HTTP registry (kubelets, which pull through the catalog directly, do
/// not see it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryFault {
    /// Every request gets `503 Service Unavailable`.
    Unavailable,
    /// Every request gets `429 Too Many Requests` with this `Retry-After` (whole seconds).
    RateLimited { retry_after: Duration },
}

/// A manifest as the registry serves it: its digest is the SHA-256 of `body`, except for
/// content published under a digest of the caller's choosing ([`ImageCatalog::publish_image`]),
/// which keeps that digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub media_type: &'static str,
    pub body: Arc<[u8]>,
}

/// Requests the HTTP registry answered, by kind (for benchmarks of registry load).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistryRequests {
    /// `GET /v2/`.
    pub ping: u64,
    pub manifest_head: u64,
    pub manifest_get: u64,
    /// Answered 401, 404, 429 or 503.
    pub refused: u64,
}

impl RegistryRequests {
    pub fn total(&self) -> u64 {
        self.ping + self.manifest_head + self.manifest_get
    }
}

/// What a registry request was, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryRequestKind {
    Ping,
    ManifestHead,
    ManifestGet,
}

#[derive(Debug, Default)]
struct RequestCounters {
    ping: AtomicU64,
    manifest_head: AtomicU64,
    manifest_get: AtomicU64,
    refused: AtomicU64,
}

/// A manifest's bytes, shared.
type ManifestBody = Arc<[u8]>;

#[derive(Clone, Debug)]
struct Published {
    digest: String,
    size_bytes: u64,
}

#[derive(Debug, Default)]
struct CatalogState {
    /// Tag name (`repo:tag`) to content.
    tags: HashMap<String, Published>,
    /// Image id (`repo@digest`) to size, for digests published or handed out.
    sizes: HashMap<String, u64>,
    /// Image id to manifest body, for content whose manifest was generated.
    manifests: HashMap<String, Arc<[u8]>>,
    faults: HashMap<String, Fault>,
    latency: HashMap<String, Duration>,
    registry_fault: Option<RegistryFault>,
}

/// The registry every simulated node pulls from.
#[derive(Debug)]
pub struct ImageCatalog {
    state: RwLock<CatalogState>,
    default_size: u64,
    default_latency: Duration,
    requests: RequestCounters,
}

impl ImageCatalog {
    /// `default_size` for references nobody published; `default_latency` (simulated) for every
    /// manifest request unless set per image.
    pub fn new(default_size: u64, default_latency: Duration) -> Self {
        ImageCatalog {
            state: RwLock::new(CatalogState::default()),
            default_size,
            default_latency,
            requests: RequestCounters::default(),
        }
    }

    /// Pushes content under a reference (a tag moves to the new digest) and clears any fault.
    /// The digest is the caller's: the manifest the HTTP registry serves for it is generated and
    /// does not hash to it (use [`ImageCatalog::publish_content`] where that matters).
    pub fn publish_image(&self, reference: &str, digest: &str, size_bytes: u64) {
        let image = ImageRef::parse(reference);
        let digest = normalize_digest(digest);
        let mut state = self.state.write();
        state.faults.remove(&image.name());
        state.sizes.insert(format!("{}@{digest}", image.repo), size_bytes);
        if image.digest.is_none() {
            state.tags.insert(image.name(), Published { digest, size_bytes });
        }
    }

    /// Pushes new content under a tag, as a registry push does: an OCI manifest generated from
    /// `content` (any text telling versions apart, e.g. `v2`) and the size, whose SHA-256 is the
    /// digest returned. The same arguments always give the same digest. Clears any fault.
    pub fn publish_content(&self, reference: &str, content: &str, size_bytes: u64) -> String {
        let image = ImageRef::parse(reference);
        let body = generated_manifest(&image.repo, content, size_bytes);
        let digest = sha256_digest(&body);
        let id = format!("{}@{digest}", image.repo);
        let mut state = self.state.write();
        state.faults.remove(&image.name());
        state.sizes.insert(id.clone(), size_bytes);
        state.manifests.insert(id, body);
        if image.digest.is_none() {
            state.tags.insert(image.name(), Published { digest: digest.clone(), size_bytes });
        }
        digest
    }

    /// Makes the reference fail with "not found" until published or cleared.
    pub fn set_image_missing(&self, reference: &str) {
        self.state.write().faults.insert(ImageRef::parse(reference).name(), Fault::Missing);
    }

    /// Makes the reference fail with "pull access denied" until published or cleared. Over
    /// HTTP, a request with [`REGISTRY_USERNAME`] and [`REGISTRY_PASSWORD`] still gets it.
    pub fn set_image_unauthorized(&self, reference: &str) {
        self.state.write().faults.insert(ImageRef::parse(reference).name(), Fault::Unauthorized);
    }

    pub fn clear_image_fault(&self, reference: &str) {
        self.state.write().faults.remove(&ImageRef::parse(reference).name());
    }

    /// Makes every HTTP registry request fail (or, with `None`, heals it).
    pub fn set_registry_fault(&self, fault: Option<RegistryFault>) {
        self.state.write().registry_fault = fault;
    }

    pub fn registry_fault(&self) -> Option<RegistryFault> {
        self.state.read().registry_fault
    }

    /// Sets the registry latency (simulated) for one reference.
    pub fn set_image_latency(&self, reference: &str, latency: Duration) {
        self.state.write().latency.insert(ImageRef::parse(reference).name(), latency);
    }

    pub fn latency(&self, image: &ImageRef) -> Duration {
        self.state.read().latency.get(&image.name()).copied().unwrap_or(self.default_latency)
    }

    /// Whether the reference is marked unauthorized (it needs the registry's credentials).
    pub fn requires_credentials(&self, image: &ImageRef) -> bool {
        self.state.read().faults.get(&image.name()) == Some(&Fault::Unauthorized)
    }

    /// A manifest request: the digest and size the reference points to now.
    pub fn resolve(&self, image: &ImageRef) -> Result<ResolvedImage, RegistryError> {
        self.lookup(image, false).map(|(resolved, _)| resolved)
    }

    /// A manifest request over HTTP: as [`ImageCatalog::resolve`], with the manifest, where
    /// `authorized` (the request carried the registry's credentials) lifts the unauthorized
    /// mark, and a digest nobody published or handed out is not found.
    pub fn manifest(&self, image: &ImageRef, authorized: bool) -> Result<(ResolvedImage, Manifest), RegistryError> {
        let (resolved, body) = self.lookup(image, authorized)?;
        let body = match body {
            Some(body) => body,
            None if image.digest.is_none() || self.state.read().sizes.contains_key(&resolved.id()) => {
                // Published under the caller's digest: a manifest that names it.
                generated_manifest(&resolved.reference.repo, &resolved.digest, resolved.size_bytes)
            }
            None => return Err(RegistryError::NotFound(image.name())),
        };
        let manifest = Manifest { digest: resolved.digest.clone(), media_type: OCI_MANIFEST, body };
        Ok((resolved, manifest))
    }

    /// The digest, size and (when known) manifest body a reference points to.
    fn lookup(
        &self,
        image: &ImageRef,
        authorized: bool,
    ) -> Result<(ResolvedImage, Option<ManifestBody>), RegistryError> {
        let name = image.name();
        let state = self.state.read();
        match state.faults.get(&name) {
            Some(Fault::Missing) => return Err(RegistryError::NotFound(name)),
            Some(Fault::Unauthorized) if !authorized => return Err(RegistryError::Unauthorized(name)),
            _ => {}
        }
        let (digest, size_bytes) = match (&image.digest, state.tags.get(&name)) {
            (Some(digest), _) => {
                let size = state.sizes.get(&format!("{}@{digest}", image.repo)).copied();
                (digest.clone(), size.unwrap_or(self.default_size))
            }
            (None, Some(published)) => (published.digest.clone(), published.size_bytes),
            (None, None) => {
                let body = generated_manifest(&image.repo, &name, self.default_size);
                let digest = sha256_digest(&body);
                let id = format!("{}@{digest}", image.repo);
                if !state.manifests.contains_key(&id) {
                    // Handed out once, the content can be fetched by digest too.
                    drop(state);
                    let mut state = self.state.write();
                    state.sizes.insert(id.clone(), self.default_size);
                    state.manifests.insert(id, body.clone());
                }
                let resolved = ResolvedImage { reference: image.clone(), digest, size_bytes: self.default_size };
                return Ok((resolved, Some(body)));
            }
        };
        let body = state.manifests.get(&format!("{}@{digest}", image.repo)).cloned();
        Ok((ResolvedImage { reference: image.clone(), digest, size_bytes }, body))
    }

    /// Counts one HTTP registry request.
    pub fn count_request(&self, kind: RegistryRequestKind) {
        let counter = match kind {
            RegistryRequestKind::Ping => &self.requests.ping,
            RegistryRequestKind::ManifestHead => &self.requests.manifest_head,
            RegistryRequestKind::ManifestGet => &self.requests.manifest_get,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP registry request answered with an error.
    pub fn count_refusal(&self) {
        self.requests.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// HTTP registry requests answered so far.
    pub fn registry_requests(&self) -> RegistryRequests {
        RegistryRequests {
            ping: self.requests.ping.load(Ordering::Relaxed),
            manifest_head: self.requests.manifest_head.load(Ordering::Relaxed),
            manifest_get: self.requests.manifest_get.load(Ordering::Relaxed),
            refused: self.requests.refused.load(Ordering::Relaxed),
        }
    }
}

/// A small OCI image manifest for `repo`: one config and one layer of `size_bytes`, whose
/// digests derive from `content`, so different content gives a different manifest.
fn generated_manifest(repo: &str, content: &str, size_bytes: u64) -> Arc<[u8]> {
    let blob = |what: &str| sha256_digest(format!("{what}\n{repo}\n{content}").as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": blob("config"), "size": 2},
        "layers": [{"mediaType": OCI_LAYER, "digest": blob("layer"), "size": size_bytes}],
    });
    // A `Value` always serializes.
    serde_json::to_vec(&manifest).unwrap_or_default().into()
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
