use serde_json::json;

use super::*;

#[test]
fn daemonsets_get_the_api_server_defaults() {
    let rt = builtin("apps", "daemonsets");
    let ds = defaulted(&rt, daemonset());
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    let pod_spec = &ds["spec"]["template"]["spec"];
    assert_eq!(pod_spec["restartPolicy"], "Always");
    assert_eq!(pod_spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod_spec["schedulerName"], "default-scheduler");
    assert_eq!(pod_spec["securityContext"], json!({}));
    assert_eq!(pod_spec["terminationGracePeriodSeconds"], 1, "a value given is kept");
    assert_eq!(pod_spec["volumes"][0], json!({"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}), "no medium");
    for container in [&pod_spec["containers"][0], &pod_spec["initContainers"][0]] {
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(container["terminationMessagePolicy"], "File");
        assert_eq!(container["imagePullPolicy"], "Always");
    }
    assert!(pod_spec.get("enableServiceLinks").is_none(), "pod-only defaults stay out of templates");
    assert!(pod_spec.get("tolerations").is_none());
    assert!(pod_spec.get("priority").is_none());
    assert!(pod_spec["containers"][0]["resources"]["requests"]["memory"] == "10Mi");
}

#[test]
fn defaulting_twice_changes_nothing() {
    for (rt, obj) in [
        (builtin("apps", "daemonsets"), daemonset()),
        (
            builtin("", "pods"),
            pod(json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 1}]}]})),
        ),
        (builtin("", "namespaces"), json!({"metadata": {"name": "ns"}})),
    ] {
        let once = defaulted(&rt, obj);
        assert_eq!(defaulted(&rt, once.clone()), once, "{}", rt.kind);
    }
}

#[test]
fn image_pull_policy_follows_the_tag() {
    let rt = builtin("", "pods");
    let cases = [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:1", "IfNotPresent"),
        ("nginx@sha256:0123", "IfNotPresent"),
        ("nginx:latest@sha256:0123", "Always"),
    ];
    for (image, policy) in cases {
        let p = defaulted(&rt, pod(json!({"containers": [{"name": "c", "image": image}]})));
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], policy, "{image}");
    }
}

#[test]
fn pods_get_their_own_and_admission_defaults() {
    let rt = builtin("", "pods");
    let p = defaulted(
        &rt,
        pod(json!({
            "hostNetwork": true,
            "containers": [{"name": "c", "image": "x:1", "ports": [{"containerPort": 8080}],
                            "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}},
                            "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                            "readinessProbe": {"httpGet": {"port": 8080}},
                            "lifecycle": {"preStop": {"httpGet": {"port": 8080}}}}],
            "volumes": [{"name": "cm", "configMap": {"name": "x"}}, {"name": "scratch"}, {"name": "h", "hostPath": {"path": "/h"}}]
        })),
    );
    let spec = &p["spec"];
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(
        spec["tolerations"],
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );
    let c = &spec["containers"][0];
    assert_eq!(c["resources"]["requests"], json!({"cpu": "1", "memory": "1Mi"}), "requests default to limits");
    assert_eq!(c["ports"][0], json!({"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}));
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(spec["volumes"][0]["configMap"]["defaultMode"], 420);
    assert_eq!(spec["volumes"][1], json!({"name": "scratch", "emptyDir": {}}));
    assert_eq!(spec["volumes"][2]["hostPath"], json!({"path": "/h", "type": ""}));
    assert_eq!(c["lifecycle"]["preStop"]["httpGet"], json!({"port": 8080, "path": "/", "scheme": "HTTP"}));
}

#[test]
fn tolerations_already_given_are_not_doubled() {
    let rt = builtin("", "pods");
    let p = defaulted(
        &rt,
        pod(json!({"containers": [{"name": "c", "image": "x"}],
                   "serviceAccountName": "kip", "priorityClassName": "system-node-critical",
                   "tolerations": [{"operator": "Exists"}]})),
    );
    assert_eq!(p["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(p["spec"]["serviceAccount"], "kip");
    assert_eq!(p["spec"]["priority"], 2_000_001_000);
}

#[test]
fn workload_defaults() {
    let deploy = defaulted(
        &builtin("apps", "deployments"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
    );
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(
        deploy["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(deploy["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(deploy["spec"]["progressDeadlineSeconds"], 600);
    let recreate = defaulted(&builtin("apps", "deployments"), json!({"spec": {"strategy": {"type": "Recreate"}}}));
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}), "no rolling update for Recreate");
    let rs = defaulted(&builtin("apps", "replicasets"), json!({"spec": {}}));
    assert_eq!(rs["spec"]["replicas"], 1);
    let ds = defaulted(&builtin("apps", "daemonsets"), json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}));
    assert_eq!(ds["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
}

#[test]
fn other_built_in_defaults() {
    let ns = defaulted(&builtin("", "namespaces"), json!({"metadata": {"name": "k8s-image-puller"}}));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "k8s-image-puller");
    let secret = defaulted(&builtin("", "secrets"), json!({"metadata": {"name": "s"}}));
    assert_eq!(secret["type"], "Opaque");
    let sa = json!({"metadata": {"name": "k8s-image-puller"}});
    assert_eq!(defaulted(&builtin("", "serviceaccounts"), sa.clone()), sa, "service accounts get nothing");
    let node = defaulted(&builtin("", "nodes"), json!({"status": {"capacity": {"cpu": "4"}}}));
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));
    let binding = defaulted(
        &builtin("rbac.authorization.k8s.io", "rolebindings"),
        json!({"roleRef": {"kind": "Role", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "User", "name": "u"}]}),
    );
    assert_eq!(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert!(binding["subjects"][0].get("apiGroup").is_none());
    assert_eq!(binding["subjects"][1]["apiGroup"], "rbac.authorization.k8s.io");
}
