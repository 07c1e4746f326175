//! Tests of the rendered DaemonSet: golden files, the Pod Security "restricted" profile, and
//! the rules kip's compatibility rests on.

mod digests;
mod golden;
mod modes;
mod restricted;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::*;
use crate::config::Config;

const OWNER_UID: &str = "6f1c2a8e-3b1d-4c55-9e0a-7d2b9f1e4a10";

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("IMAGES", "theia=quay.io/eclipse/che-theia:next;machine-exec=quay.io/eclipse/che-machine-exec:7.20.0"),
        ("DEPLOYMENT_NAME", "kubernetes-image-puller"),
        ("KIP_IMAGE", "ghcr.io/kip-dev/kip:0.1.0"),
    ];
    vars.extend_from_slice(extra);
    Config::from_vars(vars).unwrap_or_else(|errors| panic!("{errors}"))
}

fn plain() -> RenderContext {
    RenderContext { openshift: false, owner_uid: Some(OWNER_UID.to_string()), ..RenderContext::default() }
}

fn pod_spec(daemonset: &DaemonSet) -> &PodSpec {
    daemonset.spec.as_ref().and_then(|spec| spec.template.spec.as_ref()).expect("a pod spec")
}

fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers.iter().flatten().chain(&spec.containers)
}

fn pairs(map: Option<&std::collections::BTreeMap<String, String>>) -> Vec<(&str, &str)> {
    map.into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn the_selector_is_the_go_pullers_so_its_daemonsets_can_be_adopted() {
    let daemonset = desired_daemonset(&config(&[]), &plain());
    let spec = daemonset.spec.as_ref().expect("spec");
    let expected = [("app.kubernetes.io/name", "image-puller"), ("test", "daemonset-test")];
    assert_eq!(pairs(spec.selector.match_labels.as_ref()), expected);
    assert_eq!(spec.selector.match_expressions, None);
    let template_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    assert_eq!(pairs(template_labels), expected);
    let labels = pairs(daemonset.metadata.labels.as_ref());
    assert_eq!(labels, [("app.kubernetes.io/managed-by", "kip"), expected[0], expected[1]]);
}

#[test]
fn one_sleeping_container_per_image_after_the_copy() {
    let config = config(&[("CACHING_CPU_LIMIT", "300m"), ("CACHING_MEMORY_LIMIT", "32Mi")]);
    let daemonset = desired_daemonset(&config, &plain());
    let spec = pod_spec(&daemonset);
    let init = spec.init_containers.as_deref().unwrap_or_default();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, "copy-sleep");
    assert_eq!(init[0].image.as_deref(), Some("ghcr.io/kip-dev/kip:0.1.0"));
    assert_eq!(
        init[0].command.as_deref(),
        Some(&["/usr/local/bin/kip-sleep".to_string(), "--copy-to".into(), "/kip/sleep".into()][..])
    );
    let containers: Vec<(&str, Option<&str>)> =
        spec.containers.iter().map(|c| (c.name.as_str(), c.image.as_deref())).collect();
    assert_eq!(
        containers,
        [
            ("theia", Some("quay.io/eclipse/che-theia:next")),
            ("machine-exec", Some("quay.io/eclipse/che-machine-exec:7.20.0"))
        ]
    );
    for container in &spec.containers {
        assert_eq!(container.command.as_deref(), Some(&["/kip/sleep".to_string()][..]));
        assert_eq!(container.args.as_deref(), Some(&["720h".to_string()][..]));
    }
    for container in all_containers(spec) {
        assert_eq!(container.image_pull_policy.as_deref(), Some("Always"), "{}", container.name);
        let mounts = container.volume_mounts.as_deref().unwrap_or_default();
        assert_eq!(
            mounts.iter().map(|m| (m.name.as_str(), m.mount_path.as_str())).collect::<Vec<_>>(),
            [("kip", "/kip")]
        );
        let resources = container.resources.as_ref().expect("resources");
        let limits = resources.limits.as_ref().expect("limits");
        assert_eq!((limits["cpu"].0.as_str(), limits["memory"].0.as_str()), ("300m", "32Mi"), "{}", container.name);
        let requests = resources.requests.as_ref().expect("requests");
        assert_eq!((requests["cpu"].0.as_str(), requests["memory"].0.as_str()), (".05", "10Mi"), "{}", container.name);
    }
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()).map(|q| q.0.as_str()), Some("50Mi"));
    assert_eq!(spec.termination_grace_period_seconds, Some(1));
}

#[test]
fn the_owner_is_the_deployment_when_its_uid_is_known() {
    let daemonset = desired_daemonset(&config(&[]), &plain());
    let owners = daemonset.metadata.owner_references.as_deref().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    let owner = &owners[0];
    assert_eq!(
        (owner.api_version.as_str(), owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("apps/v1", "Deployment", "kubernetes-image-puller", OWNER_UID)
    );
    assert_eq!((owner.controller, owner.block_owner_deletion), (None, None));
    let orphan = desired_daemonset(&config(&[]), &RenderContext { owner_uid: None, ..plain() });
    assert_eq!(orphan.metadata.owner_references, None);
}

#[test]
fn a_refresh_token_rolls_the_pods() {
    let annotations = |token: Option<&str>| {
        let ctx = RenderContext { refresh_token: token.map(str::to_string), ..plain() };
        let daemonset = desired_daemonset(&config(&[]), &ctx);
        daemonset.spec.and_then(|s| s.template.metadata).and_then(|m| m.annotations)
    };
    assert_eq!(annotations(None), None);
    let with = annotations(Some("2024-05-01T10:00:00Z"));
    assert_eq!(pairs(with.as_ref()), [("kip.dev/refresh", "2024-05-01T10:00:00Z")]);
}

#[test]
fn user_ids_are_fixed_on_kubernetes_and_left_to_openshift() {
    let kubernetes = desired_daemonset(&config(&[]), &plain());
    let context = pod_spec(&kubernetes).security_context.as_ref().expect("pod security context");
    assert_eq!((context.run_as_user, context.run_as_group, context.fs_group), (Some(65532), Some(65532), Some(65532)));
    let openshift = desired_daemonset(&config(&[]), &RenderContext { openshift: true, ..plain() });
    let context = pod_spec(&openshift).security_context.as_ref().expect("pod security context");
    assert_eq!((context.run_as_user, context.run_as_group, context.fs_group), (None, None, None));
    assert_eq!(context.seccomp_profile.as_ref().map(|p| p.type_.as_str()), Some("RuntimeDefault"));
}

#[test]
fn the_update_strategy_bounds_the_refresh() {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    for (text, expected) in [("10%", IntOrString::String("10%".into())), ("3", IntOrString::Int(3))] {
        let daemonset = desired_daemonset(&config(&[("KIP_MAX_UNAVAILABLE", text)]), &plain());
        let strategy = daemonset.spec.and_then(|s| s.update_strategy).expect("strategy");
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        assert_eq!(strategy.rolling_update.and_then(|r| r.max_unavailable), Some(expected));
    }
}

#[test]
fn the_go_pullers_image_keeps_its_copy_command() {
    use super::daemonset::copy_sleep_command;
    let go = ["/bin/sh", "-c", "cp /bin/sleep /kip/sleep"];
    let ours = ["/usr/local/bin/kip-sleep", "--copy-to", "/kip/sleep"];
    let cases: &[(&str, &[&str])] = &[
        ("quay.io/eclipse/kubernetes-image-puller:next", &go),
        ("registry.redhat.io/codeready-workspaces/imagepuller-rhel8:2.3", &go),
        ("registry.redhat.io/devspaces/imagepuller-rhel8@sha256:abc", &go),
        ("ghcr.io/kip-dev/kip:0.1.0", &ours),
        ("localhost:5000/kip", &ours),
    ];
    for (image, expected) in cases {
        assert_eq!(copy_sleep_command(image), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{image}");
    }
}
