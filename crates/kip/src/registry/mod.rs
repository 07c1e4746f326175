//! The OCI distribution client: resolves each configured image reference to the manifest
//! digest its registry reports now, so the puller refreshes caching pods only when an image
//! really changed.
//!
//! Credentials come from the Kubernetes pull secrets the DaemonSet uses, matched to images as
//! the kubelet matches them; the Bearer token flow, Basic and anonymous access are supported.
//! Passwords and tokens never appear in logs, errors or `Debug` output.

mod auth_cache;
mod challenge;
mod client;
mod credentials;
mod error;
mod keyring;
mod rate_limit;
mod reference;
mod resolve;

pub use challenge::{BearerChallenge, Challenge, parse_challenges};
pub use client::{RegistryClient, RegistryOptions, RequestCounts, Resolved};
pub use credentials::{
    BasicCredentials, Credentials, DOCKER_CFG_KEY, DOCKER_CFG_TYPE, DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE,
    PullSecretError, RegistryCredential,
};
pub use error::{ClientSetupError, ErrorCategory, RegistryError};
pub use reference::{DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API_HOST, Reference, ReferenceError};
pub use resolve::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
