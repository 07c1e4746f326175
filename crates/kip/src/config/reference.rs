//! Container image references, checked against the grammar that registries and container
//! runtimes apply (the OCI distribution spec and `distribution/reference`), so that a typo is
//! caught here with the position of the offending character instead of as an `InvalidImageName`
//! pod on every node:
//!
//! ```text
//! reference  := name [":" tag] ["@" digest]
//! name       := [domain "/"] path                      at most 255 characters
//! domain     := host [":" port] | "[" ipv6 "]" [":" port]
//! host       := label ("." label)*                     label: [A-Za-z0-9] or [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
//! path       := component ("/" component)*
//! component  := [a-z0-9]+ (separator [a-z0-9]+)*       separator: "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex                      algorithm: [A-Za-z][A-Za-z0-9]* ([+._-][A-Za-z][A-Za-z0-9]*)*
//! ```
//!
//! The first component names a registry when it contains `.` or `:`, is `localhost`, or has an
//! upper-case letter: the rule runtimes use to tell `quay.io/x` from `library/x`.

use std::fmt;

/// The grammar in one line, for `Accepted:` texts.
pub const REFERENCE_FORM: &str =
    "[registry[:port]/]path[:tag][@sha256:<64 hex digits>], path in lower case, e.g. quay.io/eclipse/che-theia:next";

const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;
/// Digest algorithms registries and runtimes verify, with the length of their hex encoding.
const DIGEST_ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// `quay.io`, `localhost:5000`; `None` for the runtime's default registry.
    pub registry: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:...`.
    pub digest: Option<String>,
}

/// Why a reference breaks the grammar, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceError {
    /// Position (from 1, in characters) of the offending character, when one is to blame.
    pub position: Option<usize>,
    pub character: Option<char>,
    pub reason: String,
}

impl std::error::Error for ReferenceError {}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.position, self.character) {
            (Some(position), Some(c)) => write!(f, "breaks at character {position} {c:?}: {}", self.reason),
            (Some(position), None) => write!(f, "breaks at character {position}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

/// Builds an error for the character at byte `at` of `text`.
fn fail(text: &str, at: usize, reason: impl Into<String>) -> ReferenceError {
    let at = at.min(text.len());
    ReferenceError {
        position: Some(text[..at].chars().count() + 1),
        character: text[at..].chars().next(),
        reason: reason.into(),
    }
}

fn whole(reason: impl Into<String>) -> ReferenceError {
    ReferenceError { position: None, character: None, reason: reason.into() }
}

impl ImageReference {
    /// The registry as runtimes name it: Docker Hub's implicit or alternative names become
    /// `docker.io`.
    pub fn normalized_registry(&self) -> &str {
        match self.registry.as_deref() {
            None | Some("docker.io" | "index.docker.io" | "registry-1.docker.io") => "docker.io",
            Some(registry) => registry,
        }
    }

    /// The path within the registry, with Docker Hub's implicit `library/` made explicit.
    pub fn normalized_path(&self) -> String {
        if self.normalized_registry() == "docker.io" && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// The repository as container runtimes name it: `nginx` -> `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.normalized_registry(), self.normalized_path())
    }

    /// The names a runtime reports for this image on a node (`status.images[].names`): the
    /// repository with the tag (`latest` when none is given and no digest pins it), and with the
    /// digest when pinned.
    pub fn runtime_names(&self) -> Vec<String> {
        let repository = self.repository();
        let mut names = Vec::new();
        match (&self.tag, &self.digest) {
            (Some(tag), _) => names.push(format!("{repository}:{tag}")),
            (None, None) => names.push(format!("{repository}:latest")),
            (None, Some(_)) => {}
        }
        if let Some(digest) = &self.digest {
            names.push(format!("{repository}@{digest}"));
        }
        names
    }

    pub fn parse(text: &str) -> Result<ImageReference, ReferenceError> {
        if text.is_empty() {
            return Err(whole("the image reference is empty"));
        }
        check_common_mistakes(text)?;
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((before, after)) => (before, Some(check_digest(text, before.len() + 1, after)?)),
            None => (text, None),
        };
        let last_component = name_and_tag.rfind('/').map_or(0, |slash| slash + 1);
        let (name, tag) = match name_and_tag[last_component..].find(':') {
            Some(colon) => {
                let colon = last_component + colon;
                (&name_and_tag[..colon], Some(check_tag(text, colon + 1, &name_and_tag[colon + 1..])?))
            }
            None => (name_and_tag, None),
        };
        let (registry, path) = split_registry(name);
        if let Some(registry) = registry {
            check_registry(text, registry)?;
        }
        let path_start = registry.map_or(0, |r| r.len() + 1);
        check_path(text, path_start, path)?;
        if name.chars().count() > NAME_MAX {
            return Err(whole(format!(
                "the name (registry and path, without tag or digest) is {} characters long; at most {NAME_MAX} are allowed",
                name.chars().count()
            )));
        }
        Ok(ImageReference {
            registry: registry.map(str::to_string),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// Mistakes that deserve a better word than "invalid character": placeholders left from
/// documentation or templates, URL schemes, spaces.
fn check_common_mistakes(text: &str) -> Result<(), ReferenceError> {
    if let Some(dollar) = text.find('$') {
        return Err(fail(text, dollar, "looks like a shell or template variable that was never expanded"));
    }
    if let Some(open) = text.find('{') {
        let placeholder = text[open..].find('}').map(|close| &text[open..=open + close]);
        let reason = match placeholder {
            Some("{prod-ver}") => {
                "{prod-ver} is a placeholder from the product documentation, not a tag: replace it with \
                                   the real version tag, e.g. :2.3"
                    .to_string()
            }
            Some(placeholder) => format!("{placeholder} looks like a placeholder that was never filled in: replace it"),
            None => "'{' is not allowed in an image reference".to_string(),
        };
        return Err(fail(text, open, reason));
    }
    if let Some(scheme) = text.find("://") {
        return Err(fail(text, scheme, format!("an image reference has no URL scheme: write {}", &text[scheme + 3..])));
    }
    if let Some(space) = text.find(char::is_whitespace) {
        return Err(fail(text, space, "spaces are not allowed in an image reference (entries are separated by ';')"));
    }
    Ok(())
}

fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn check_registry(text: &str, registry: &str) -> Result<(), ReferenceError> {
    let (host, port, port_start) = if let Some(inner) = registry.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(|| fail(text, 0, "an IPv6 registry address needs a closing ']'"))?;
        if let Some(bad) = inner[..close].find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.')) {
            return Err(fail(text, 1 + bad, "not allowed in an IPv6 address"));
        }
        let rest = &inner[close + 1..];
        match rest.strip_prefix(':') {
            Some(port) => (None, Some(port), close + 3),
            None if rest.is_empty() => (None, None, 0),
            None => return Err(fail(text, close + 2, "only ':port' may follow an IPv6 registry address")),
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port), host.len() + 1),
            None => (Some(registry), None, 0),
        }
    };
    if let Some(host) = host {
        let mut start = 0;
        for label in host.split('.') {
            check_host_label(text, start, label)?;
            start += label.len() + 1;
        }
    }
    if let Some(port) = port {
        if port.is_empty() {
            return Err(fail(text, port_start, "a registry port after ':' must not be empty"));
        }
        if let Some(bad) = port.find(|c: char| !c.is_ascii_digit()) {
            return Err(fail(text, port_start + bad, "a registry port is digits only"));
        }
    }
    Ok(())
}

fn check_host_label(text: &str, start: usize, label: &str) -> Result<(), ReferenceError> {
    if label.is_empty() {
        return Err(fail(text, start, "the registry host has an empty part between dots"));
    }
    if let Some((i, _)) = label.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(fail(text, start + i, "a registry host has letters, digits, '-' and '.' only"));
    }
    if label.starts_with('-') {
        return Err(fail(text, start, "a part of the registry host must not start with '-'"));
    }
    if label.ends_with('-') {
        return Err(fail(text, start + label.len() - 1, "a part of the registry host must not end with '-'"));
    }
    Ok(())
}

fn check_path(text: &str, path_start: usize, path: &str) -> Result<(), ReferenceError> {
    // The suggestion for a path with capitals keeps the registry and the tag as written.
    let end = path_start + path.len();
    let lowered = format!("{}{}{}", &text[..path_start], path.to_ascii_lowercase(), &text[end..]);
    let mut start = path_start;
    for component in path.split('/') {
        check_path_component(text, start, component, &lowered)?;
        start += component.len() + 1;
    }
    Ok(())
}

fn is_separator(c: char) -> bool {
    matches!(c, '.' | '_' | '-')
}

fn check_path_component(text: &str, start: usize, component: &str, lowered: &str) -> Result<(), ReferenceError> {
    if component.is_empty() {
        return Err(fail(text, start, "empty repository path component (a '/' at the start or end, or two in a row)"));
    }
    let mut chars = component.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            continue;
        }
        if c.is_ascii_uppercase() {
            return Err(fail(
                text,
                start + i,
                format!(
                    "the repository path must be lower case (only a registry host may have capitals); did you mean {lowered:?}?"
                ),
            ));
        }
        if !is_separator(c) {
            return Err(fail(
                text,
                start + i,
                "not allowed in a repository path, which holds lower-case letters and digits joined by '.', '_', '__' \
                 or '-', and '/' between components",
            ));
        }
        let mut end = i + 1;
        while let Some(&(j, next)) = chars.peek() {
            if !is_separator(next) {
                break;
            }
            end = j + 1;
            chars.next();
        }
        let separator = &component[i..end];
        if i == 0 {
            return Err(fail(text, start, "a repository path component must start with a lower-case letter or digit"));
        }
        if end == component.len() {
            return Err(fail(
                text,
                start + i,
                "a repository path component must end with a lower-case letter or digit",
            ));
        }
        if !(matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-')) {
            return Err(fail(
                text,
                start + i,
                format!("{separator:?} is not a separator; between letters and digits use '.', '_', '__' or dashes"),
            ));
        }
    }
    Ok(())
}

fn check_tag<'a>(text: &str, start: usize, tag: &'a str) -> Result<&'a str, ReferenceError> {
    if tag.is_empty() {
        return Err(fail(text, start - 1, "the tag after ':' is empty"));
    }
    for (i, c) in tag.char_indices() {
        let allowed = c.is_ascii_alphanumeric() || c == '_' || (i > 0 && (c == '.' || c == '-'));
        if !allowed {
            let reason = if i == 0 && (c == '.' || c == '-') {
                "a tag must start with a letter, a digit or '_'".to_string()
            } else if c == ':' {
                "a tag may not contain ':' (a registry port goes before the first '/')".to_string()
            } else {
                "not allowed in a tag, which holds letters, digits, '_', '.' and '-'".to_string()
            };
            return Err(fail(text, start + i, reason));
        }
    }
    if tag.len() > TAG_MAX {
        return Err(fail(
            text,
            start + TAG_MAX,
            format!("the tag is {} characters long; at most {TAG_MAX}", tag.len()),
        ));
    }
    Ok(tag)
}

fn check_digest(text: &str, start: usize, digest: &str) -> Result<String, ReferenceError> {
    if let Some(at) = digest.find('@') {
        return Err(fail(text, start + at, "a reference has at most one '@' (before the digest)"));
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(fail(text, start, "a digest is algorithm:hex, e.g. sha256:<64 hex digits>"));
    };
    check_algorithm(text, start, algorithm)?;
    let Some((_, length)) = DIGEST_ALGORITHMS.iter().find(|(name, _)| *name == algorithm) else {
        return Err(fail(
            text,
            start,
            format!(
                "unsupported digest algorithm {algorithm:?}; registries and runtimes verify sha256, sha384 and sha512"
            ),
        ));
    };
    let hex_start = start + algorithm.len() + 1;
    if let Some((i, c)) = hex.char_indices().find(|(_, c)| !(c.is_ascii_digit() || ('a'..='f').contains(c))) {
        let reason =
            if c.is_ascii_hexdigit() { "digest hex digits must be lower case" } else { "not a hexadecimal digit" };
        return Err(fail(text, hex_start + i, reason));
    }
    if hex.len() != *length {
        return Err(fail(
            text,
            hex_start,
            format!("a {algorithm} digest has exactly {length} hex digits; this one has {}", hex.len()),
        ));
    }
    Ok(digest.to_string())
}

fn check_algorithm(text: &str, start: usize, algorithm: &str) -> Result<(), ReferenceError> {
    let mut component_start = true;
    for (i, c) in algorithm.char_indices() {
        let allowed = if component_start { c.is_ascii_alphabetic() } else { c.is_ascii_alphanumeric() };
        if allowed {
            component_start = false;
        } else if !component_start && matches!(c, '+' | '.' | '_' | '-') {
            component_start = true;
        } else {
            return Err(fail(
                text,
                start + i,
                "a digest algorithm is letters and digits, starting with a letter, e.g. sha256",
            ));
        }
    }
    if component_start {
        return Err(fail(text, start + algorithm.len(), "the digest algorithm is empty or ends with a separator"));
    }
    Ok(())
}
