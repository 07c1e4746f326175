//! The JSON passes shared by the JSON-valued variables: syntax with a caret excerpt, shape
//! with a JSON path, unknown fields.

use super::*;

#[test]
fn syntax_errors_point_at_line_and_column() {
    let errors = invalid(&[("NODE_SELECTOR", r#"{"a" 1}"#)]);
    assert_problem(&errors.errors, "NODE_SELECTOR", "line 1, column 6", "is not valid JSON: expected `:`");
    let problem = errors.for_variable("NODE_SELECTOR").next().expect("a problem");
    assert_eq!(problem.excerpt.as_deref(), Some("{\"a\" 1}\n     ^"));
}

#[test]
fn the_excerpt_shows_the_broken_line_of_a_multi_line_value() {
    let raw = "[\n  {\"key\": \"a\",\n   \"effect\": NoSchedule}\n]";
    let errors = invalid(&[("TOLERATIONS", raw)]);
    assert_problem(&errors.errors, "TOLERATIONS", "line 3, column 14", "is not valid JSON: expected value");
    let problem = errors.for_variable("TOLERATIONS").next().expect("a problem");
    assert_eq!(problem.excerpt.as_deref(), Some("   \"effect\": NoSchedule}\n             ^"));
}

#[test]
fn a_long_line_is_cut_around_the_caret() {
    let raw = format!(r#"{{"{}": "x" "b": "{}"}}"#, "k".repeat(100), "v".repeat(100));
    let errors = invalid(&[("DAEMONSET_ANNOTATIONS", &raw)]);
    let problem = errors.for_variable("DAEMONSET_ANNOTATIONS").next().expect("a problem");
    let excerpt = problem.excerpt.as_deref().unwrap_or_default();
    let (line, caret) = excerpt.split_once('\n').expect("two lines");
    assert!(line.starts_with("...") && line.ends_with("..."), "{line}");
    assert_eq!(line.chars().nth(caret.len() - 1), Some('"'), "the caret sits under the unexpected quote:\n{excerpt}");
}

#[test]
fn the_report_prints_the_excerpt_under_its_problem() {
    let errors = invalid(&[("AFFINITY", "{nodeAffinity: {}}")]);
    let report = errors.to_string();
    assert!(
        report.contains(
            "error: AFFINITY[line 1, column 2]: is not valid JSON: key must be a string. Accepted: a JSON core/v1 Affinity"
        ),
        "{report}"
    );
    assert!(report.contains("\n    {nodeAffinity: {}}\n     ^"), "{report}");
}

#[test]
fn the_wrong_shape_names_the_json_path_and_the_expected_type() {
    let cases = [
        ("NODE_SELECTOR", r#"["a"]"#, "$", "has the wrong shape: invalid type: sequence, expected a map"),
        ("NODE_SELECTOR", r#"{"zone": 1}"#, "$.zone", "invalid type: integer `1`, expected a string"),
        ("DAEMONSET_ANNOTATIONS", r#"{"a": true}"#, "$.a", "invalid type: boolean `true`, expected a string"),
        ("TOLERATIONS", r#"{"key": "a"}"#, "$", "invalid type: map, expected a sequence"),
        ("TOLERATIONS", r#"[{"key": 3}]"#, "$[0].key", "invalid type: integer `3`, expected a string"),
        ("TOLERATIONS", r#"[{"tolerationSeconds": "30"}]"#, "$[0].tolerationSeconds", "expected i64"),
        (
            "AFFINITY",
            r#"{"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": {}}}}"#,
            "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
            "invalid type: map, expected a sequence",
        ),
        ("AFFINITY", r#"[]"#, "$", "invalid type: sequence"),
    ];
    for (variable, raw, path, fragment) in cases {
        assert_problem(&invalid(&[(variable, raw)]).errors, variable, path, fragment);
    }
}

#[test]
fn unknown_fields_are_reported_with_the_closest_known_one() {
    let cases = [
        (
            "AFFINITY",
            r#"{"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelecterTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}"#,
            "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelecterTerms",
            r#"unknown field "nodeSelecterTerms"; did you mean "nodeSelectorTerms"? Accepted: fields nodeSelectorTerms"#,
        ),
        ("AFFINITY", r#"{"nodeAfinity": {}}"#, "$.nodeAfinity", r#"did you mean "nodeAffinity"?"#),
        (
            "AFFINITY",
            r#"{"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In", "value": ["b"]}]}]}}}"#,
            "$.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].value",
            r#"did you mean "values"?"#,
        ),
        (
            "AFFINITY",
            r#"{"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabel": {"a": "b"}}}]}}"#,
            "$.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabel",
            r#"did you mean "matchLabels"?"#,
        ),
        (
            "TOLERATIONS",
            r#"[{"operator": "Exists", "efect": "NoSchedule"}]"#,
            "$[0].efect",
            r#"did you mean "effect"?"#,
        ),
        (
            "TOLERATIONS",
            r#"[{}, {"operator": "Exists", "colour": "blue"}]"#,
            "$[1].colour",
            "unknown field \"colour\". Accepted: fields effect, key, operator, tolerationSeconds, value",
        ),
    ];
    for (variable, raw, path, fragment) in cases {
        assert_problem(&invalid(&[(variable, raw)]).errors, variable, path, fragment);
    }
}

#[test]
fn unknown_fields_are_reported_even_when_the_shape_is_wrong_too() {
    let errors = invalid(&[("TOLERATIONS", r#"[{"key": 3, "efect": "NoSchedule"}]"#)]);
    assert_problem(&errors.errors, "TOLERATIONS", "$[0].key", "expected a string");
    assert_problem(&errors.errors, "TOLERATIONS", "$[0].efect", "unknown field");
}
