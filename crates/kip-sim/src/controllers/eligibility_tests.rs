use super::*;
use crate::cluster::node::taint;
use serde_json::json;

fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, Option<&str>, &str)]) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        taints: taints.iter().map(|(k, v, e)| taint(k, *v, e)).collect(),
    }
}

fn placement(spec: Value) -> Placement {
    Placement::from_pod_spec(&spec)
}

fn affinity(terms: Value) -> Value {
    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
}

#[test]
fn label_requirements_follow_each_operator() {
    let labels: BTreeMap<String, String> =
        [("zone", "a"), ("cores", "8"), ("name", "x")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let cases = [
        ("zone", "In", vec!["a", "b"], true),
        ("zone", "In", vec!["b"], false),
        ("missing", "In", vec!["a"], false),
        ("zone", "NotIn", vec!["b"], true),
        ("zone", "NotIn", vec!["a"], false),
        ("missing", "NotIn", vec!["a"], true),
        ("zone", "Exists", vec![], true),
        ("missing", "Exists", vec![], false),
        ("zone", "DoesNotExist", vec![], false),
        ("missing", "DoesNotExist", vec![], true),
        ("cores", "Gt", vec!["4"], true),
        ("cores", "Gt", vec!["8"], false),
        ("cores", "Lt", vec!["16"], true),
        ("cores", "Lt", vec!["8"], false),
        ("missing", "Gt", vec!["1"], false),
        ("name", "Gt", vec!["1"], false),
        ("cores", "Gt", vec!["1", "2"], false),
        ("cores", "Gt", vec!["many"], false),
        ("zone", "Near", vec!["a"], false),
    ];
    for (key, operator, values, expected) in cases {
        let req = NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        assert_eq!(matches_label_requirement(&req, &labels), expected, "{key} {operator} {values:?}");
    }
}

#[test]
fn affinity_terms_are_ored_and_requirements_anded() {
    let n = node("node-1", &[("zone", "a"), ("disk", "ssd")], &[]);
    let cases = [
        (json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]), true),
        (
            json!([{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["a"]},
                {"key": "disk", "operator": "In", "values": ["hdd"]}]}]),
            false,
        ),
        (
            json!([
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]),
            true,
        ),
        (json!([]), false),
        (json!([{}]), false),
        (json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]), true),
        (json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]), false),
        (json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-2"]}]}]), true),
        (json!([{"matchFields": [{"key": "metadata.uid", "operator": "In", "values": ["node-1"]}]}]), false),
        (
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}],
                    "matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]),
            false,
        ),
    ];
    for (terms, expected) in cases {
        assert_eq!(matches_node(&placement(affinity(terms.clone())), &n), expected, "{terms}");
    }
    assert!(matches_node(&placement(json!({})), &n), "no affinity matches every node");
}

#[test]
fn node_selector_and_node_name_restrict() {
    let n = node("node-1", &[("role", "worker")], &[]);
    let cases = [
        (json!({"nodeSelector": {"role": "worker"}}), true),
        (json!({"nodeSelector": {"role": "worker", "gpu": "yes"}}), false),
        (json!({"nodeSelector": {"role": ""}}), false),
        (json!({"nodeName": "node-1"}), true),
        (json!({"nodeName": "node-2"}), false),
        (json!({"nodeName": ""}), true),
    ];
    for (spec, expected) in cases {
        assert_eq!(matches_node(&placement(spec.clone()), &n), expected, "{spec}");
    }
}

#[test]
fn tolerations_match_taints_by_key_value_and_effect() {
    let t = taint("dedicated", Some("infra"), "NoSchedule");
    let cases = [
        (json!({"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}), true),
        (json!({"key": "dedicated", "value": "infra"}), true),
        (json!({"key": "dedicated", "value": "other"}), false),
        (json!({"key": "dedicated", "operator": "Exists"}), true),
        (json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}), false),
        (json!({"operator": "Exists"}), true),
        (json!({"key": "other", "operator": "Exists"}), false),
        (json!({"key": "dedicated", "operator": "Like", "value": "infra"}), false),
    ];
    for (toleration, expected) in cases {
        let tol: Toleration = serde_json::from_value(toleration.clone()).expect("toleration");
        assert_eq!(tolerates(&tol, &t), expected, "{toleration}");
    }
}

#[test]
fn taint_effects_decide_scheduling_and_daemon_placement() {
    let ds = |tolerations: Value| {
        let mut p = placement(json!({"tolerations": tolerations}));
        p.tolerations = with_daemon_tolerations(&p.tolerations, false);
        p
    };
    let run = DaemonFit { should_run: true, should_continue_running: true };
    let keep = DaemonFit { should_run: false, should_continue_running: true };
    let none = DaemonFit { should_run: false, should_continue_running: false };
    let cases = [
        ("untainted", vec![], json!([]), run),
        ("PreferNoSchedule is ignored", vec![("k", None, "PreferNoSchedule")], json!([]), run),
        ("NoSchedule keeps new pods off", vec![("k", None, "NoSchedule")], json!([]), keep),
        ("NoExecute evicts", vec![("k", None, "NoExecute")], json!([]), none),
        ("tolerated NoExecute", vec![("k", None, "NoExecute")], json!([{"key": "k", "operator": "Exists"}]), run),
        ("cordoned node", vec![(TAINT_UNSCHEDULABLE, None, "NoSchedule")], json!([]), run),
        ("memory pressure", vec![(TAINT_MEMORY_PRESSURE, None, "NoSchedule")], json!([]), run),
        ("disk pressure", vec![(TAINT_DISK_PRESSURE, None, "NoSchedule")], json!([]), run),
        ("pid pressure", vec![(TAINT_PID_PRESSURE, None, "NoSchedule")], json!([]), run),
        (
            "not ready node keeps its daemon but gets no new one",
            vec![(TAINT_NOT_READY, None, "NoSchedule"), (TAINT_NOT_READY, None, "NoExecute")],
            json!([]),
            keep,
        ),
        ("unreachable node", vec![(TAINT_UNREACHABLE, None, "NoExecute")], json!([]), run),
        (
            "network unavailable without host network",
            vec![(TAINT_NETWORK_UNAVAILABLE, None, "NoSchedule")],
            json!([]),
            keep,
        ),
    ];
    for (name, taints, tolerations, expected) in cases {
        let n = node("node-1", &[], &taints);
        assert_eq!(daemon_fit(&ds(tolerations), &n), expected, "{name}");
    }
    let mut host = placement(json!({"hostNetwork": true}));
    host.tolerations = with_daemon_tolerations(&host.tolerations, host.host_network);
    let n = node("node-1", &[], &[(TAINT_NETWORK_UNAVAILABLE, None, "NoSchedule")]);
    assert_eq!(daemon_fit(&host, &n), run, "host-network daemons tolerate network-unavailable");
}

#[test]
fn unselected_nodes_get_no_daemon_and_lose_the_one_they_have() {
    let p = placement(json!({"nodeSelector": {"role": "worker"}}));
    let n = node("node-1", &[("role", "infra")], &[]);
    assert_eq!(daemon_fit(&p, &n), DaemonFit { should_run: false, should_continue_running: false });
}

#[test]
fn the_scheduler_respects_cordons_and_not_ready_nodes() {
    let plain = placement(json!({}));
    let cases = [
        (vec![], true),
        (vec![(TAINT_UNSCHEDULABLE, None, "NoSchedule")], false),
        (vec![(TAINT_NOT_READY, None, "NoSchedule")], false),
        (vec![("k", None, "PreferNoSchedule")], true),
    ];
    for (taints, expected) in cases {
        assert_eq!(pod_fits(&plain, &node("n", &[], &taints)), expected, "{taints:?}");
    }
}

#[test]
fn daemon_tolerations_replace_equal_ones_and_keep_others() {
    let existing: Vec<Toleration> = serde_json::from_value(json!([
        {"key": TAINT_NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}
    ]))
    .expect("tolerations");
    let merged = with_daemon_tolerations(&existing, false);
    assert_eq!(merged.len(), 7);
    assert_eq!(merged[0].toleration_seconds, None, "the controller's infinite toleration wins");
    assert_eq!(merged[1].key.as_deref(), Some("dedicated"));
    assert!(!merged.iter().any(|t| t.key.as_deref() == Some(TAINT_NETWORK_UNAVAILABLE)));
}
