//! Events: what changed, said once.

use jiff::Timestamp;

use crate::operator::apply::Applied;
use crate::operator::events::{PullerBefore, changes, transitions};
use crate::operator::status::*;

fn status(problem: Option<Problem>, ready: bool) -> crate::operator::resource::KubernetesImagePullerStatus {
    let caching =
        CachingState { desired: 2, ready: if ready { 2 } else { 1 }, updated: 2, observed: true, images_match: true };
    let findings = Findings {
        generation: 1,
        namespace: "che".into(),
        images: 1,
        problem,
        puller: Some(PullerState { running_current_config: true }),
        caching: Some(caching),
        ..Findings::default()
    };
    desired_status(&findings, None, Timestamp::UNIX_EPOCH)
}

fn reasons(notes: Vec<crate::operator::events::Note>) -> Vec<(bool, &'static str)> {
    notes.into_iter().map(|n| (n.warning, n.reason)).collect()
}

#[test]
fn condition_changes_are_announced_once() {
    let invalid = || Some(Problem::InvalidSpec { report: "bad".into() });
    let duplicate = Some(Problem::Duplicate { primary: "first".into() });
    let cases = [
        ("first pass, caching", None, status(None, false), vec![]),
        ("images cached", Some(status(None, false)), status(None, true), vec![(false, "ImagesCached")]),
        ("still cached", Some(status(None, true)), status(None, true), vec![]),
        ("spec broken", Some(status(None, true)), status(invalid(), true), vec![(true, "InvalidSpec")]),
        ("still broken", Some(status(invalid(), true)), status(invalid(), true), vec![]),
        (
            "fixed",
            Some(status(invalid(), true)),
            status(None, true),
            vec![(false, "Recovered"), (false, "ImagesCached")],
        ),
        ("duplicate", None, status(duplicate, false), vec![(true, "DuplicateResource")]),
    ];
    for (case, before, after, expected) in cases {
        assert_eq!(reasons(transitions(before.as_ref(), &after)), expected, "{case}");
    }
}

#[test]
fn writes_are_announced() {
    let deleted = Applied {
        defaulted: vec!["configMapName"],
        role_binding_recreated: true,
        deleted: vec![("ConfigMap", "old".into())],
    };
    let cases = [
        ("created", Applied::default(), PullerBefore::Missing, vec![(false, "Created")]),
        ("unchanged", Applied::default(), PullerBefore::Present(Some("abc")), vec![]),
        (
            "new configuration",
            Applied::default(),
            PullerBefore::Present(Some("old")),
            vec![(false, "ConfigurationChanged")],
        ),
        (
            "everything",
            deleted,
            PullerBefore::Present(Some("abc")),
            vec![(false, "Defaulted"), (false, "RoleBindingRecreated"), (false, "Deleted")],
        ),
    ];
    for (case, applied, before, expected) in cases {
        assert_eq!(reasons(changes(&applied, before, "abc", "kubernetes-image-puller", 2)), expected, "{case}");
    }
}
