//! The settings of digest-driven refresh and of the node warm signal.

use super::*;

#[test]
fn cache_settings_default_to_on_change_without_pinning_or_signals() {
    let config = valid(&[]);
    assert_eq!(config.refresh_policy, RefreshPolicy::OnChange);
    assert!(!config.pin_digests);
    assert!(config.insecure_registries.is_empty());
    assert_eq!((config.warm_node_label, config.startup_taint), (None, None));
}

#[test]
fn refresh_policies() {
    for (text, policy) in [
        ("on-change", RefreshPolicy::OnChange),
        ("On_Change", RefreshPolicy::OnChange),
        ("always", RefreshPolicy::Always),
        ("ALWAYS", RefreshPolicy::Always),
    ] {
        assert_eq!(valid(&[("KIP_REFRESH_POLICY", text)]).refresh_policy, policy, "{text}");
    }
    let errors = invalid(&[("KIP_REFRESH_POLICY", "hourly")]);
    assert_problem(&errors.errors, "KIP_REFRESH_POLICY", "", r#""hourly" is not a refresh policy"#);
    assert_problem(&errors.errors, "KIP_REFRESH_POLICY", "", "Accepted: on-change or always");
}

#[test]
fn pinning_is_a_switch() {
    assert!(valid(&[("KIP_PIN_DIGESTS", "true")]).pin_digests);
    let errors = invalid(&[("KIP_PIN_DIGESTS", "sometimes")]);
    assert_problem(&errors.errors, "KIP_PIN_DIGESTS", "", "is not a switch");
}

#[test]
fn insecure_registries_are_hosts_as_references_write_them() {
    let config = valid(&[("KIP_INSECURE_REGISTRIES", " registry.local:5000; 127.0.0.1:41234;localhost ;")]);
    let expected: BTreeSet<String> =
        ["127.0.0.1:41234", "localhost", "registry.local:5000"].into_iter().map(String::from).collect();
    assert_eq!(config.insecure_registries, expected);
    let errors = invalid(&[("KIP_INSECURE_REGISTRIES", "http://registry.local:5000;myhost;bad_host.io")]);
    assert_problem(&errors.errors, "KIP_INSECURE_REGISTRIES", "entry 1 \"http://registry.local:5000\"", "URL scheme");
    assert_problem(&errors.errors, "KIP_INSECURE_REGISTRIES", "entry 2 \"myhost\"", "is not read as a registry host");
    assert_problem(&errors.errors, "KIP_INSECURE_REGISTRIES", "entry 3 \"bad_host.io\"", "is not a registry host");
}

#[test]
fn warm_label_and_startup_taint_are_qualified_names() {
    let config = valid(&[("KIP_WARM_NODE_LABEL", "kip.dev/cached"), ("KIP_STARTUP_TAINT", "kip.dev/not-warm")]);
    assert_eq!(config.warm_node_label.as_deref(), Some("kip.dev/cached"));
    assert_eq!(config.startup_taint.as_deref(), Some("kip.dev/not-warm"));
    let errors = invalid(&[("KIP_WARM_NODE_LABEL", "kip.dev/a/b"), ("KIP_STARTUP_TAINT", "-warm")]);
    assert_problem(&errors.errors, "KIP_WARM_NODE_LABEL", "", r#""kip.dev/a/b" is not a valid label key"#);
    assert_problem(&errors.errors, "KIP_STARTUP_TAINT", "", r#""-warm" is not a valid taint key"#);
}
