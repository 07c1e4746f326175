//! The files in `deploy/operator` agree with the code: the CRD is the generated one, the
//! operator's ClusterRole holds every permission of the Role it creates (or the API server
//! would refuse it, as RBAC escalation), the image versions match, the sample is valid.

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kip::operator::build::{BuildContext, config_map_data, desired_children};
use kip::operator::defaults::DEFAULT_PULLER_IMAGE;
use kip::operator::validate::validate;
use kip::operator::{KubernetesImagePuller, crd_yaml};
use serde_json::Value;

fn deploy_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/operator").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every document of a multi-document YAML file.
fn documents(name: &str) -> Vec<Value> {
    let text = deploy_file(name);
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn document<T: serde::de::DeserializeOwned>(name: &str, kind: &str) -> T {
    let doc = documents(name).into_iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {name}"));
    serde_json::from_value(doc).unwrap_or_else(|error| panic!("{kind} in {name}: {error}"))
}

#[test]
fn the_committed_crd_is_the_generated_one() {
    assert!(
        deploy_file("crd.yaml") == crd_yaml(),
        "deploy/operator/crd.yaml is out of date with the Rust types; regenerate it with\n    \
         cargo run -p kip -- crd > deploy/operator/crd.yaml"
    );
}

fn grants(rules: &[PolicyRule], group: &str, resource: &str, name: Option<&str>, verb: &str) -> bool {
    let has = |list: &[String], item: &str| list.iter().any(|x| x == item || x == "*");
    rules.iter().any(|rule| {
        has(rule.api_groups.as_deref().unwrap_or_default(), group)
            && has(rule.resources.as_deref().unwrap_or_default(), resource)
            && has(&rule.verbs, verb)
            && match (&rule.resource_names, name) {
                (None, _) => true,
                (Some(names), Some(name)) => names.iter().any(|n| n == name),
                (Some(_), None) => false,
            }
    })
}

#[test]
fn the_operator_holds_every_permission_it_grants() {
    let cluster_role: ClusterRole = document("rbac.yaml", "ClusterRole");
    let operator_rules = cluster_role.rules.unwrap_or_default();
    let kip: KubernetesImagePuller =
        serde_saphyr::from_str(&deploy_file("samples/kubernetesimagepuller.yaml")).expect("sample");
    let ctx = BuildContext { default_image: DEFAULT_PULLER_IMAGE.to_string() };
    let role = desired_children(&kip, &config_map_data(&kip, &ctx)).role;
    for rule in role.rules.unwrap_or_default() {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    let names: Vec<Option<&str>> = match &rule.resource_names {
                        Some(names) => names.iter().map(|n| Some(n.as_str())).collect(),
                        None => vec![None],
                    };
                    for name in names {
                        assert!(
                            grants(&operator_rules, group, resource, name, verb),
                            "the operator's ClusterRole lacks {verb} {group}/{resource} {name:?}, which it grants"
                        );
                    }
                }
            }
        }
    }
    // And nothing beyond what it grants: it may read pull secrets (to grant that by name) but
    // not list them, and it has nothing on nodes.
    assert!(!grants(&operator_rules, "", "secrets", None, "list"));
    assert!(!grants(&operator_rules, "", "pods", None, "get"));
    assert!(!grants(&operator_rules, "", "nodes", None, "get"));
}

#[test]
fn the_operator_and_its_pullers_run_this_version() {
    let deployment: Deployment = document("deployment.yaml", "Deployment");
    let container = &deployment.spec.expect("spec").template.spec.expect("pod").containers[0];
    assert_eq!(container.image.as_deref(), Some(DEFAULT_PULLER_IMAGE));
    let puller_image =
        container.env.iter().flatten().find(|e| e.name == "KIP_PULLER_IMAGE").and_then(|e| e.value.clone());
    assert_eq!(puller_image.as_deref(), Some(DEFAULT_PULLER_IMAGE));
    assert_eq!(container.args.as_deref(), Some(&["operator".to_string()][..]));
}

#[test]
fn the_sample_is_a_valid_resource() {
    let kip: KubernetesImagePuller =
        serde_saphyr::from_str(&deploy_file("samples/kubernetesimagepuller.yaml")).expect("sample");
    let ctx = BuildContext { default_image: DEFAULT_PULLER_IMAGE.to_string() };
    let config = validate(&kip, &config_map_data(&kip, &ctx)).unwrap_or_else(|problems| panic!("{problems}"));
    assert_eq!(config.images.len(), 2);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}
