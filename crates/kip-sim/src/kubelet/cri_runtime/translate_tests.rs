use serde_json::{Value, json};

use super::*;

/// The pod kip renders on plain Kubernetes, reduced to what the runtime reads.
fn kip_pod() -> Value {
    json!({
        "metadata": {"name": "kip-abcde", "namespace": "k8s-image-puller", "uid": "uid-1",
                     "labels": {"app.kubernetes.io/name": "image-puller"}},
        "spec": {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                                "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
            "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}],
            "initContainers": [{
                "name": "copy-sleep", "image": "r/kip:1",
                "command": ["/usr/local/bin/kip-sleep", "--copy-to", "/kip/sleep"],
                "volumeMounts": [{"name": "kip", "mountPath": "/kip"}],
                "resources": {"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}},
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}
            }],
            "containers": [{
                "name": "data", "image": "r/data:1", "command": ["/kip/sleep"], "args": ["720h"],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "kip", "mountPath": "/kip", "readOnly": true}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET_ADMIN"]}, "privileged": true,
                                    "seccompProfile": {"type": "Unconfined"}}
            }]
        }
    })
}

fn pod(value: &Value) -> PodSandboxConfig {
    PodSandboxConfig::from_pod(value)
}

fn container(name: &str, init: bool) -> ContainerConfig {
    ContainerConfig {
        pod_uid: "uid-1".into(),
        name: name.into(),
        image_id: "r/x@sha256:1".into(),
        command: vec!["/c".into()],
        args: vec!["a".into()],
        init,
        attempt: 2,
        image_mounts: Vec::new(),
    }
}

fn image(uid: Option<i64>, username: &str) -> cri::ImageInfo {
    cri::ImageInfo {
        id: cri::ImageRef("sha256:c0".into()),
        repo_tags: vec![],
        repo_digests: vec![],
        size: 1,
        uid,
        username: username.into(),
    }
}

fn translate(value: &Value, config: &ContainerConfig, image: &cri::ImageInfo) -> Result<ContainerSpec, String> {
    container_spec(&pod(value), config, Path::new("/node/pods/uid-1"), image)
}

#[test]
fn the_sandbox_carries_the_pod_identity_labels_and_seccomp() {
    let spec = sandbox_spec(&pod(&kip_pod()), "/node/pods/uid-1/logs".into()).unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.namespace.as_str(), spec.uid.as_str()),
        ("kip-abcde", "k8s-image-puller", "uid-1")
    );
    assert_eq!(spec.labels["app.kubernetes.io/name"], "image-puller");
    assert_eq!(spec.labels[POD_UID_LABEL], "uid-1");
    assert_eq!(spec.seccomp, SeccompProfile::RuntimeDefault);
    assert_eq!(spec.log_directory, Some("/node/pods/uid-1/logs".into()));

    let mut unconfined = kip_pod();
    unconfined["spec"]["securityContext"] = json!({});
    assert_eq!(sandbox_spec(&pod(&unconfined), "/l".into()).unwrap().seccomp, SeccompProfile::Unconfined);
    unconfined["spec"]["securityContext"]["seccompProfile"] =
        json!({"type": "Localhost", "localhostProfile": "p.json"});
    let refused = sandbox_spec(&pod(&unconfined), "/l".into()).unwrap_err();
    assert!(refused.contains("Localhost") && refused.contains("k8s-image-puller/kip-abcde"), "{refused}");
}

#[test]
fn the_init_container_inherits_the_pod_user_and_keeps_its_own_lockdown() {
    let spec = translate(&kip_pod(), &container("copy-sleep", true), &image(None, "")).unwrap();
    assert_eq!((spec.name.as_str(), spec.attempt, spec.image.as_str()), ("copy-sleep", 2, "r/x@sha256:1"));
    assert_eq!((spec.command.clone(), spec.args.clone()), (vec!["/c".to_string()], vec!["a".to_string()]));
    assert_eq!((spec.run_as_user, spec.run_as_group), (Some(65532), Some(65532)));
    assert_eq!(spec.supplemental_groups, [65532], "fsGroup joins the supplemental groups");
    assert!(spec.read_only_root_fs && spec.no_new_privileges && !spec.privileged);
    assert_eq!((spec.add_capabilities.len(), spec.drop_capabilities.clone()), (0, vec!["ALL".to_string()]));
    assert_eq!(spec.seccomp, SeccompProfile::RuntimeDefault, "the pod's profile");
    assert_eq!(
        spec.mounts,
        [HostMount {
            host_path: "/node/pods/uid-1/volumes/kubernetes.io~empty-dir/kip".into(),
            container_path: "/kip".into(),
            read_only: false,
        }]
    );
    assert_eq!(
        spec.resources,
        Resources { cpu_request_millis: Some(50), cpu_limit_millis: Some(200), memory_limit_bytes: Some(20 << 20) }
    );
    assert_eq!(spec.labels[CONTAINER_NAME_LABEL], "copy-sleep");
    assert_eq!(spec.labels[POD_NAME_LABEL], "kip-abcde");
}

#[test]
fn container_settings_override_the_pods() {
    let spec = translate(&kip_pod(), &container("data", false), &image(None, "")).unwrap();
    assert_eq!((spec.run_as_user, spec.run_as_group), (Some(1000), Some(65532)));
    assert!(spec.privileged && !spec.read_only_root_fs && !spec.no_new_privileges);
    assert_eq!(spec.add_capabilities, ["NET_ADMIN"]);
    assert_eq!(spec.seccomp, SeccompProfile::Unconfined);
    assert_eq!(spec.env, [("A".to_string(), "1".to_string())], "values from elsewhere are not resolved");
    assert!(spec.mounts[0].read_only);
    assert_eq!(
        spec.resources,
        Resources { cpu_request_millis: Some(1000), cpu_limit_millis: Some(1000), memory_limit_bytes: Some(1 << 30) },
        "the request defaults to the limit"
    );
}

#[test]
fn run_as_non_root_is_checked_against_the_user_and_the_image() {
    let with_users = |pod_user: Option<i64>, container_user: Option<i64>| {
        let mut value = kip_pod();
        value["spec"]["securityContext"]["runAsUser"] = json!(pod_user);
        value["spec"]["initContainers"][0]["securityContext"]["runAsUser"] = json!(container_user);
        value
    };
    let cases = [
        // (pod user, container user, image uid, image user name) -> accepted?
        (Some(65532), None, None, "", true),
        (None, Some(0), Some(1000), "", false),
        (Some(0), None, Some(1000), "", false),
        (None, None, None, "", false),
        (None, None, Some(0), "", false),
        (None, None, Some(1000), "", true),
        (None, None, None, "nobody", false),
    ];
    for (pod_user, container_user, image_uid, image_user, accepted) in cases {
        let result = translate(
            &with_users(pod_user, container_user),
            &container("copy-sleep", true),
            &image(image_uid, image_user),
        );
        assert_eq!(
            result.is_ok(),
            accepted,
            "{pod_user:?} {container_user:?} {image_uid:?} {image_user:?}: {result:?}"
        );
        if let Err(message) = result {
            assert!(message.contains("runAsNonRoot") && message.contains("copy-sleep"), "{message}");
        }
    }
}

#[test]
fn volumes_the_runtime_cannot_provide_are_refused_with_the_reason() {
    let mut value = kip_pod();
    value["spec"]["volumes"] = json!([
        {"name": "kip", "configMap": {"name": "cm"}},
        {"name": "host", "hostPath": {"path": "/srv/data"}}
    ]);
    let refused = translate(&value, &container("copy-sleep", true), &image(None, "")).unwrap_err();
    assert!(refused.contains("\"kip\"") && refused.contains("emptyDir and hostPath"), "{refused}");

    value["spec"]["initContainers"][0]["volumeMounts"] = json!([{"name": "host", "mountPath": "/data"}]);
    let spec = translate(&value, &container("copy-sleep", true), &image(None, "")).unwrap();
    assert_eq!(spec.mounts[0].host_path, PathBuf::from("/srv/data"));

    value["spec"]["initContainers"][0]["volumeMounts"] = json!([{"name": "absent", "mountPath": "/data"}]);
    let missing = translate(&value, &container("copy-sleep", true), &image(None, "")).unwrap_err();
    assert!(missing.contains("\"absent\""), "{missing}");

    value["spec"]["initContainers"][0]["volumeMounts"] =
        json!([{"name": "host", "mountPath": "/data", "subPath": "x"}]);
    let sub_path = translate(&value, &container("copy-sleep", true), &image(None, "")).unwrap_err();
    assert!(sub_path.contains("subPath"), "{sub_path}");

    let unknown = translate(&kip_pod(), &container("not-there", false), &image(None, "")).unwrap_err();
    assert!(unknown.contains("not-there") && unknown.contains("not in the pod spec"), "{unknown}");
    let wrong_list = translate(&kip_pod(), &container("data", true), &image(None, "")).unwrap_err();
    assert!(wrong_list.contains("not in the pod spec"), "an init container is looked up among init containers only");
}
