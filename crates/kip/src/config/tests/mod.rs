//! Tests of configuration parsing, validation and the report: shared assertions here, one file
//! per concern.

mod cache;
mod images;
mod json;
mod modes;
mod reference;
mod report;
mod scalars;
mod scheduling;

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The two required variables, valid.
const MINIMAL: [(&str, &str); 2] =
    [("IMAGES", "theia=quay.io/eclipse/che-theia:next"), ("DEPLOYMENT_NAME", "kubernetes-image-puller")];

/// `MINIMAL` with `extra` added or overriding.
fn parse(extra: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let mut vars: BTreeMap<&str, &str> = MINIMAL.into_iter().collect();
    vars.extend(extra.iter().copied());
    Config::from_vars(vars)
}

fn valid(extra: &[(&str, &str)]) -> Config {
    parse(extra).unwrap_or_else(|errors| panic!("expected a valid configuration for {extra:?}, got:\n{errors}"))
}

fn invalid(extra: &[(&str, &str)]) -> ConfigErrors {
    match parse(extra) {
        Ok(config) => panic!("expected {extra:?} to be refused, got {config:?}"),
        Err(errors) => errors,
    }
}

/// Asserts that one of `problems` is about `variable`, at `location` (as printed between the
/// brackets; `""` for none), with `fragment` in its printed line.
#[track_caller]
fn assert_problem(problems: &[Problem], variable: &str, location: &str, fragment: &str) {
    let found = problems.iter().any(|p| {
        p.variable == variable
            && p.location.as_ref().map(ToString::to_string).unwrap_or_default() == location
            && p.to_string().contains(fragment)
    });
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(found, "no problem {variable}[{location}] containing {fragment:?} among:\n{}", listed.join("\n"));
}
