//! `IMAGES`: layouts accepted, every kind of broken entry, the seed document's values.

use super::*;

/// The `oc process -p IMAGES='...;\` value from the seed document: the shell keeps each
/// backslash and line break inside the single quotes.
const SEED_OC_PROCESS: &str = "plugin-java8-rhel8=registry.redhat.io/codeready-workspaces/plugin-java8-rhel8:2.3;\\
    theia-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:2.3;\\
    stacks-golang-rhel8=registry.redhat.io/codeready-workspaces/stacks-golang-rhel8:2.3;\\
    plugin-java11-rhel8=registry.redhat.io/codeready-workspaces/plugin-java11-rhel8:2.3;\\
    theia-endpoint-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:2.3;\\
    pluginbroker-metadata-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-metadata-rhel8:2.3;\\
    pluginbroker-artifacts-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-artifacts-rhel8:2.3;";

/// The ConfigMap's `IMAGES: |` literal from the seed document, placeholders included.
const SEED_CONFIGMAP: &str = "theia-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:{prod-ver};
theia-endpoint-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:{prod-ver};
pluginbroker-metadata-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-metadata-rhel8:{prod-ver};
pluginbroker-artifacts-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-artifacts-rhel8:{prod-ver};
plugin-java8-rhel8=registry.redhat.io/codeready-workspaces/plugin-java8-rhel8:{prod-ver};
plugin-java11-rhel8=registry.redhat.io/codeready-workspaces/plugin-java11-rhel8:{prod-ver};
stacks-golang-rhel8=registry.redhat.io/codeready-workspaces/stacks-golang-rhel8:{prod-ver};
";

fn pairs(config: &Config) -> Vec<(&str, &str)> {
    config.images.iter().map(|i| (i.name.as_str(), i.image.as_str())).collect()
}

#[test]
fn layouts_people_write_are_accepted() {
    let digest = format!("quay.io/a/b@sha256:{}", "0123456789abcdef".repeat(4));
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("a=x", &[("a", "x")]),
        (" a = x ; b=y;", &[("a", "x"), ("b", "y")]),
        ("a=x;;b=y;;", &[("a", "x"), ("b", "y")]),
        ("a=x;\n  b=y\n", &[("a", "x"), ("b", "y")]),
        ("a=x; b=y;\n", &[("a", "x"), ("b", "y")]),
        ("a=x;\\\n    b=y;", &[("a", "x"), ("b", "y")]),
        ("a=x;\\\r\n    b=y", &[("a", "x"), ("b", "y")]),
        ("a=x;\\", &[("a", "x")]),
        ("a=\\\n  x", &[("a", "x")]),
        ("reg=localhost:5000/team/tool:1.0", &[("reg", "localhost:5000/team/tool:1.0")]),
    ];
    for (raw, expected) in cases {
        let config = valid(&[("IMAGES", raw)]);
        assert_eq!(pairs(&config), *expected, "{raw:?}");
    }
    let config = valid(&[("IMAGES", &format!("pinned={digest}"))]);
    assert_eq!(pairs(&config), [("pinned", digest.as_str())]);
}

#[test]
fn every_broken_entry_is_reported_with_its_number_and_text() {
    let long_name = "n".repeat(64);
    let long_entry = format!("{long_name}=x");
    let cases: &[(&str, &str, &str)] = &[
        ("ax", r#"entry 1 "ax""#, "has no '=' between the container name and the image"),
        ("a=x;=y", r#"entry 2 "=y""#, "the container name before '=' is empty"),
        ("a=", r#"entry 1 "a=""#, "the image after '=' is empty"),
        ("a=x=y", r#"entry 1 "a=x=y""#, "has a second '='; is a ';' missing between two entries?"),
        ("a=x b=y", r#"entry 1 "a=x b=y""#, "second '='"),
        ("Theia=x", r#"entry 1 "Theia=x""#, r#"the container name "Theia" is not a valid container name"#),
        ("Theia=x", r#"entry 1 "Theia=x""#, r#"starting and ending with a letter or digit, e.g. "theia""#),
        ("plugin_java=x", r#"entry 1 "plugin_java=x""#, r#"e.g. "plugin-java""#),
        (&long_entry, &format!("entry 1 {long_entry:?}"), "is 64 characters long"),
        ("a=x;a=y", r#"entry 2 "a=y""#, r#"the container name "a" is already used by entry 1 "a=x""#),
        ("a=Quay.io/Eclipse/x", r#"entry 1 "a=Quay.io/Eclipse/x""#, "breaks at character 9 'E'"),
        ("a=quay.io/x:{prod-ver}", r#"entry 1 "a=quay.io/x:{prod-ver}""#, "placeholder from the product documentation"),
        ("a=quay.io/x//y", r#"entry 1 "a=quay.io/x//y""#, "empty repository path component"),
        ("copy-sleep=x", r#"entry 1 "copy-sleep=x""#, "is kip's own init container in the same pod"),
        (";;", "", "lists no images"),
        (" ;\n ; ", "", "lists no images"),
    ];
    for (raw, location, fragment) in cases {
        assert_problem(&invalid(&[("IMAGES", raw)]).errors, "IMAGES", location, fragment);
    }
}

#[test]
fn the_accepted_form_is_stated() {
    let errors = invalid(&[("IMAGES", "a=quay.io/X")]);
    assert_problem(&errors.errors, "IMAGES", r#"entry 1 "a=quay.io/X""#, "Accepted: [registry[:port]/]path[:tag]");
    let errors = invalid(&[("IMAGES", "ax")]);
    assert_problem(&errors.errors, "IMAGES", r#"entry 1 "ax""#, "Accepted: name=image entries separated by ';'");
}

#[test]
fn a_broken_entry_does_not_hide_the_others() {
    let errors = invalid(&[("IMAGES", "ok=x;bad;Bad=y;also-ok=z;=w")]);
    let entries: Vec<String> =
        errors.errors.iter().filter_map(|p| p.location.as_ref()).map(ToString::to_string).collect();
    assert_eq!(entries, [r#"entry 2 "bad""#, r#"entry 3 "Bad=y""#, r#"entry 5 "=w""#]);
}

#[test]
fn images_is_required_and_must_not_be_blank() {
    let unset = Config::from_vars([("DEPLOYMENT_NAME", "kip")]).expect_err("IMAGES is required");
    assert_problem(&unset.errors, "IMAGES", "", "IMAGES: is not set");
    let blank = invalid(&[("IMAGES", "  \n")]);
    assert_problem(&blank.errors, "IMAGES", "", "IMAGES: is empty");
}

#[test]
fn the_seed_oc_process_value_works() {
    let config = valid(&[("IMAGES", SEED_OC_PROCESS)]);
    let names: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "plugin-java8-rhel8",
            "theia-rhel8",
            "stacks-golang-rhel8",
            "plugin-java11-rhel8",
            "theia-endpoint-rhel8",
            "pluginbroker-metadata-rhel8",
            "pluginbroker-artifacts-rhel8"
        ]
    );
    assert_eq!(config.images[1].image, "registry.redhat.io/codeready-workspaces/theia-rhel8:2.3");
    assert_eq!(config.images[6].image, "registry.redhat.io/codeready-workspaces/pluginbroker-artifacts-rhel8:2.3");
}

#[test]
fn the_seed_configmap_value_explains_its_placeholders() {
    let errors = invalid(&[("IMAGES", SEED_CONFIGMAP)]);
    assert_eq!(errors.errors.len(), 7, "{errors}");
    for (index, line) in SEED_CONFIGMAP.lines().enumerate() {
        let entry = line.trim_end_matches(';');
        let image = entry.split_once('=').map(|(_, image)| image).unwrap_or_default();
        let position = image.find('{').map(|i| i + 1).unwrap_or_default();
        assert_problem(
            &errors.errors,
            "IMAGES",
            &format!("entry {} {entry:?}", index + 1),
            &format!(
                "breaks at character {position} '{{': {{prod-ver}} is a placeholder from the product documentation, \
                 not a tag: replace it with the real version tag, e.g. :2.3"
            ),
        );
    }
}

#[test]
fn a_registry_named_only_by_its_capitals_is_warned_about() {
    let config = valid(&[("IMAGES", "theia=Eclipse/theia:next;ok=quay.io/eclipse/x;local=localhost/x")]);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert_problem(
        &config.warnings,
        "IMAGES",
        r#"entry 1 "theia=Eclipse/theia:next""#,
        r#"is pulled from a registry host named "Eclipse" because of its capitals; for a repository on the default registry write "eclipse/theia:next""#,
    );
}
