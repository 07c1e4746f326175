use super::*;
use crate::resources::{Registry, ResourceType};
use serde_json::json;

fn labelled(labels: Value) -> Value {
    json!({"metadata": {"name": "x", "namespace": "ns", "labels": labels}})
}

#[test]
fn label_operators_match_as_kubernetes_does() {
    let web = labelled(json!({"app": "web", "tier": "front", "rank": "7"}));
    let db = labelled(json!({"app": "db"}));
    let bare = json!({"metadata": {"name": "y"}});
    // (selector, matches web, matches db, matches bare)
    let cases = [
        ("", true, true, true),
        ("app=web", true, false, false),
        ("app==web", true, false, false),
        ("app!=web", false, true, true),
        ("app in (web, cache)", true, false, false),
        ("app notin (web,cache)", false, true, true),
        ("tier", true, false, false),
        ("!tier", false, true, true),
        ("app=web,tier=front", true, false, false),
        ("app=web,tier=back", false, false, false),
        ("rank>5", true, false, false),
        ("rank<5", false, false, false),
        ("example.com/key!=v", true, true, true),
        ("  app  =  db  ", false, true, false),
        ("app in (db,)", false, true, false),
    ];
    for (selector, want_web, want_db, want_bare) in cases {
        let s = LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(
            (s.matches(&web), s.matches(&db), s.matches(&bare)),
            (want_web, want_db, want_bare),
            "selector {selector:?}"
        );
    }
}

#[test]
fn bad_label_selectors_are_bad_requests() {
    for selector in
        ["app in web", "app in (web", "=web", "app=(x)", "app=web,", "app==web==x", "rank>x", "-bad-=x", "a b"]
    {
        let err = LabelSelector::parse(selector).expect_err(selector);
        assert_eq!((err.code, err.reason), (400, "BadRequest"), "{selector}");
        assert!(err.message.starts_with("unable to parse requirement"), "{selector}: {}", err.message);
    }
}

fn pods() -> ResourceType {
    Registry::new(false).lookup("", "v1", "pods").cloned().expect("pods")
}

#[test]
fn field_selectors_compare_fields_with_escapes() {
    let pod = json!({
        "metadata": {"name": "p,1", "namespace": "ns"},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running"}
    });
    let cases = [
        ("metadata.name=p\\,1", true),
        ("metadata.namespace==ns", true),
        ("metadata.namespace!=ns", false),
        ("spec.nodeName=node-1,status.phase=Running", true),
        ("spec.nodeName=node-2", false),
        ("spec.nodeName!=", true),
        ("status.podIP=", true),
        ("spec.hostNetwork=false", true),
    ];
    for (selector, want) in cases {
        let s = FieldSelector::parse(selector, &pods()).unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(s.matches(&pod), want, "{selector}");
    }
}

#[test]
fn unsupported_fields_are_rejected_with_the_api_server_message() {
    let err = FieldSelector::parse("spec.foo=x", &pods()).expect_err("unsupported");
    assert_eq!((err.code, err.message.as_str()), (400, "field label not supported: spec.foo"));
    let cm = Registry::new(false).lookup("", "v1", "configmaps").cloned().expect("configmaps");
    assert!(FieldSelector::parse("spec.nodeName=x", &cm).is_err(), "pod fields only on pods");
    let mut custom = cm;
    custom.custom = true;
    let err = FieldSelector::parse("spec.x=y", &custom).expect_err("custom");
    assert_eq!(err.message, "\"spec.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
    assert_eq!(FieldSelector::parse("justaword", &pods()).expect_err("no operator").code, 400);
}
