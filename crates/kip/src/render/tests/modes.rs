//! The pod of each caching mode: which containers and volumes it has, that each image keeps its
//! pull policy (so a refresh pulls again), and that what the scheduler reserves for the rendered
//! pod is what the configuration report says.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kip_rules::Quantity as Exact;

use super::*;
use crate::config::{Reservation, reservation_per_node};

fn mode(mode: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("CACHING_MODE", mode)];
    vars.extend_from_slice(extra);
    config(&vars)
}

fn names(containers: &[Container]) -> Vec<&str> {
    containers.iter().map(|c| c.name.as_str()).collect()
}

fn strings(list: &Option<Vec<String>>) -> Vec<&str> {
    list.iter().flatten().map(String::as_str).collect()
}

fn amounts(resources: &Option<ResourceRequirements>, kind: &str) -> (String, String) {
    let map = resources.as_ref().and_then(|r| if kind == "limits" { r.limits.as_ref() } else { r.requests.as_ref() });
    let get = |key: &str| map.and_then(|m| m.get(key)).map(|q| q.0.clone()).unwrap_or_default();
    (get("cpu"), get("memory"))
}

#[test]
fn init_runs_each_image_as_an_init_container_and_keeps_the_pod_with_one_small_container() {
    let daemonset = desired_daemonset(&mode("init", &[]), &plain());
    let spec = pod_spec(&daemonset);
    let init = spec.init_containers.as_deref().unwrap_or_default();
    assert_eq!(names(init), ["copy-sleep", "theia", "machine-exec"], "the copy first: the others run its sleep");
    for (container, image) in
        init[1..].iter().zip(["quay.io/eclipse/che-theia:next", "quay.io/eclipse/che-machine-exec:7.20.0"])
    {
        assert_eq!(container.image.as_deref(), Some(image));
        assert_eq!((strings(&container.command), strings(&container.args)), (vec!["/kip/sleep"], vec!["0s"]));
        assert_eq!(container.image_pull_policy.as_deref(), Some("Always"), "a refresh pulls again");
        assert_eq!(amounts(&container.resources, "requests"), (".05".into(), "10Mi".into()));
        assert_eq!(amounts(&container.resources, "limits"), (".2".into(), "20Mi".into()));
    }
    assert_eq!(names(&spec.containers), ["kip-keeper"]);
    let keeper = &spec.containers[0];
    assert_eq!(keeper.image.as_deref(), Some("ghcr.io/kip-dev/kip:0.1.0"));
    assert_eq!((strings(&keeper.command), strings(&keeper.args)), (vec!["/kip/sleep"], vec!["720h"]));
    assert_eq!(amounts(&keeper.resources, "requests"), ("5m".into(), "8Mi".into()));
    assert_eq!(amounts(&keeper.resources, "limits"), ("50m".into(), "16Mi".into()));
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    assert_eq!(volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["kip"]);
    for container in all_containers(spec) {
        let mounts: Vec<&str> = container.volume_mounts.iter().flatten().map(|m| m.mount_path.as_str()).collect();
        assert_eq!(mounts, ["/kip"], "{}", container.name);
    }
}

#[test]
fn image_volume_mounts_every_image_into_one_container_that_runs_kips_own_sleep() {
    let daemonset = desired_daemonset(&mode("image-volume", &[]), &plain());
    let spec = pod_spec(&daemonset);
    assert_eq!(spec.init_containers, None, "nothing to copy: the keeper runs the sleep of its own image");
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let sources: Vec<(&str, Option<&str>, Option<&str>)> = volumes
        .iter()
        .map(|v| {
            let image = v.image.as_ref();
            (v.name.as_str(), image.and_then(|i| i.reference.as_deref()), image.and_then(|i| i.pull_policy.as_deref()))
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("theia", Some("quay.io/eclipse/che-theia:next"), Some("Always")),
            ("machine-exec", Some("quay.io/eclipse/che-machine-exec:7.20.0"), Some("Always")),
        ]
    );
    assert_eq!(names(&spec.containers), ["kip-keeper"]);
    let keeper = &spec.containers[0];
    assert_eq!((strings(&keeper.command), strings(&keeper.args)), (vec!["/usr/local/bin/kip-sleep"], vec!["720h"]));
    let mounts: Vec<(&str, &str, Option<bool>)> =
        keeper.volume_mounts.iter().flatten().map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only)).collect();
    assert_eq!(
        mounts,
        [("theia", "/cache/theia", Some(true)), ("machine-exec", "/cache/machine-exec", Some(true))],
        "every volume mounted (the kubelet pulls only mounted image volumes), read-only"
    );
}

#[test]
fn the_go_pullers_image_runs_its_own_sleep_as_keeper() {
    let config = mode("image-volume", &[("KIP_IMAGE", "quay.io/eclipse/kubernetes-image-puller:next")]);
    let daemonset = desired_daemonset(&config, &plain());
    assert_eq!(strings(&pod_spec(&daemonset).containers[0].command), ["/bin/sleep"]);
}

/// What the scheduler reserves for a pod: its containers together, or its largest init
/// container when that is more; limits alike.
fn scheduled(spec: &PodSpec) -> Reservation {
    let amount = |c: &Container, kind: &str, resource: &str| {
        let (cpu, memory) = amounts(&c.resources, kind);
        Exact::parse(if resource == "cpu" { &cpu } else { &memory }).expect("a quantity")
    };
    let effective = |kind: &str, resource: &str| {
        let sum = spec
            .containers
            .iter()
            .map(|c| amount(c, kind, resource))
            .fold(Exact::from_nanos(0), |a, b| a.checked_add(b).expect("no overflow"));
        let largest_init =
            spec.init_containers.iter().flatten().map(|c| amount(c, kind, resource)).max().unwrap_or(sum);
        sum.max(largest_init)
    };
    Reservation {
        cpu_request: effective("requests", "cpu"),
        cpu_limit: effective("limits", "cpu"),
        memory_request: effective("requests", "memory"),
        memory_limit: effective("limits", "memory"),
    }
}

#[test]
fn the_reported_reservation_is_what_the_rendered_pod_reserves() {
    let twenty: Vec<String> = (1..=20).map(|i| format!("image-{i}=registry.example.com/image-{i}:1")).collect();
    let twenty = twenty.join(";");
    for caching_mode in ["containers", "init", "image-volume"] {
        for (images, overrides) in [
            ("a=x:1", vec![]),
            (twenty.as_str(), vec![]),
            (twenty.as_str(), vec![("CACHING_CPU_REQUEST", "1m"), ("CACHING_MEMORY_LIMIT", "64Mi")]),
        ] {
            let mut vars = vec![("IMAGES", images)];
            vars.extend(overrides.iter().copied());
            let config = mode(caching_mode, &vars);
            let daemonset = desired_daemonset(&config, &plain());
            assert_eq!(
                scheduled(pod_spec(&daemonset)),
                reservation_per_node(&config),
                "{caching_mode} with {} images, {overrides:?}",
                config.images.len()
            );
        }
    }
}

#[test]
fn the_cached_images_are_read_back_from_the_pod_of_every_mode() {
    let config = config(&[]);
    let expected: Vec<(String, Option<String>)> =
        config.images.iter().map(|i| (i.name.clone(), Some(i.image.clone()))).collect();
    for caching_mode in ["containers", "init", "image-volume"] {
        let daemonset = desired_daemonset(&mode(caching_mode, &[]), &plain());
        let read: Vec<(String, Option<String>)> =
            cached_images(pod_spec(&daemonset)).into_iter().map(|c| (c.name, c.image)).collect();
        assert_eq!(read, expected, "{caching_mode}: neither copy-sleep nor the keeper, every image once");
    }
}
