use serde_json::json;

use super::*;

fn ds_causes(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut ds = daemonset();
    change(&mut ds);
    lines(&validate_defaulted(&builtin("apps", "daemonsets"), ds))
}

#[test]
fn selector_rules() {
    type Change = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Change, Vec<&str>)> = vec![
        (
            "missing",
            Box::new(|ds| {
                ds["spec"].as_object_mut().map(|s| s.remove("selector"));
            }),
            vec!["spec.selector: Required value"],
        ),
        (
            "empty",
            Box::new(|ds| ds["spec"]["selector"] = json!({})),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset",
            ],
        ),
        (
            "not matching the template",
            Box::new(|ds| ds["spec"]["selector"] = json!({"matchLabels": {"test": "other"}})),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app.kubernetes.io/name\":\"image-puller\", \"test\":\"daemonset-test\"}: `selector` does not match template `labels`",
            ],
        ),
        (
            "expressions",
            Box::new(|ds| {
                ds["spec"]["selector"] = json!({"matchExpressions": [
                    {"key": "test", "operator": "In", "values": ["daemonset-test"]},
                    {"key": "gone", "operator": "DoesNotExist"}]})
            }),
            vec![],
        ),
        (
            "expressions not matching",
            Box::new(|ds| {
                ds["spec"]["selector"] =
                    json!({"matchExpressions": [{"key": "test", "operator": "NotIn", "values": ["daemonset-test"]}]})
            }),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app.kubernetes.io/name\":\"image-puller\", \"test\":\"daemonset-test\"}: `selector` does not match template `labels`",
            ],
        ),
        (
            "malformed expressions",
            Box::new(|ds| {
                ds["spec"]["selector"] = json!({"matchExpressions": [
                    {"key": "a", "operator": "In"}, {"key": "b", "operator": "Exists", "values": ["x"]}, {"key": "c", "operator": "Near"}]})
            }),
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator",
            ],
        ),
        (
            "template restart policy",
            Box::new(|ds| ds["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure")),
            vec!["spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""],
        ),
        (
            "template container names",
            Box::new(|ds| ds["spec"]["template"]["spec"]["containers"][0]["name"] = json!("copy-sleep")),
            vec!["spec.template.spec.initContainers[0].name: Duplicate value: \"copy-sleep\""],
        ),
    ];
    for (case, change, expected) in cases {
        assert_eq!(ds_causes(change), expected, "{case}");
    }
}

#[test]
fn the_selector_is_immutable() {
    let rt = builtin("apps", "daemonsets");
    let old = defaulted(&rt, daemonset());
    let mut new = old.clone();
    new["spec"]["selector"]["matchLabels"] = json!({"test": "daemonset-test"});
    let causes = validate(&rt, &new, Some(&old));
    assert_eq!(
        lines(&causes),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"test\":\"daemonset-test\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        ]
    );
    let mut image_change = old.clone();
    image_change["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
    assert!(validate(&rt, &image_change, Some(&old)).is_empty());
}

#[test]
fn deployment_and_replicaset_rules() {
    let template =
        json!({"metadata": {"labels": {"app": "kip"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let deployment = |extra: Value| {
        let mut spec = json!({"selector": {"matchLabels": {"app": "kip"}}, "template": template});
        for (k, v) in extra.as_object().into_iter().flatten() {
            spec[k] = v.clone();
        }
        json!({"metadata": {"name": "kip", "namespace": "ns"}, "spec": spec})
    };
    let rt = builtin("apps", "deployments");
    assert!(validate_defaulted(&rt, deployment(json!({}))).is_empty());
    assert_eq!(
        lines(&validate_defaulted(&rt, deployment(json!({"replicas": -1})))),
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    );
    assert_eq!(
        lines(&validate_defaulted(
            &rt,
            deployment(json!({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}))
        )),
        ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
    );
    let empty = deployment(json!({"selector": {"matchLabels": {}}}));
    assert_eq!(
        lines(&validate_defaulted(&builtin("apps", "replicasets"), empty)),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        ]
    );
}
