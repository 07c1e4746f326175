//! The build step: the children of a resource, as golden files and rule by rule.

use kube::ResourceExt;

use super::*;
use crate::operator::build::{CONFIG_HASH_ANNOTATION, data_hash, desired_children};
use crate::operator::defaults::DEFAULT_IMAGES;
use crate::render::to_yaml;

fn children_yaml(name: &str) -> String {
    let kip = fixture(name);
    let children = desired_children(&kip, &config_map_data(&kip, &ctx()));
    [
        to_yaml(&children.service_account),
        to_yaml(&children.role),
        to_yaml(&children.role_binding),
        to_yaml(&children.config_map),
        to_yaml(&children.deployment),
    ]
    .join("---\n")
}

#[test]
fn golden_children() {
    for name in ["minimal", "full", "go-operator"] {
        insta::assert_snapshot!(name, children_yaml(name));
    }
}

#[test]
fn config_map_data_fills_defaults_and_takes_non_empty_fields() {
    // (fixture, key, expected value)
    let cases = [
        ("minimal", "IMAGES", DEFAULT_IMAGES),
        ("minimal", "CACHING_INTERVAL_HOURS", "1"),
        ("minimal", "CACHING_MEMORY_REQUEST", "10Mi"),
        ("minimal", "CACHING_MEMORY_LIMIT", "20Mi"),
        ("minimal", "CACHING_CPU_REQUEST", ".05"),
        ("minimal", "CACHING_CPU_LIMIT", ".2"),
        ("minimal", "DAEMONSET_NAME", "kubernetes-image-puller"),
        ("minimal", "DAEMONSET_ANNOTATIONS", "{}"),
        ("minimal", "NODE_SELECTOR", "{}"),
        ("minimal", "IMAGE_PULL_SECRETS", ""),
        ("minimal", "AFFINITY", "{}"),
        ("minimal", "TOLERATIONS", "[]"),
        ("minimal", "NAMESPACE", "che"),
        ("minimal", "KIP_IMAGE", OPERATOR_IMAGE),
        ("minimal", "DEPLOYMENT_NAME", "kubernetes-image-puller"),
        ("full", "CACHING_INTERVAL_HOURS", "6"),
        ("full", "CACHING_CPU_LIMIT", "100m"),
        ("full", "DAEMONSET_NAME", "workspace-images"),
        ("full", "NAMESPACE", "eclipse-che"),
        ("full", "KIP_IMAGE", "registry.example.com/mirror/kip:0.1.0"),
        ("full", "DEPLOYMENT_NAME", "che-image-puller"),
        // Empty strings mean "default", as in the Go operator.
        ("go-operator", "DAEMONSET_NAME", "kubernetes-image-puller"),
        ("go-operator", "CACHING_MEMORY_LIMIT", "20Mi"),
        // The Go puller's image is replaced by the operator's.
        ("go-operator", "KIP_IMAGE", OPERATOR_IMAGE),
    ];
    for (name, key, expected) in cases {
        assert_eq!(data(name).get(key).map(String::as_str), Some(expected), "{name}: {key}");
    }
    let every_variable_of_the_puller = [
        "IMAGES",
        "CACHING_INTERVAL_HOURS",
        "DAEMONSET_NAME",
        "DAEMONSET_ANNOTATIONS",
        "NAMESPACE",
        "CACHING_MEMORY_REQUEST",
        "CACHING_MEMORY_LIMIT",
        "CACHING_CPU_REQUEST",
        "CACHING_CPU_LIMIT",
        "NODE_SELECTOR",
        "IMAGE_PULL_SECRETS",
        "AFFINITY",
        "TOLERATIONS",
        "KIP_IMAGE",
        "DEPLOYMENT_NAME",
    ];
    let minimal = data("minimal");
    let keys: Vec<&str> = minimal.keys().map(String::as_str).collect();
    let mut expected = every_variable_of_the_puller.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
}

#[test]
fn the_caching_mode_is_written_only_when_chosen() {
    assert_eq!(data("minimal").get("CACHING_MODE"), None, "a Go-era resource keeps its data and hash");
    let with = |mode: &str| {
        let mut kip = fixture("minimal");
        kip.spec.caching_mode = Some(mode.to_string());
        config_map_data(&kip, &ctx())
    };
    assert_eq!(with("init").get("CACHING_MODE").map(String::as_str), Some("init"));
    assert_eq!(with("").get("CACHING_MODE"), None, "empty means the default, as for every field");
    let kip = KubernetesImagePuller::new(
        "k",
        serde_json::from_value(serde_json::json!({"cachingMode": "image-volume"})).expect("spec"),
    );
    assert_eq!(kip.spec.caching_mode.as_deref(), Some("image-volume"), "the JSON name is cachingMode");
    let refused = crate::operator::validate::validate(&fixture("minimal"), &with("layers")).expect_err("unknown mode");
    assert!(refused.to_string().contains("CACHING_MODE: \"layers\" is not a caching mode"), "{refused}");
}

#[test]
fn every_child_is_controlled_by_the_resource() {
    let kip = fixture("full");
    let children = desired_children(&kip, &config_map_data(&kip, &ctx()));
    let metas = [
        &children.service_account.metadata,
        &children.role.metadata,
        &children.role_binding.metadata,
        &children.config_map.metadata,
        &children.deployment.metadata,
    ];
    for meta in metas {
        let owners = meta.owner_references.as_deref().unwrap_or_default();
        assert_eq!(owners.len(), 1, "{:?}", meta.name);
        let owner = &owners[0];
        assert_eq!(
            (owner.kind.as_str(), owner.api_version.as_str(), owner.name.as_str(), owner.uid.as_str()),
            (
                "KubernetesImagePuller",
                "che.eclipse.org/v1alpha1",
                "workspace-images",
                "6f1d2c3e-0000-4000-8000-000000000002"
            )
        );
        assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));
        assert_eq!(meta.namespace.as_deref(), Some("eclipse-che"));
        let managed = meta.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/managed-by"));
        assert_eq!(managed.map(String::as_str), Some("kip-operator"), "{:?}", meta.name);
    }
    assert_eq!(children.config_map.name_any(), "che-image-puller");
    assert_eq!(children.deployment.name_any(), "che-image-puller");
    for labels in [&children.config_map.metadata.labels, &children.deployment.metadata.labels] {
        assert_eq!(labels.as_ref().and_then(|l| l.get("app")).map(String::as_str), Some("kubernetes-image-puller"));
    }
}

#[test]
fn the_role_grants_what_kip_run_needs_and_no_more() {
    let kip = fixture("full");
    let children = desired_children(&kip, &config_map_data(&kip, &ctx()));
    let rules: Vec<(String, String, Vec<String>, Vec<String>)> = children
        .role
        .rules
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r.api_groups.unwrap_or_default().join(","),
                r.resources.unwrap_or_default().join(","),
                r.resource_names.unwrap_or_default(),
                r.verbs,
            )
        })
        .collect();
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let expected = vec![
        ("apps".into(), "daemonsets".into(), vec![], strings(&["get", "list", "watch", "create", "patch", "delete"])),
        ("apps".into(), "deployments".into(), strings(&["che-image-puller"]), strings(&["get", "list", "watch"])),
        ("".into(), "configmaps".into(), strings(&["che-image-puller"]), strings(&["get", "list", "watch"])),
        ("coordination.k8s.io".into(), "leases".into(), vec![], strings(&["create"])),
        (
            "coordination.k8s.io".into(),
            "leases".into(),
            strings(&["kip-workspace-images"]),
            strings(&["get", "update"]),
        ),
        ("events.k8s.io".into(), "events".into(), vec![], strings(&["create", "patch"])),
        ("".into(), "pods".into(), vec![], strings(&["list", "watch"])),
        ("".into(), "secrets".into(), strings(&["quay-pull", "registry-pull"]), strings(&["get"])),
    ];
    assert_eq!(rules, expected);
    let binding = children.role_binding;
    assert_eq!((binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()), ("Role", "create-daemonset"));
    let subject = &binding.subjects.unwrap_or_default()[0];
    assert_eq!(
        (subject.kind.as_str(), subject.name.as_str(), subject.namespace.as_deref()),
        ("ServiceAccount", "k8s-image-puller", Some("eclipse-che"))
    );
}

#[test]
fn the_deployment_runs_kip_as_the_go_operator_ran_its_puller() {
    let kip = fixture("full");
    let deployment = desired_children(&kip, &config_map_data(&kip, &ctx())).deployment;
    let spec = deployment.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.strategy.and_then(|s| s.type_).as_deref(), Some("Recreate"));
    let selector = spec.selector.match_labels.expect("selector");
    assert_eq!(selector.get("app").map(String::as_str), Some("kubernetes-image-puller"));
    let pod = spec.template.spec.expect("pod");
    assert_eq!(pod.service_account_name.as_deref(), Some("k8s-image-puller"));
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("registry.example.com/mirror/kip:0.1.0"));
    assert_eq!(container.args.as_deref(), Some(&["run".to_string()][..]));
    let env: Vec<(String, Option<String>)> =
        container.env.iter().flatten().map(|e| (e.name.clone(), e.value.clone())).collect();
    assert!(env.contains(&("DEPLOYMENT_NAME".into(), Some("che-image-puller".into()))), "{env:?}");
    assert!(env.contains(&("KIP_CONFIG_MAP".into(), Some("che-image-puller".into()))), "{env:?}");
    let pod_name = container.env.iter().flatten().find(|e| e.name == "POD_NAME").expect("POD_NAME");
    let field = pod_name.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).map(|f| f.field_path.as_str());
    assert_eq!(field, Some("metadata.name"));
    let env_from = container.env_from.as_ref().and_then(|e| e[0].config_map_ref.as_ref()).map(|c| c.name.as_str());
    assert_eq!(env_from, Some("che-image-puller"));
    let security = container.security_context.as_ref().expect("security context");
    assert_eq!(
        (security.allow_privilege_escalation, security.read_only_root_filesystem, security.run_as_non_root),
        (Some(false), Some(true), Some(true))
    );
    assert!(container.liveness_probe.is_some() && container.readiness_probe.is_some());
    let seccomp = pod.security_context.and_then(|s| s.seccomp_profile).map(|p| p.type_);
    assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"));
}

#[test]
fn a_change_of_data_changes_the_template_annotation() {
    let hash_of = |kip: &KubernetesImagePuller| {
        let deployment = desired_children(kip, &config_map_data(kip, &ctx())).deployment;
        let template = deployment.spec.expect("spec").template.metadata.expect("metadata");
        template.annotations.expect("annotations")[CONFIG_HASH_ANNOTATION].clone()
    };
    let before = fixture("full");
    let mut after = before.clone();
    after.spec.caching_interval_hours = Some("12".into());
    assert_ne!(hash_of(&before), hash_of(&after));
    assert_eq!(hash_of(&before), hash_of(&before.clone()));
    assert_eq!(hash_of(&before), data_hash(&data("full")));
    // Key and value boundaries count: moving a character across them is a change.
    let a = BTreeMap::from([("ab".to_string(), "c".to_string())]);
    let b = BTreeMap::from([("a".to_string(), "bc".to_string())]);
    assert_ne!(data_hash(&a), data_hash(&b));
}
