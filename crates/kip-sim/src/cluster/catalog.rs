//! The simulated image registry: which content each tag points to, how large it is, and which
//! references fail (missing, unauthorized). Kubelets resolve references here (one manifest
//! request each) and download by digest.
//!
//! A reference nobody published resolves to a stable made-up digest of the default size, so
//! that any image works out of the box; publishing gives a tag new content, and a fault makes a
//! reference fail until it is published again or the fault is cleared.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

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
    faults: HashMap<String, Fault>,
    latency: HashMap<String, Duration>,
}

/// The registry every simulated node pulls from.
#[derive(Debug)]
pub struct ImageCatalog {
    state: RwLock<CatalogState>,
    default_size: u64,
    default_latency: Duration,
}

impl ImageCatalog {
    /// `default_size` for references nobody published; `default_latency` (simulated) for every
    /// manifest request unless set per image.
    pub fn new(default_size: u64, default_latency: Duration) -> Self {
        ImageCatalog { state: RwLock::new(CatalogState::default()), default_size, default_latency }
    }

    /// Pushes content under a reference (a tag moves to the new digest) and clears any fault.
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

    /// Makes the reference fail with "not found" until published or cleared.
    pub fn set_image_missing(&self, reference: &str) {
        self.state.write().faults.insert(ImageRef::parse(reference).name(), Fault::Missing);
    }

    /// Makes the reference fail with "pull access denied" until published or cleared.
    pub fn set_image_unauthorized(&self, reference: &str) {
        self.state.write().faults.insert(ImageRef::parse(reference).name(), Fault::Unauthorized);
    }

    pub fn clear_image_fault(&self, reference: &str) {
        self.state.write().faults.remove(&ImageRef::parse(reference).name());
    }

    /// Sets the registry latency (simulated) for one reference.
    pub fn set_image_latency(&self, reference: &str, latency: Duration) {
        self.state.write().latency.insert(ImageRef::parse(reference).name(), latency);
    }

    pub fn latency(&self, image: &ImageRef) -> Duration {
        self.state.read().latency.get(&image.name()).copied().unwrap_or(self.default_latency)
    }

    /// A manifest request: the digest and size the reference points to now.
    pub fn resolve(&self, image: &ImageRef) -> Result<ResolvedImage, RegistryError> {
        let name = image.name();
        let state = self.state.read();
        match state.faults.get(&name) {
            Some(Fault::Missing) => return Err(RegistryError::NotFound(name)),
            Some(Fault::Unauthorized) => return Err(RegistryError::Unauthorized(name)),
            None => {}
        }
        let (digest, size_bytes) = match (&image.digest, state.tags.get(&name)) {
            (Some(digest), _) => {
                let size = state.sizes.get(&format!("{}@{digest}", image.repo)).copied();
                (digest.clone(), size.unwrap_or(self.default_size))
            }
            (None, Some(published)) => (published.digest.clone(), published.size_bytes),
            (None, None) => (implicit_digest(&name), self.default_size),
        };
        Ok(ResolvedImage { reference: image.clone(), digest, size_bytes })
    }
}

/// The digest an unpublished reference resolves to: stable, and different for every name.
fn implicit_digest(name: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(name.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_container_runtimes() {
        let cases = [
            ("nginx", "docker.io/library/nginx", Some("latest"), None),
            ("nginx:1.27", "docker.io/library/nginx", Some("1.27"), None),
            ("user/app", "docker.io/user/app", Some("latest"), None),
            (
                "quay.io/eclipse/kubernetes-image-puller:next",
                "quay.io/eclipse/kubernetes-image-puller",
                Some("next"),
                None,
            ),
            ("localhost:5000/app", "localhost:5000/app", Some("latest"), None),
            ("localhost:5000/app:v1", "localhost:5000/app", Some("v1"), None),
            ("localhost/app", "localhost/app", Some("latest"), None),
            ("nginx@sha256:abc", "docker.io/library/nginx", None, Some("sha256:abc")),
            ("reg.io/a/b:t@sha256:abc", "reg.io/a/b", Some("t"), Some("sha256:abc")),
        ];
        for (input, repo, tag, digest) in cases {
            let r = ImageRef::parse(input);
            assert_eq!(
                (r.repo.as_str(), r.tag.as_deref(), r.digest.as_deref()),
                (repo, tag, digest),
                "reference {input}"
            );
        }
        assert_eq!(ImageRef::parse("nginx").name(), "docker.io/library/nginx:latest");
        assert_eq!(ImageRef::parse("nginx@sha256:abc").name(), "docker.io/library/nginx@sha256:abc");
    }

    #[test]
    fn unpublished_references_resolve_to_stable_digests() {
        let catalog = ImageCatalog::new(1000, Duration::ZERO);
        let a = catalog.resolve(&ImageRef::parse("a:1")).expect("resolves");
        let again = catalog.resolve(&ImageRef::parse("docker.io/library/a:1")).expect("resolves");
        let b = catalog.resolve(&ImageRef::parse("b:1")).expect("resolves");
        assert_eq!(a, again);
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.size_bytes, 1000);
        assert!(a.id().starts_with("docker.io/library/a@sha256:"));
    }

    #[test]
    fn publishing_moves_a_tag_and_clears_faults() {
        let catalog = ImageCatalog::new(1000, Duration::ZERO);
        catalog.set_image_missing("app:1");
        assert!(matches!(catalog.resolve(&ImageRef::parse("app:1")), Err(RegistryError::NotFound(_))));
        catalog.publish_image("app:1", "1111", 42);
        let resolved = catalog.resolve(&ImageRef::parse("app:1")).expect("published");
        assert_eq!((resolved.digest.as_str(), resolved.size_bytes), ("sha256:1111", 42));
        let pinned = catalog.resolve(&ImageRef::parse("app@sha256:1111")).expect("by digest");
        assert_eq!(pinned.size_bytes, 42);
        catalog.set_image_unauthorized("app:1");
        let err = catalog.resolve(&ImageRef::parse("app:1")).expect_err("unauthorized");
        assert!(err.to_string().contains("pull access denied"), "{err}");
        catalog.clear_image_fault("app:1");
        assert!(catalog.resolve(&ImageRef::parse("app:1")).is_ok());
    }

    #[test]
    fn latency_is_per_image_with_a_default() {
        let catalog = ImageCatalog::new(1, Duration::from_millis(200));
        catalog.set_image_latency("slow:1", Duration::from_secs(3));
        assert_eq!(catalog.latency(&ImageRef::parse("slow:1")), Duration::from_secs(3));
        assert_eq!(catalog.latency(&ImageRef::parse("fast:1")), Duration::from_millis(200));
    }
}
