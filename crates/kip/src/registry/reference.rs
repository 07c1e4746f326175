//! Image references as the registry client needs them: which registry host to ask, which
//! repository, and which tag or digest, with Docker Hub's defaults filled in the way the
//! container runtimes and the kubelet normalize names (`nginx` is
//! `docker.io/library/nginx:latest`).
//!
//! The configuration parser in `config` validates the same references when it reads
//! `IMAGES`; both must accept and reject the same strings, and are meant to share one parser.

use std::fmt;

/// The canonical name of Docker Hub in references and credential keys.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's distribution API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The tag used when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// Longest full name (registry and repository) the distribution grammar accepts.
const MAX_NAME_LENGTH: usize = 255;
/// Longest tag the distribution grammar accepts.
const MAX_TAG_LENGTH: usize = 128;

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
    /// Parses `[registry/]repository[:tag][@digest]`, applying Docker Hub's defaults.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: String| ReferenceError { reference: input.to_owned(), reason };
        if input.is_empty() {
            return Err(fail("it is empty; expected [registry/]repository[:tag][@digest]".into()));
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail(format!("it contains the character {c:?}; references have no spaces")));
        }

        let (name_and_tag, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                validate_digest(digest).map_err(|why| fail(format!("digest {digest:?} {why}")))?;
                (name, Some(digest.to_owned()))
            }
            None => (input, None),
        };
        // A colon after the last slash separates the tag; one before it belongs to a port.
        let (name, tag) = match name_and_tag.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => {
                validate_tag(tag).map_err(|why| fail(format!("tag {tag:?} {why}")))?;
                (name, Some(tag.to_owned()))
            }
            _ => (name_and_tag, None),
        };

        let (registry, path) = split_registry(name);
        validate_registry(registry).map_err(|why| fail(format!("registry {registry:?} {why}")))?;
        let registry = if registry == "index.docker.io" { DOCKER_HUB } else { registry };
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_owned() };
        validate_repository(&repository).map_err(|why| fail(format!("repository {path:?} {why}")))?;
        if registry == DOCKER_HUB && is_hex_identifier(path) {
            return Err(fail("a 64-character hexadecimal string is an image ID, not a repository name".into()));
        }
        if registry.len() + 1 + repository.len() > MAX_NAME_LENGTH {
            return Err(fail(format!("the name is longer than {MAX_NAME_LENGTH} characters")));
        }
        // `nginx` and `nginx:latest` are the same image; only a digest makes the tag optional.
        let tag = if tag.is_none() && digest.is_none() { Some(DEFAULT_TAG.to_owned()) } else { tag };
        Ok(Reference { registry: registry.to_owned(), repository, tag, digest })
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

/// Splits the registry off a name the way Docker does: the first component is a registry only
/// if it has a dot or a colon, is `localhost`, or has uppercase letters (which a repository
/// cannot have); otherwise the whole name is a Docker Hub repository.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
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

fn validate_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let valid = chars.next().is_some_and(word) && chars.all(|c| word(c) || c == '.' || c == '-');
    if !valid {
        return Err("must start with a letter, digit or _ and contain only letters, digits, _ . -".into());
    }
    if tag.len() > MAX_TAG_LENGTH {
        return Err(format!("is longer than {MAX_TAG_LENGTH} characters"));
    }
    Ok(())
}

fn validate_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        // IPv6 literal: `[::1]` or `[::1]:5000`.
        let Some((address, after)) = rest.split_once(']') else {
            return Err("opens an IPv6 address with [ but never closes it".into());
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err("has an invalid IPv6 address".into());
        }
        match after {
            "" => return Ok(()),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err("has characters after the IPv6 address other than :port".into()),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err("is not a host name: dot-separated labels of letters, digits and inner -".into());
        }
    }
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("has a port that is not a number".into());
    }
    Ok(())
}

/// Checks `component(/component)*` where a component is lowercase alphanumerics joined by
/// one `.`, one or two `_`, or any number of `-`.
fn validate_repository(repository: &str) -> Result<(), String> {
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must be lowercase".into());
    }
    for component in repository.split('/') {
        if !is_path_component(component) {
            return Err(format!(
                "has an invalid component {component:?}: use lowercase letters and digits, \
                 separated by '.', '_', '__' or dashes, and no empty components"
            ));
        }
    }
    Ok(())
}

fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator: String = bytes[start..i].iter().collect();
        let allowed = separator == "." || separator == "_" || separator == "__" || separator.chars().all(|c| c == '-');
        if !allowed {
            return false;
        }
    }
    true
}

fn is_hex_identifier(path: &str) -> bool {
    path.len() == 64 && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
