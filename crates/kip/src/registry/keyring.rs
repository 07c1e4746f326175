//! Which pull-secret entries apply to an image, decided exactly as the kubelet's credential
//! keyring does, so kip asks a registry with the credentials the node will use to pull:
//!
//! - an entry's key may carry a scheme (`https://`), which is dropped; a `/v1/` or `/v2/`
//!   path prefix stands for the bare host (`https://index.docker.io/v1/` is
//!   `index.docker.io`);
//! - a key matches an image `registry/repository` when the ports are equal, the host has the
//!   same number of dot-separated labels, each label matches as a glob (`*.example.com`), and
//!   the key's path is a plain string prefix of the image's path;
//! - keys are tried in reverse lexical order, so `quay.io/team` comes before `quay.io`, and
//!   every matching key contributes its entries;
//! - when nothing matched and the image is on Docker Hub, the `index.docker.io` entry applies.

use std::collections::BTreeMap;

/// The key Docker Hub credentials are filed under once normalized.
const DOCKER_HUB_KEY: &str = "index.docker.io";

/// Entries indexed by normalized key; `T` is what one entry holds.
#[derive(Clone, Debug)]
pub(crate) struct Keyring<T> {
    entries: BTreeMap<String, Vec<T>>,
}

impl<T> Default for Keyring<T> {
    fn default() -> Self {
        Keyring { entries: BTreeMap::new() }
    }
}

impl<T> Keyring<T> {
    /// Files `entry` under the normalized form of `location` (a key of a docker config).
    /// Entries under one key keep the order they were added in.
    pub(crate) fn add(&mut self, location: &str, entry: T) {
        self.entries.entry(normalize_key(location)).or_default().push(entry);
    }

    /// The entries for an image named `registry/repository` (no tag or digest), most specific
    /// key first.
    pub(crate) fn lookup(&self, image_name: &str) -> Vec<&T> {
        let matched: Vec<&T> = self
            .entries
            .iter()
            .rev()
            .filter(|(key, _)| urls_match(key, image_name))
            .flat_map(|(_, entries)| entries)
            .collect();
        if !matched.is_empty() {
            return matched;
        }
        if is_docker_hub_image(image_name)
            && let Some(entries) = self.entries.get(DOCKER_HUB_KEY)
        {
            return entries.iter().collect();
        }
        Vec::new()
    }

    /// The normalized keys, as the lookup tries them.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().rev().map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Drops the scheme and a `/v1/` or `/v2/` API prefix: `https://quay.io/v2/team` is
/// `quay.io/team`, `https://index.docker.io/v1/` is `index.docker.io`.
pub(crate) fn normalize_key(location: &str) -> String {
    let without_scheme =
        location.strip_prefix("https://").or_else(|| location.strip_prefix("http://")).unwrap_or(location);
    let (host, path) = split_host_path(without_scheme);
    let path = if path.starts_with("/v1/") || path.starts_with("/v2/") { &path[3..] } else { path };
    if path.is_empty() || path == "/" { host.to_owned() } else { format!("{host}{path}") }
}

/// Splits `host[:port][/path][?query][#fragment]` into host and path; query and fragment are
/// not part of either, as in a parsed URL.
fn split_host_path(schemeless: &str) -> (&str, &str) {
    let end = schemeless.find(['?', '#']).unwrap_or(schemeless.len());
    let schemeless = &schemeless[..end];
    match schemeless.find('/') {
        Some(slash) => (&schemeless[..slash], &schemeless[slash..]),
        None => (schemeless, ""),
    }
}

/// Splits a host into its dot-separated labels and its port (empty when there is none).
fn labels_and_port(host: &str) -> (Vec<&str>, &str) {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':').unwrap_or("")),
            None => (host, ""),
        }
    } else {
        match host.rsplit_once(':') {
            // More than one colon without brackets is no host:port; keep it whole.
            Some((name, port)) if !name.contains(':') => (name, port),
            _ => (host, ""),
        }
    };
    (name.split('.').collect(), port)
}

/// Does a credential key (which may hold globs in its host labels) match an image name?
pub(crate) fn urls_match(key: &str, image_name: &str) -> bool {
    let (key_host, key_path) = split_host_path(key);
    let (image_host, image_path) = split_host_path(image_name);
    let (key_labels, key_port) = labels_and_port(key_host);
    let (image_labels, image_port) = labels_and_port(image_host);
    key_port == image_port
        && key_labels.len() == image_labels.len()
        && image_path.starts_with(key_path)
        && key_labels.iter().zip(&image_labels).all(|(pattern, label)| glob_match(pattern, label))
}

/// Is the image pulled from Docker Hub, judging by its first component?
fn is_docker_hub_image(image_name: &str) -> bool {
    match image_name.split_once('/') {
        _ if image_name.is_empty() || image_name.starts_with('/') => false,
        None => true,
        Some(("docker.io" | "index.docker.io", _)) => true,
        Some((first, _)) => !first.contains(['.', ':']),
    }
}

/// Shell-style matching of one host label: `*` any run of characters, `?` one character,
/// `[abc]`, `[a-z]`, `[^a-z]` one character of (or not of) a class, `\x` a literal `x`.
/// A malformed pattern matches nothing.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob_from(&pattern, &text)
}

fn glob_from(pattern: &[char], text: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('*') => (0..=text.len()).any(|skip| glob_from(&pattern[1..], &text[skip..])),
        Some(_) if text.is_empty() => false,
        Some('?') => glob_from(&pattern[1..], &text[1..]),
        Some('[') => match class_match(&pattern[1..], text[0]) {
            Some((true, rest)) => glob_from(rest, &text[1..]),
            _ => false,
        },
        Some('\\') => pattern.get(1) == Some(&text[0]) && glob_from(&pattern[2..], &text[1..]),
        Some(literal) => *literal == text[0] && glob_from(&pattern[1..], &text[1..]),
    }
}

/// Matches `c` against a class body (after `[`); returns whether it matched and the pattern
/// after the closing `]`, or `None` when the class is malformed (empty, unclosed, or with an
/// unescaped `-` or `]` where a character belongs).
fn class_match(body: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut rest) = match body.split_first() {
        Some(('^', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut matched = false;
    let mut ranges = 0;
    loop {
        if ranges > 0
            && let Some((']', after)) = rest.split_first()
        {
            return Some((matched != negated, after));
        }
        let (low, after) = class_char(rest)?;
        let (high, after) = match after.split_first() {
            Some(('-', range_end)) => class_char(range_end)?,
            _ => (low, after),
        };
        matched |= low <= c && c <= high;
        ranges += 1;
        rest = after;
    }
}

/// One possibly escaped character of a class.
fn class_char(pattern: &[char]) -> Option<(char, &[char])> {
    match pattern {
        ['\\', escaped, rest @ ..] => Some((*escaped, rest)),
        [] | [']' | '-', ..] => None,
        [c, rest @ ..] => Some((*c, rest)),
    }
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
