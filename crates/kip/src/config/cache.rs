//! Settings of how kip keeps the cache fresh and tells when a node is warm: the refresh policy
//! (`KIP_REFRESH_POLICY`), digest pinning (`KIP_PIN_DIGESTS`), registries reached over plain
//! HTTP (`KIP_INSECURE_REGISTRIES`), and the node label and startup taint of the "warm" signal
//! (`KIP_WARM_NODE_LABEL`, `KIP_STARTUP_TAINT`).

use std::collections::BTreeSet;

use super::ImageReference;
use super::problem::Problem;

/// When the caching pods are restarted so that nodes pull their images again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// Only when an image's digest changed in its registry (checked every interval).
    #[default]
    OnChange,
    /// Every interval, whatever changed: the Go puller's behaviour.
    Always,
}

impl RefreshPolicy {
    pub const ALL: [RefreshPolicy; 2] = [RefreshPolicy::OnChange, RefreshPolicy::Always];

    pub fn as_str(self) -> &'static str {
        match self {
            RefreshPolicy::OnChange => "on-change",
            RefreshPolicy::Always => "always",
        }
    }
}

pub(crate) fn refresh_policy(text: &str) -> Result<RefreshPolicy, (String, String)> {
    let normalized = text.to_ascii_lowercase().replace('_', "-");
    RefreshPolicy::ALL.iter().copied().find(|policy| policy.as_str() == normalized).ok_or_else(|| {
        let accepted: Vec<&str> = RefreshPolicy::ALL.iter().map(|policy| policy.as_str()).collect();
        (
            format!("{text:?} is not a refresh policy"),
            format!(
                "{} (on-change: restart the caching pods when an image's digest changed; always: every interval)",
                accepted.join(" or ")
            ),
        )
    })
}

/// `host[:port];host[:port]`: registries as written in image references.
pub(crate) fn insecure_registries(variable: &str, raw: &str, errors: &mut Vec<Problem>) -> BTreeSet<String> {
    const ACCEPTED: &str = "registry hosts as written in image references, separated by ';', e.g. \
         registry.local:5000;10.0.0.7:5000";
    let mut registries = BTreeSet::new();
    let entries = raw.split(';').map(str::trim).filter(|entry| !entry.is_empty());
    for (index, entry) in entries.enumerate() {
        let problem = |message: String| Problem::new(variable, message).entry(index + 1, entry).accepted(ACCEPTED);
        if let Some((scheme, rest)) = entry.split_once("://") {
            errors.push(problem(format!("has a URL scheme {scheme:?}; write the host alone: {rest}")));
            continue;
        }
        // A registry is what an image reference names before its first '/'.
        match ImageReference::parse(&format!("{entry}/image")) {
            Ok(reference) if reference.registry.as_deref() == Some(entry) => {
                registries.insert(entry.to_string());
            }
            Ok(_) => errors.push(problem(
                "is not read as a registry host: a registry has a '.' or a ':port', or is localhost".into(),
            )),
            Err(error) => errors.push(problem(format!("is not a registry host: {error}"))),
        }
    }
    registries
}

/// A node label or taint key (a qualified name such as `kip.dev/cached`); `None` when unset.
pub(crate) fn node_key(variable: &str, raw: &str, what: &str, errors: &mut Vec<Problem>) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let problems = kip_rules::qualified_name(raw);
    if problems.is_empty() {
        return Some(raw.to_string());
    }
    errors.extend(problems.into_iter().map(|problem| {
        Problem::new(variable, format!("{raw:?} is not a valid {what}: {problem}"))
            .accepted(format!("a {what} such as kip.dev/cached, or nothing to turn this off"))
    }));
    None
}
