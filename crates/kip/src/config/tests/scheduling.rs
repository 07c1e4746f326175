//! `NODE_SELECTOR`, `DAEMONSET_ANNOTATIONS`, `AFFINITY`, `TOLERATIONS`: the values the API
//! server accepts, and each rule it would refuse them by.

use super::*;

#[test]
fn node_selector() {
    let config = valid(&[("NODE_SELECTOR", r#"{"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"}"#)]);
    assert_eq!(config.node_selector.get("node-role.kubernetes.io/worker").map(String::as_str), Some(""));
    assert_eq!(config.node_selector.len(), 2);
    for empty in ["{}", "null"] {
        assert!(valid(&[("NODE_SELECTOR", empty)]).node_selector.is_empty(), "{empty}");
    }
    let refused = [
        (r#"{"bad key": "x"}"#, r#"key "bad key""#, "is not a valid label key: name part must consist of alphanumeric"),
        (r#"{"a/b/c": "x"}"#, r#"key "a/b/c""#, "is not a valid label key"),
        (r#"{"zone": "-x"}"#, r#"key "zone""#, r#"the value "-x" is not a valid label value"#),
        (&format!(r#"{{"zone": "{}"}}"#, "v".repeat(64)), r#"key "zone""#, "must be no more than 63 characters"),
    ];
    for (raw, location, fragment) in refused {
        assert_problem(&invalid(&[("NODE_SELECTOR", raw)]).errors, "NODE_SELECTOR", location, fragment);
    }
}

#[test]
fn daemonset_annotations() {
    let config = valid(&[("DAEMONSET_ANNOTATIONS", r#"{"example.com/team": "dev", "note": "any text: at all"}"#)]);
    assert_eq!(config.daemonset_annotations.get("note").map(String::as_str), Some("any text: at all"));
    let errors = invalid(&[("DAEMONSET_ANNOTATIONS", r#"{"Bad_Prefix/x": "1"}"#)]);
    assert_problem(&errors.errors, "DAEMONSET_ANNOTATIONS", r#"key "Bad_Prefix/x""#, "is not a valid annotation key");
    let huge = format!(r#"{{"a": "{}"}}"#, "x".repeat(256 * 1024));
    let errors = invalid(&[("DAEMONSET_ANNOTATIONS", &huge)]);
    assert_problem(
        &errors.errors,
        "DAEMONSET_ANNOTATIONS",
        "",
        "the annotations total 262145 bytes. Accepted: at most 262144",
    );
}

const NODE_AFFINITY: &str = r#"{"nodeAffinity": {
  "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]},
  "preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 10, "preference": {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}}]}}"#;

#[test]
fn affinity_is_parsed_and_empty_means_none() {
    let config = valid(&[("AFFINITY", NODE_AFFINITY)]);
    let node = config.affinity.and_then(|a| a.node_affinity).expect("node affinity");
    let required = node.required_during_scheduling_ignored_during_execution.expect("required terms");
    assert_eq!(required.node_selector_terms.len(), 1);
    assert_eq!(node.preferred_during_scheduling_ignored_during_execution.map(|p| p[0].weight), Some(10));
    for empty in ["{}", "null"] {
        assert_eq!(valid(&[("AFFINITY", empty)]).affinity, None, "{empty}");
    }
    let pod = r#"{"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
      "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "x"},
      "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}}}]}}"#;
    assert!(valid(&[("AFFINITY", pod)]).affinity.and_then(|a| a.pod_anti_affinity).is_some());
}

fn node_requirement(requirement: &str) -> String {
    format!(
        r#"{{"nodeAffinity": {{"requiredDuringSchedulingIgnoredDuringExecution": {{"nodeSelectorTerms": [{{"matchExpressions": [{requirement}]}}]}}}}}}"#
    )
}

fn node_field(requirement: &str) -> String {
    format!(
        r#"{{"nodeAffinity": {{"requiredDuringSchedulingIgnoredDuringExecution": {{"nodeSelectorTerms": [{{"matchFields": [{requirement}]}}]}}}}}}"#
    )
}

fn pod_term(term: &str) -> String {
    format!(r#"{{"podAffinity": {{"requiredDuringSchedulingIgnoredDuringExecution": [{term}]}}}}"#)
}

#[test]
fn affinity_rules() {
    let expression =
        "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]";
    let field = "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0]";
    let pod = "$.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]";
    let cases: Vec<(String, String, &str)> = vec![
        (
            node_requirement(r#"{"key": "a", "operator": "Inn", "values": ["b"]}"#),
            format!("{expression}.operator"),
            r#"operator "Inn" is not supported. Accepted: In, NotIn, Exists, DoesNotExist, Gt, Lt"#,
        ),
        (node_requirement(r#"{"key": "a", "operator": "In"}"#), format!("{expression}.values"), "operator In needs at least one value"),
        (node_requirement(r#"{"key": "a", "operator": "Exists", "values": ["b"]}"#), format!("{expression}.values"), "operator Exists takes no values"),
        (node_requirement(r#"{"key": "a", "operator": "Gt", "values": ["x"]}"#), format!("{expression}.values"), "operator Gt needs exactly one value, an integer"),
        (node_requirement(r#"{"key": "a b", "operator": "Exists"}"#), format!("{expression}.key"), r#""a b" is not a valid label key"#),
        (node_field(r#"{"key": "metadata.namespace", "operator": "In", "values": ["x"]}"#), format!("{field}.key"), "is not a node field that can be selected. Accepted: metadata.name"),
        (node_field(r#"{"key": "metadata.name", "operator": "In", "values": ["x", "y"]}"#), format!("{field}.values"), "needs exactly one value, not 2"),
        (
            r#"{"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}"#.to_string(),
            "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms".to_string(),
            "lists no node selector term",
        ),
        (
            r#"{"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]}}"#.to_string(),
            "$.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight".to_string(),
            "weight 0 is out of range. Accepted: 1 to 100",
        ),
        (pod_term(r#"{"topologyKey": ""}"#), format!("{pod}.topologyKey"), "the topology key is empty"),
        (pod_term(r#"{"topologyKey": "zone", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}}"#), format!("{pod}.labelSelector.matchExpressions[0].operator"), r#"operator "Gt" is not supported. Accepted: In, NotIn, Exists, DoesNotExist"#),
        (pod_term(r#"{"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "-x"}}}"#), format!("{pod}.labelSelector.matchLabels.app"), "is not a valid label value"),
        (pod_term(r#"{"topologyKey": "zone", "namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}"#), format!("{pod}.namespaceSelector.matchExpressions[0].values"), "needs at least one value"),
        (
            r#"{"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 101, "podAffinityTerm": {"topologyKey": "zone"}}]}}"#.to_string(),
            "$.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight".to_string(),
            "weight 101 is out of range",
        ),
    ];
    for (raw, path, fragment) in &cases {
        assert_problem(&invalid(&[("AFFINITY", raw)]).errors, "AFFINITY", path, fragment);
    }
}

#[test]
fn tolerations_the_api_server_accepts() {
    let cases = [
        ("[]", 0),
        ("null", 0),
        (r#"[{"operator": "Exists"}]"#, 1),
        (r#"[{"key": "dedicated", "operator": "Equal", "value": "builds", "effect": "NoSchedule"}]"#, 1),
        (r#"[{"key": "dedicated", "value": "builds"}]"#, 1),
        (
            r#"[{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]"#,
            1,
        ),
        (
            r#"[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}, {"key": "b", "operator": "Exists"}]"#,
            2,
        ),
    ];
    for (raw, count) in cases {
        assert_eq!(valid(&[("TOLERATIONS", raw)]).tolerations.len(), count, "{raw}");
    }
}

#[test]
fn toleration_rules_name_the_entry() {
    let cases = [
        (
            r#"[{"key": "a", "operator": "Exists", "value": "b"}]"#,
            r#"entry 1 {"key":"a","operator":"Exists","value":"b"}"#,
            r#"operator Exists matches any value, so value "b" must be left out"#,
        ),
        (
            r#"[{"key": "a", "operator": "Exist"}]"#,
            r#"entry 1 {"key":"a","operator":"Exist"}"#,
            r#"operator "Exist" is not supported. Accepted: Exists, Equal (the default)"#,
        ),
        (
            r#"[{"key": "a", "operator": "Exists", "effect": "NoSchedul"}]"#,
            r#"entry 1 {"effect":"NoSchedul","key":"a","operator":"Exists"}"#,
            r#"effect "NoSchedul" is not supported. Accepted: NoSchedule, PreferNoSchedule, NoExecute"#,
        ),
        (r#"[{"value": "b"}]"#, r#"entry 1 {"value":"b"}"#, "an empty key needs operator Exists"),
        (
            r#"[{"key": "a", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]"#,
            r#"entry 1 {"effect":"NoSchedule","key":"a","operator":"Exists","tolerationSeconds":5}"#,
            "tolerationSeconds applies only to effect NoExecute",
        ),
        (
            r#"[{"key": "a b", "operator": "Exists"}]"#,
            r#"entry 1 {"key":"a b","operator":"Exists"}"#,
            r#"the key "a b" is not a valid taint key"#,
        ),
        (
            r#"[{"key": "a", "value": "b c"}]"#,
            r#"entry 1 {"key":"a","value":"b c"}"#,
            r#"the value "b c" is not a valid taint value"#,
        ),
    ];
    for (raw, location, fragment) in cases {
        assert_problem(&invalid(&[("TOLERATIONS", raw)]).errors, "TOLERATIONS", location, fragment);
    }
}

#[test]
fn one_bad_toleration_does_not_hide_the_others() {
    let raw = r#"[{"key": 1}, {"key": "a", "operator": "Exist"}, {"operator": "Exists"}, {"value": "x"}]"#;
    let errors = invalid(&[("TOLERATIONS", raw)]);
    let locations: Vec<String> =
        errors.errors.iter().filter_map(|p| p.location.as_ref()).map(ToString::to_string).collect();
    assert_eq!(
        locations,
        ["$[0].key", r#"entry 2 {"key":"a","operator":"Exist"}"#, r#"entry 4 {"value":"x"}"#],
        "{errors}"
    );
}
