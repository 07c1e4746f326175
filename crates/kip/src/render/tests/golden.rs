//! Golden files of the rendered DaemonSet (`snapshots/`): review a change in shape as a diff.

use super::*;

#[test]
fn plain_kubernetes() {
    insta::assert_snapshot!("plain", to_yaml(&desired_daemonset(&config(&[]), &plain())));
}

#[test]
fn openshift() {
    let ctx = RenderContext { openshift: true, ..plain() };
    insta::assert_snapshot!("openshift", to_yaml(&desired_daemonset(&config(&[]), &ctx)));
}

#[test]
fn without_an_owner_uid() {
    let ctx = RenderContext { owner_uid: None, ..plain() };
    insta::assert_snapshot!("without_owner", to_yaml(&desired_daemonset(&config(&[]), &ctx)));
}

#[test]
fn every_optional_field_set() {
    let config = config(&[
        ("DAEMONSET_NAME", "workspace-images"),
        ("NAMESPACE", "che"),
        ("DAEMONSET_ANNOTATIONS", r#"{"example.com/team": "platform", "description": "workspace images"}"#),
        ("NODE_SELECTOR", r#"{"node-role.kubernetes.io/worker": ""}"#),
        (
            "AFFINITY",
            r#"{"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}}"#,
        ),
        (
            "TOLERATIONS",
            r#"[{"key": "dedicated", "operator": "Equal", "value": "workspaces", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]"#,
        ),
        ("IMAGE_PULL_SECRETS", "quay-pull;registry-pull"),
        ("CACHING_MEMORY_REQUEST", "16Mi"),
        ("CACHING_MEMORY_LIMIT", "32Mi"),
        ("CACHING_CPU_REQUEST", "10m"),
        ("CACHING_CPU_LIMIT", "100m"),
        ("KIP_IMAGE", "registry.example.com/kip/kip:1.0.0"),
        ("KIP_MAX_UNAVAILABLE", "2"),
    ]);
    let ctx = RenderContext { refresh_token: Some("2024-05-01T10:00:00Z".to_string()), ..plain() };
    insta::assert_snapshot!("full", to_yaml(&desired_daemonset(&config, &ctx)));
}

#[test]
fn caching_modes() {
    for mode in ["init", "image-volume"] {
        let daemonset = desired_daemonset(&config(&[("CACHING_MODE", mode)]), &plain());
        insta::assert_snapshot!(mode, to_yaml(&daemonset));
    }
}

#[test]
fn the_yaml_reads_back_as_the_same_daemonset() {
    let daemonset = desired_daemonset(&config(&[("TOLERATIONS", r#"[{"operator": "Exists"}]"#)]), &plain());
    let yaml = to_yaml(&daemonset);
    let read: DaemonSet = serde_saphyr::from_str(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    assert_eq!(read, daemonset);
}
