//! Image references as the registry client needs them: which registry host to ask, which
//! repository, and which tag or digest, with Docker Hub's defaults filled in the way the
//! container runtimes and the kubelet normalize names (`nginx` is
//! `docker.io/library/nginx:latest`).
//!
//! The grammar is the configuration's ([`ImageReference`]), so what `IMAGES` accepts is
//! exactly what the client resolves.

use std::fmt;

use crate::config::ImageReference;

/// The canonical name of Docker Hub in references and credential keys.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's distribution API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The tag used when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed, normalized image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("image reference {reference:?} is invalid: {reason}")]
pub struct ReferenceError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong and what would be accepted.
    pub reason: String,
}

impl Reference {
    /// Parses `[registry/]repository[:tag][@digest]` with the grammar `IMAGES` is checked
    /// against ([`ImageReference`]), then applies Docker Hub's defaults.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: String| ReferenceError { reference: input.to_owned(), reason };
        let parsed = ImageReference::parse(input).map_err(|e| fail(e.to_string()))?;
        let registry = parsed.normalized_registry().to_owned();
        if registry == DOCKER_HUB && is_hex_identifier(&parsed.path) {
            return Err(fail("a 64-character hexadecimal string is an image ID, not a repository name".into()));
        }
        // `nginx` and `nginx:latest` are the same image; only a digest makes the tag optional.
        let tag = match (&parsed.tag, &parsed.digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag.clone(),
        };
        Ok(Reference { repository: parsed.normalized_path(), registry, tag, digest: parsed.digest })
    }

    /// The registry as written in references and credential keys (`docker.io`, `quay.io`,
    /// `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) that serves the distribution API for this registry.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API_HOST } else { &self.registry }
    }

    /// The repository path, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, `latest` when none was written.
    pub fn tag(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The pinned digest, if the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to put after `/manifests/`: the digest when pinned, the tag otherwise.
    pub fn manifest_reference(&self) -> &str {
        self.digest().unwrap_or_else(|| self.tag())
    }

    /// `registry/repository`, the string the kubelet matches pull-secret keys against.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(tag), _) => write!(f, ":{tag}")?,
            (None, None) => write!(f, ":{DEFAULT_TAG}")?,
            (None, Some(_)) => {}
        }
        match &self.digest {
            Some(digest) => write!(f, "@{digest}"),
            None => Ok(()),
        }
    }
}

/// Checks `algorithm:hex` for the algorithms registries use.
pub(crate) fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("has no algorithm; expected sha256:<64 hex digits>".into());
    };
    let expected_length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("uses algorithm {algorithm:?}; expected sha256, sha384 or sha512")),
    };
    if hex.len() != expected_length || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("must be {algorithm}: followed by {expected_length} lowercase hex digits"));
    }
    Ok(())
}

fn is_hex_identifier(path: &str) -> bool {
    path.len() == 64 && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
