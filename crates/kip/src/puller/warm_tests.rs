//! Which nodes get the warm label, lose it, or lose the startup taint.

use serde_json::json;

use super::*;
use crate::config::Config;
use crate::status::live::Interest;
use crate::status::{SlimNode, WantedImage};

const LABEL: &str = "kip.dev/cached";
const TAINT: &str = "kip.dev/not-warm";

fn index(nodes: &[(&str, Option<&str>, bool, bool)]) -> LiveIndex {
    let config = Config::from_vars([
        ("IMAGES", "app=quay.io/x/app:1"),
        ("DEPLOYMENT_NAME", "kip"),
        ("KIP_WARM_NODE_LABEL", LABEL),
        ("KIP_STARTUP_TAINT", TAINT),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let mut index = LiveIndex::new(Interest::of(&config));
    for (name, label, tainted, holds) in nodes {
        let mut taints = vec![json!({"key": "gpu", "value": "a100", "effect": "NoSchedule"})];
        if *tainted {
            taints.push(json!({"key": TAINT, "effect": "NoSchedule"}));
        }
        let labels = match label {
            Some(value) => json!({LABEL: value}),
            None => json!({}),
        };
        let images: Vec<&str> = if *holds { vec!["quay.io/x/app:1"] } else { vec![] };
        let node: SlimNode = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels, "resourceVersion": "42"},
            "spec": {"taints": taints},
            "status": {"images": [{"names": images}]}
        }))
        .expect("node");
        index.upsert_node(&node);
    }
    index
}

fn report(index: &LiveIndex) -> CacheReport {
    index.report(&[WantedImage { name: "app".into(), image: "quay.io/x/app:1".into(), digest: None }])
}

#[test]
fn warm_nodes_are_labelled_and_cold_ones_unlabelled() {
    let index = index(&[
        ("warm-new", None, false, true),
        ("warm-done", Some("true"), false, true),
        ("warm-odd", Some("false"), false, true),
        ("cold-labelled", Some("true"), false, false),
        ("cold", None, false, false),
    ]);
    let changes = changes(&report(&index), &index, Some(LABEL), None);
    assert_eq!(
        changes,
        [
            NodeChange::Unlabel { node: "cold-labelled".into() },
            NodeChange::Label { node: "warm-new".into() },
            NodeChange::Label { node: "warm-odd".into() },
        ]
    );
}

#[test]
fn the_startup_taint_goes_from_warm_nodes_only_and_alone() {
    let index = index(&[("warm", None, true, true), ("cold", None, true, false), ("clean", None, false, true)]);
    let changes = changes(&report(&index), &index, None, Some(TAINT));
    assert_eq!(changes.len(), 1, "{changes:?}");
    let NodeChange::Untaint { node, remaining, resource_version } = &changes[0] else { panic!("{changes:?}") };
    assert_eq!(node, "warm");
    assert_eq!(remaining.len(), 1);
    assert_eq!((remaining[0].key.as_str(), remaining[0].value.as_deref()), ("gpu", Some("a100")));
    assert_eq!(resource_version.as_deref(), Some("42"));
}

#[test]
fn the_patches_name_only_kips_label_and_guard_the_taints() {
    assert_eq!(
        NodeChange::Label { node: "n".into() }.patch(Some(LABEL)),
        json!({"metadata": {"labels": {LABEL: "true"}}})
    );
    assert_eq!(
        NodeChange::Unlabel { node: "n".into() }.patch(Some(LABEL)),
        json!({"metadata": {"labels": {LABEL: null}}})
    );
    let untaint = NodeChange::Untaint { node: "n".into(), remaining: vec![], resource_version: Some("42".into()) };
    assert_eq!(untaint.patch(None), json!({"metadata": {"resourceVersion": "42"}, "spec": {"taints": []}}));
}

#[test]
fn nothing_to_do_when_neither_is_configured() {
    let index = index(&[("warm", None, true, true)]);
    assert!(changes(&report(&index), &index, None, None).is_empty());
}
