//! The *validate* step: the spec is checked as the puller will read it, by running
//! [`Config::from_vars`] over the ConfigMap data the spec produces, so a resource is refused
//! with the very messages `kip validate` prints. The one spec field the puller never reads,
//! `configMapName`, is checked here as the object name it becomes.

use std::collections::BTreeMap;

use crate::config::{Config, ConfigErrors, Problem};
use crate::operator::defaults;
use crate::operator::resource::KubernetesImagePuller;

/// The configuration the puller will run with, or every problem of the spec.
pub fn validate(kip: &KubernetesImagePuller, data: &BTreeMap<String, String>) -> Result<Config, ConfigErrors> {
    let name = defaults::config_map_name(&kip.spec);
    let name_problems: Vec<Problem> = kip_rules::dns1123_subdomain(name)
        .into_iter()
        .map(|rule| {
            Problem::new("configMapName", format!("{name:?} is not a valid ConfigMap name: {rule}"))
                .accepted("a lower-case name such as k8s-image-puller")
        })
        .collect();
    match Config::from_vars(data) {
        Ok(config) if name_problems.is_empty() => Ok(config),
        Ok(config) => Err(ConfigErrors { errors: name_problems, warnings: config.warnings }),
        Err(mut problems) => {
            problems.errors.extend(name_problems);
            Err(problems)
        }
    }
}
