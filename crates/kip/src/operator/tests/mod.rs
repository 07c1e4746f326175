//! Unit tests of the operator's pure steps (build, validate, status, the one-per-namespace
//! rule, events, the CRD), from the YAML fixtures in `fixtures/`; no API server involved.

mod build;
mod crd;
mod errors;
mod events;
mod singleton;
mod status;
mod telemetry;
mod validate;

use std::collections::BTreeMap;

use super::build::{BuildContext, config_map_data};
use super::resource::KubernetesImagePuller;

pub(super) const OPERATOR_IMAGE: &str = "ghcr.io/kip-dev/kip:0.1.0";

pub(super) fn ctx() -> BuildContext {
    BuildContext { default_image: OPERATOR_IMAGE.to_string() }
}

/// A fixture from `fixtures/`, by file stem.
pub(super) fn fixture(name: &str) -> KubernetesImagePuller {
    let text = match name {
        "minimal" => include_str!("fixtures/minimal.yaml"),
        "full" => include_str!("fixtures/full.yaml"),
        "go-operator" => include_str!("fixtures/go-operator.yaml"),
        "invalid" => include_str!("fixtures/invalid.yaml"),
        other => panic!("no fixture {other}"),
    };
    serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("fixture {name}: {error}"))
}

pub(super) fn data(name: &str) -> BTreeMap<String, String> {
    config_map_data(&fixture(name), &ctx())
}
