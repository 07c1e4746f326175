//! The validate step: the spec is refused with `kip validate`'s own report.

use super::*;
use crate::config::Config;
use crate::operator::validate::validate;

#[test]
fn an_invalid_spec_gets_the_report_of_kip_validate() {
    let kip = fixture("invalid");
    let data = data("invalid");
    let problems = validate(&kip, &data).expect_err("invalid");
    let report = Config::from_vars(&data).expect_err("invalid").to_string();
    assert_eq!(problems.to_string(), report);
    // Every mistake at once, each naming its variable.
    for variable in ["IMAGES", "CACHING_MEMORY_LIMIT", "NODE_SELECTOR"] {
        assert_eq!(problems.for_variable(variable).count(), 1, "{variable}: {report}");
    }
    assert!(report.contains(r#"unknown unit "MB""#), "{report}");
}

#[test]
fn valid_specs_give_the_puller_configuration() {
    let full = validate(&fixture("full"), &data("full")).expect("valid");
    let images: Vec<(&str, &str)> = full.images.iter().map(|i| (i.name.as_str(), i.image.as_str())).collect();
    assert_eq!(
        images,
        [("java", "quay.io/eclipse/che-java11-maven:next"), ("theia", "quay.io/eclipse/che-theia:next")]
    );
    assert_eq!((full.namespace.as_str(), full.daemonset_name.as_str()), ("eclipse-che", "workspace-images"));
    assert_eq!(full.caching_interval_hours, 6);
    for name in ["minimal", "go-operator"] {
        assert!(validate(&fixture(name), &data(name)).is_ok(), "{name}");
    }
}

#[test]
fn names_that_cannot_be_object_names_are_refused() {
    // (field, value, variable the report names)
    let cases = [
        ("configMapName", "Bad_Name", "configMapName"),
        ("deploymentName", "-puller", "DEPLOYMENT_NAME"),
        ("daemonsetName", "images!", "DAEMONSET_NAME"),
    ];
    for (field, value, variable) in cases {
        let mut kip = fixture("minimal");
        let slot = match field {
            "configMapName" => &mut kip.spec.config_map_name,
            "deploymentName" => &mut kip.spec.deployment_name,
            _ => &mut kip.spec.daemonset_name,
        };
        *slot = Some(value.to_string());
        let problems = validate(&kip, &config_map_data(&kip, &ctx())).expect_err(field);
        assert_eq!(problems.for_variable(variable).count(), 1, "{field}: {problems}");
        assert!(problems.to_string().contains(value), "{problems}");
    }
}
