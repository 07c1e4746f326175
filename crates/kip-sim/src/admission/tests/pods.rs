use serde_json::json;

use super::*;

fn pod_causes(spec: Value) -> Vec<String> {
    lines(&validate_defaulted(&builtin("", "pods"), pod(spec)))
}

#[test]
fn a_valid_pod_and_the_kip_daemonset_pass() {
    assert_eq!(pod_causes(json!({"containers": [{"name": "c", "image": "x"}]})), Vec::<String>::new());
    assert!(validate_defaulted(&builtin("apps", "daemonsets"), daemonset()).is_empty());
}

#[test]
fn container_rules() {
    let cases = [
        ("no containers", json!({"containers": []}), vec!["spec.containers: Required value".to_string()]),
        (
            "bad name",
            json!({"containers": [{"name": "Bad_Name", "image": "x"}]}),
            vec!["spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()],
        ),
        ("no name", json!({"containers": [{"image": "x"}]}), vec!["spec.containers[0].name: Required value".into()]),
        ("no image", json!({"containers": [{"name": "c"}]}), vec!["spec.containers[0].image: Required value".into()]),
        (
            "duplicate names",
            json!({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]}),
            vec!["spec.containers[1].name: Duplicate value: \"c\"".into()],
        ),
        (
            "an init container named like a container",
            json!({"initContainers": [{"name": "c", "image": "x"}], "containers": [{"name": "c", "image": "y"}]}),
            vec!["spec.initContainers[0].name: Duplicate value: \"c\"".into()],
        ),
        (
            "pull policy",
            json!({"containers": [{"name": "c", "image": "x", "imagePullPolicy": "Sometimes"}]}),
            vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"".into()],
        ),
        (
            "ports",
            json!({"containers": [{"name": "c", "image": "x",
                                   "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}, {"name": "p"}]}]}),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"TCP\", \"UDP\", \"SCTP\"".into(),
                "spec.containers[0].ports[2].containerPort: Required value".into(),
            ],
        ),
        (
            "image with whitespace",
            json!({"containers": [{"name": "c", "image": " x"}]}),
            vec!["spec.containers[0].image: Invalid value: \" x\": must not have leading or trailing whitespace".into()],
        ),
        (
            "host port",
            json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": -1}]}]}),
            vec!["spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive".into()],
        ),
        (
            "dns policy",
            json!({"dnsPolicy": "Nearest", "containers": [{"name": "c", "image": "x"}]}),
            vec!["spec.dnsPolicy: Unsupported value: \"Nearest\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"".into()],
        ),
        (
            "restart policy",
            json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "x"}]}),
            vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into()],
        ),
    ];
    for (case, spec, expected) in cases {
        assert_eq!(pod_causes(spec), expected, "{case}");
    }
}

#[test]
fn volumes_and_mounts() {
    let cases = [
        (
            "mount of a missing volume",
            json!({"volumes": [{"name": "kip", "emptyDir": {}}],
                   "containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "cache", "mountPath": "/c"}]}]}),
            vec!["spec.containers[0].volumeMounts[0].name: Not found: \"cache\"".to_string()],
        ),
        (
            "mount without a path",
            json!({"volumes": [{"name": "kip"}], "containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "kip"}]}]}),
            vec!["spec.containers[0].volumeMounts[0].mountPath: Required value".into()],
        ),
        (
            "mount without a volume name",
            json!({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"mountPath": "/v"}]}]}),
            vec!["spec.containers[0].volumeMounts[0].name: Required value".into()],
        ),
        (
            "volume name",
            json!({"volumes": [{"name": "Kip"}], "containers": [{"name": "c", "image": "x"}]}),
            vec!["spec.volumes[0].name: Invalid value: \"Kip\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into()],
        ),
        (
            "duplicate volumes",
            json!({"volumes": [{"name": "kip"}, {"name": "kip"}], "containers": [{"name": "c", "image": "x"}]}),
            vec!["spec.volumes[1].name: Duplicate value: \"kip\"".into()],
        ),
    ];
    for (case, spec, expected) in cases {
        assert_eq!(pod_causes(spec), expected, "{case}");
    }
    let not_found = validate_defaulted(
        &builtin("", "pods"),
        pod(json!({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]})),
    );
    assert_eq!(not_found[0].reason, "FieldValueNotFound");
}

#[test]
fn resources_are_quantities_and_requests_stay_within_limits() {
    let with = |resources: Value| json!({"containers": [{"name": "c", "image": "x", "resources": resources}]});
    let cases = [
        ("within", json!({"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}}), vec![]),
        (
            "cpu above its limit",
            json!({"requests": {"cpu": "500m"}, "limits": {"cpu": ".2"}}),
            vec!["spec.containers[0].resources.requests: Invalid value: \"500m\": must be less than or equal to cpu limit of 200m".to_string()],
        ),
        (
            "memory above its limit",
            json!({"requests": {"memory": "1Gi"}, "limits": {"memory": "1000Mi"}}),
            vec!["spec.containers[0].resources.requests: Invalid value: \"1Gi\": must be less than or equal to memory limit of 1000Mi".into()],
        ),
        (
            "an extended resource below its limit",
            json!({"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}}),
            vec!["spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2".into()],
        ),
        (
            "unparsable",
            json!({"limits": {"memory": "20MB"}}),
            vec!["spec.containers[0].resources.limits[memory]: Invalid value: \"20MB\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into()],
        ),
        (
            "a suffix that is no unit",
            json!({"limits": {"memory": "1kk"}}),
            vec!["spec.containers[0].resources.limits[memory]: Invalid value: \"1kk\": unable to parse quantity's suffix".into()],
        ),
        (
            "negative",
            json!({"requests": {"cpu": "-1"}}),
            vec!["spec.containers[0].resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0".into()],
        ),
    ];
    for (case, resources, expected) in cases {
        // Templates: pods would copy limits into missing requests.
        let mut ds = daemonset();
        ds["spec"]["template"]["spec"] = with(resources.clone());
        let causes = lines(&validate_defaulted(&builtin("apps", "daemonsets"), ds));
        let expected: Vec<String> =
            expected.iter().map(|l| l.replacen("spec.containers", "spec.template.spec.containers", 1)).collect();
        assert_eq!(causes, expected, "{case}");
    }
}
