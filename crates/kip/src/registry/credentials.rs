//! Registry credentials read from Kubernetes pull secrets (`kubernetes.io/dockerconfigjson`
//! and `kubernetes.io/dockercfg`), chosen per image as the kubelet chooses them.
//!
//! Passwords live in [`SecretString`]s and no type here prints them: `Debug` shows usernames
//! and where an entry came from, never a password or an `auth` field, and parse errors name
//! the secret, key and registry entry but never quote values.

use std::fmt;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::keyring::Keyring;
use super::reference::Reference;

/// Secret type and data key of the current format (`{"auths": {...}}`).
pub const DOCKER_CONFIG_JSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// Secret type and data key of the legacy format (registry entries at the top level).
pub const DOCKER_CFG_TYPE: &str = "kubernetes.io/dockercfg";
pub const DOCKER_CFG_KEY: &str = ".dockercfg";

/// A username and password; the password never appears in formatted output.
#[derive(Clone)]
pub struct BasicCredentials {
    username: String,
    password: SecretString,
}

impl BasicCredentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        BasicCredentials { username: username.into(), password: SecretString::from(password.into()) }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for building an `Authorization` header and nothing else.
    pub(crate) fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials").field("username", &self.username).field("password", &"[redacted]").finish()
    }
}

/// One registry entry of a pull secret.
#[derive(Clone, Debug)]
pub struct RegistryCredential {
    /// Where the entry came from, e.g. `pull secret "regcred"`; shown in errors.
    pub source: String,
    /// `None` when the entry has neither username nor password: the kubelet then pulls
    /// anonymously, and so does kip.
    pub basic: Option<BasicCredentials>,
}

/// All credentials available for resolving images, indexed by registry key.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    keyring: Keyring<RegistryCredential>,
}

/// Why a pull secret (or one of its entries) could not be read. Never holds secret values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PullSecretError {
    #[error(
        "pull secret {secret:?} has type {found:?}; image pull secrets must have type \
         {DOCKER_CONFIG_JSON_TYPE} (key {DOCKER_CONFIG_JSON_KEY}) or {DOCKER_CFG_TYPE} (key {DOCKER_CFG_KEY})"
    )]
    UnsupportedType { secret: String, found: String },
    #[error("pull secret {secret:?} of type {secret_type} has no non-empty data key {key:?}")]
    MissingKey { secret: String, secret_type: &'static str, key: &'static str },
    #[error("pull secret {secret:?}: key {key:?} is not valid JSON (error at line {line}, column {column})")]
    InvalidJson { secret: String, key: &'static str, line: usize, column: usize },
    #[error("pull secret {secret:?}: key {key:?} {problem}")]
    Malformed { secret: String, key: &'static str, problem: String },
}

impl Credentials {
    /// No credentials: every registry is asked anonymously.
    pub fn anonymous() -> Self {
        Credentials::default()
    }

    /// Reads the docker-config pull secrets, in the order given (the order of
    /// `imagePullSecrets`). A secret that cannot be read is reported and skipped; the others
    /// still apply.
    pub fn from_pull_secrets(secrets: &[Secret]) -> (Credentials, Vec<PullSecretError>) {
        let mut credentials = Credentials::default();
        let mut problems = Vec::new();
        for secret in secrets {
            if let Err(problem) = credentials.add_pull_secret(secret) {
                problems.push(problem);
            }
        }
        (credentials, problems)
    }

    /// Adds one pull secret's entries after those already present.
    pub fn add_pull_secret(&mut self, secret: &Secret) -> Result<(), PullSecretError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let secret_type = secret.type_.as_deref().unwrap_or("Opaque");
        let (canonical_type, key, nested) = match secret_type {
            DOCKER_CONFIG_JSON_TYPE => (DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, true),
            DOCKER_CFG_TYPE => (DOCKER_CFG_TYPE, DOCKER_CFG_KEY, false),
            other => return Err(PullSecretError::UnsupportedType { secret: name, found: other.to_owned() }),
        };
        let bytes = secret.data.as_ref().and_then(|data| data.get(key)).map(|bytes| bytes.0.as_slice());
        let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) else {
            return Err(PullSecretError::MissingKey { secret: name, secret_type: canonical_type, key });
        };
        let source = format!("pull secret {name:?}");
        let entries = parse_docker_config(bytes, nested).map_err(|problem| match problem {
            ConfigProblem::Json { line, column } => {
                PullSecretError::InvalidJson { secret: name.clone(), key, line, column }
            }
            ConfigProblem::Shape(problem) => PullSecretError::Malformed { secret: name.clone(), key, problem },
        })?;
        for (location, basic) in entries {
            self.keyring.add(&location, RegistryCredential { source: source.clone(), basic });
        }
        Ok(())
    }

    /// Adds credentials for a registry key (`quay.io`, `quay.io/team`, `*.example.com`,
    /// `https://index.docker.io/v1/`), as one docker-config entry would.
    pub fn insert(&mut self, location: &str, credential: RegistryCredential) {
        self.keyring.add(location, credential);
    }

    /// The credentials to try for an image, in order; empty means "ask anonymously".
    pub fn lookup(&self, reference: &Reference) -> Vec<&RegistryCredential> {
        self.keyring.lookup(&reference.name())
    }

    /// The registry keys known, most specific first.
    pub fn registry_keys(&self) -> impl Iterator<Item = &str> {
        self.keyring.keys()
    }

    pub fn is_empty(&self) -> bool {
        self.keyring.is_empty()
    }
}

enum ConfigProblem {
    Json { line: usize, column: usize },
    Shape(String),
}

/// Parses the JSON of a docker config into `(registry key, credentials)` pairs. Values are
/// walked by hand so that no error message ever quotes a value (serde's type errors do).
fn parse_docker_config(bytes: &[u8], nested: bool) -> Result<Vec<(String, Option<BasicCredentials>)>, ConfigProblem> {
    let document: Value = serde_json::from_slice(bytes)
        .map_err(|error| ConfigProblem::Json { line: error.line(), column: error.column() })?;
    let auths = if nested {
        match document.get("auths") {
            Some(auths) => auths,
            None if document.is_object() => {
                return Err(ConfigProblem::Shape(
                    "has no \"auths\" object; expected {\"auths\": {\"<registry>\": {...}}}".into(),
                ));
            }
            None => return Err(ConfigProblem::Shape("must be a JSON object {\"auths\": {...}}".into())),
        }
    } else {
        &document
    };
    let Some(auths) = auths.as_object() else {
        let what = if nested { "\"auths\"" } else { "the content" };
        return Err(ConfigProblem::Shape(format!("{what} must be an object keyed by registry")));
    };
    auths
        .iter()
        .map(|(location, entry)| {
            parse_entry(entry)
                .map(|basic| (location.clone(), basic))
                .map_err(|problem| ConfigProblem::Shape(format!("entry {location:?}: {problem}")))
        })
        .collect()
}

/// One registry entry: `auth` (base64 of `username:password`) wins over `username` and
/// `password`, as in the kubelet.
fn parse_entry(entry: &Value) -> Result<Option<BasicCredentials>, String> {
    let Some(entry) = entry.as_object() else {
        return Err("must be an object with \"auth\" or \"username\" and \"password\"".into());
    };
    let text_field = |field: &str| match entry.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("field {field:?} must be a string")),
    };
    let auth = text_field("auth")?;
    let (username, password) =
        if auth.is_empty() { (text_field("username")?, text_field("password")?) } else { decode_auth(&auth)? };
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(BasicCredentials::new(username, password)))
}

fn decode_auth(auth: &str) -> Result<(String, String), String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|_| "field \"auth\" is not valid base64".to_owned())?;
    let decoded = String::from_utf8(decoded).map_err(|_| "field \"auth\" does not decode to UTF-8 text".to_owned())?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err("field \"auth\" must be base64 of username:password, and has no ':'".into());
    };
    // Docker's own encoder can leave NUL padding after the password.
    Ok((username.to_owned(), password.trim_matches('\0').to_owned()))
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
