//! Registry credentials from a pod's image pull secrets, as a kubelet finds them: each named
//! Secret of the pod's namespace holding a Docker config (`kubernetes.io/dockerconfigjson` with
//! `.dockerconfigjson`, or the older `kubernetes.io/dockercfg` with `.dockercfg`), each entry
//! keyed by a registry (`host[:port][/path]`, an optional `https://`, `*` for a whole DNS
//! label). An entry applies to an image when the hosts match label by label, the ports are
//! equal and the entry's path is a prefix of the image's. The runtime tries the matches most
//! specific first; a Secret that is missing or unreadable is skipped, as the kubelet does.

use base64::Engine;
use serde_json::Value;

use super::runtime::RegistryAuth;
use crate::cluster::catalog::ImageRef;
use crate::resources::GroupResource;
use crate::store::{ObjectKey, Store};

/// The credentials of the named secrets in `namespace` that apply to `image`, most specific
/// registry key first.
pub fn credentials_for(store: &Store, namespace: &str, secret_names: &[String], image: &str) -> Vec<RegistryAuth> {
    let secrets = GroupResource::core("secrets");
    let mut entries: Vec<(String, RegistryAuth)> = Vec::new();
    for name in secret_names {
        let Some(secret) = store.get(&secrets, &ObjectKey::new(namespace, name)) else {
            tracing::warn!(%namespace, secret = %name, "image pull secret not found; pulling without it");
            continue;
        };
        entries.extend(docker_config_entries(&secret));
    }
    matching(&entries, image)
}

/// The (registry key, credentials) entries of one Secret.
pub fn docker_config_entries(secret: &Value) -> Vec<(String, RegistryAuth)> {
    let (key, wrapped) = match secret.get("type").and_then(Value::as_str) {
        Some("kubernetes.io/dockercfg") => (".dockercfg", false),
        _ => (".dockerconfigjson", true),
    };
    let Some(text) = secret_value(secret, key) else { return Vec::new() };
    let Ok(config) = serde_json::from_slice::<Value>(&text) else { return Vec::new() };
    let auths = if wrapped { config.get("auths") } else { Some(&config) };
    auths
        .and_then(Value::as_object)
        .map(|auths| auths.iter().filter_map(|(key, entry)| Some((key.clone(), entry_credentials(entry)?))).collect())
        .unwrap_or_default()
}

/// A data key of a Secret: base64 under `data`, or plain text under `stringData`.
fn secret_value(secret: &Value, key: &str) -> Option<Vec<u8>> {
    if let Some(encoded) = secret.pointer(&format!("/data/{}", key.replace('/', "~1"))).and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD.decode(encoded).ok();
    }
    secret.get("stringData").and_then(|d| d.get(key)).and_then(Value::as_str).map(|text| text.as_bytes().to_vec())
}

/// `auth` (base64 of `user:password`) wins over `username` and `password`.
fn entry_credentials(entry: &Value) -> Option<RegistryAuth> {
    if let Some(auth) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(auth).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        return Some(RegistryAuth::new(username, password));
    }
    let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("").to_string();
    let (username, password) = (field("username"), field("password"));
    (!username.is_empty() || !password.is_empty()).then(|| RegistryAuth::new(username, password))
}

/// A registry key or an image repository split into host name, port and path.
#[derive(Debug, PartialEq, Eq)]
struct Location {
    host: String,
    port: Option<String>,
    path: String,
}

impl Location {
    fn parse(text: &str) -> Self {
        let text = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or(text);
        let text = text.trim_end_matches('/');
        let (authority, path) = text.split_once('/').unwrap_or((text, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, Some(port.to_string()))
            }
            _ => (authority, None),
        };
        let host = host.to_ascii_lowercase();
        // Docker Hub goes by several names; its legacy key carries a `/v1/` API path.
        if matches!(host.as_str(), "docker.io" | "index.docker.io" | "registry-1.docker.io") {
            let path = if path == "v1" || path == "v2" { "" } else { path };
            return Location { host: "docker.io".into(), port, path: path.into() };
        }
        Location { host, port, path: path.into() }
    }

    /// Whether this key applies to `target`: hosts equal label by label (`*` matches one
    /// label), ports equal, and this path a prefix of the target's.
    fn applies_to(&self, target: &Location) -> bool {
        let labels: Vec<&str> = self.host.split('.').collect();
        let target_labels: Vec<&str> = target.host.split('.').collect();
        labels.len() == target_labels.len()
            && labels.iter().zip(&target_labels).all(|(glob, label)| *glob == "*" || glob == label)
            && self.port == target.port
            && target.path.starts_with(&self.path)
    }
}

/// The entries whose key applies to `image`, most specific first: longer keys sort first in
/// reverse order, as the kubelet's keyring sorts them.
fn matching(entries: &[(String, RegistryAuth)], image: &str) -> Vec<RegistryAuth> {
    let target = Location::parse(&ImageRef::parse(image).repo);
    let mut found: Vec<&(String, RegistryAuth)> =
        entries.iter().filter(|(key, _)| Location::parse(key).applies_to(&target)).collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.dedup_by(|a, b| a.1 == b.1);
    found.into_iter().map(|(_, auth)| auth.clone()).collect()
}

#[cfg(test)]
#[path = "pull_secrets_tests.rs"]
mod tests;
