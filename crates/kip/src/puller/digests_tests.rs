//! The rules of refreshing on change, case by case.

use super::*;

const A1: &str = "sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const A2: &str = "sha256:a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2";
const B1: &str = "sha256:b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";

fn images() -> Vec<CachedImage> {
    vec![
        CachedImage { name: "a".into(), image: "reg.io/a:next".into() },
        CachedImage { name: "b".into(), image: "reg.io/b:1".into() },
    ]
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn recorded(digests: &[(&str, &str)], token: Option<&str>) -> Recorded {
    Recorded {
        digests: map(digests),
        images: map(&[("a", "reg.io/a:next"), ("b", "reg.io/b:1")]),
        token: token.map(String::from),
    }
}

fn resolved(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, KnownDigest> {
    pairs
        .iter()
        .map(|(name, image, digest)| {
            (name.to_string(), KnownDigest { image: image.to_string(), digest: digest.to_string() })
        })
        .collect()
}

#[test]
fn the_token_is_a_stable_hash_of_the_digests() {
    let one = digest_token(&map(&[("a", A1), ("b", B1)]));
    assert_eq!(one, digest_token(&map(&[("b", B1), ("a", A1)])), "order does not matter");
    assert_ne!(one, digest_token(&map(&[("a", A2), ("b", B1)])));
    assert_ne!(one, digest_token(&map(&[("b", A1), ("a", B1)])), "names count");
    assert!(one.starts_with("digests-") && one.len() == "digests-".len() + 16, "{one}");
}

#[test]
fn unchanged_digests_keep_the_live_token() {
    let live = recorded(&[("a", A1), ("b", B1)], Some("2024-05-01T10:00:00Z"));
    let in_force = in_force(&images(), &resolved(&[("a", "reg.io/a:next", A1), ("b", "reg.io/b:1", B1)]), &live);
    let plan = plan(&images(), &live, &in_force);
    assert_eq!(plan.token, "2024-05-01T10:00:00Z");
    assert!(plan.changes.is_empty());
}

#[test]
fn a_changed_digest_rolls_with_a_token_of_the_new_digests() {
    let live = recorded(&[("a", A1), ("b", B1)], Some("old"));
    let in_force = in_force(&images(), &resolved(&[("a", "reg.io/a:next", A2), ("b", "reg.io/b:1", B1)]), &live);
    let plan = plan(&images(), &live, &in_force);
    assert_eq!(plan.changes, [DigestChange { name: "a".into(), from: A1.into(), to: A2.into() }]);
    assert_eq!(plan.token, digest_token(&map(&[("a", A2), ("b", B1)])));
}

#[test]
fn a_failed_lookup_keeps_the_recorded_digest_and_causes_no_roll() {
    // Nothing resolved at all (registry down, or kip just restarted).
    let live = recorded(&[("a", A1), ("b", B1)], Some("old"));
    let kept = in_force(&images(), &BTreeMap::new(), &live);
    assert_eq!(kept, map(&[("a", A1), ("b", B1)]));
    let plan = plan(&images(), &live, &kept);
    assert_eq!((plan.token.as_str(), plan.changes.len()), ("old", 0));
}

#[test]
fn with_partial_failure_the_images_that_resolved_still_roll() {
    let live = recorded(&[("a", A1), ("b", B1)], Some("old"));
    let in_force = in_force(&images(), &resolved(&[("a", "reg.io/a:next", A2)]), &live);
    assert_eq!(in_force, map(&[("a", A2), ("b", B1)]), "b keeps its recorded digest");
    let plan = plan(&images(), &live, &in_force);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.token, digest_token(&map(&[("a", A2), ("b", B1)])));
}

#[test]
fn a_digest_learned_for_the_first_time_does_not_roll() {
    // b failed when the DaemonSet was created: only a was recorded.
    let live = recorded(&[("a", A1)], Some("first"));
    let in_force = in_force(&images(), &resolved(&[("a", "reg.io/a:next", A1), ("b", "reg.io/b:1", B1)]), &live);
    let plan = plan(&images(), &live, &in_force);
    assert_eq!((plan.token.as_str(), plan.changes.len()), ("first", 0));
    assert_eq!(in_force, map(&[("a", A1), ("b", B1)]), "b is recorded from now on");
}

#[test]
fn a_new_daemonset_gets_the_token_of_what_is_known() {
    let none = Recorded::default();
    let in_force = in_force(&images(), &resolved(&[("a", "reg.io/a:next", A1)]), &none);
    let plan = plan(&images(), &none, &in_force);
    assert_eq!(plan.token, digest_token(&map(&[("a", A1)])));
    assert!(plan.changes.is_empty());
}

#[test]
fn a_digest_belongs_to_its_image_reference() {
    // The configuration now names another tag for a: the recorded digest of the old tag is
    // neither kept nor compared, and a digest resolved for the old tag is not used either.
    let live = recorded(&[("a", A1), ("b", B1)], Some("old"));
    let moved = vec![CachedImage { name: "a".into(), image: "reg.io/a:v2".into() }, images()[1].clone()];
    let stale = resolved(&[("a", "reg.io/a:next", A2)]);
    let in_force = in_force(&moved, &stale, &live);
    assert_eq!(in_force, map(&[("b", B1)]));
    assert!(plan(&moved, &live, &in_force).changes.is_empty());
}

#[test]
fn a_pinned_container_still_counts_as_its_image() {
    let mut live = recorded(&[("a", A1)], Some("old"));
    live.images.insert("a".into(), format!("reg.io/a:next@{A1}"));
    assert_eq!(live.digest_for("a", "reg.io/a:next"), Some(A1));
    // Pinned to something else than the record: not trusted.
    live.images.insert("a".into(), format!("reg.io/a:next@{A2}"));
    assert_eq!(live.digest_for("a", "reg.io/a:next"), None);
}

#[test]
fn recorded_state_is_read_from_the_live_daemonset() {
    let daemonset: DaemonSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "ds", "annotations": {DIGESTS_ANNOTATION: format!("{{\"a\":\"{A1}\"}}")}},
        "spec": {
            "selector": {},
            "template": {
                "metadata": {"annotations": {REFRESH_ANNOTATION: "tok"}},
                "spec": {"containers": [{"name": "a", "image": "reg.io/a:next"}]}
            }
        }
    }))
    .expect("daemonset");
    let live = Recorded::of(Some(&daemonset));
    assert_eq!(live.digest_for("a", "reg.io/a:next"), Some(A1));
    assert_eq!(live.token.as_deref(), Some("tok"));
    assert_eq!(Recorded::of(None), Recorded::default());
    let mut garbled = daemonset.clone();
    garbled.metadata.annotations = Some(map(&[(DIGESTS_ANNOTATION, "not json")]));
    assert!(Recorded::of(Some(&garbled)).digests.is_empty(), "a garbled record is ignored");
}

#[test]
fn pinning_waits_until_every_image_was_looked_up_once() {
    let attempted: BTreeSet<(String, String)> = [("a".to_string(), "reg.io/a:next".to_string())].into();
    assert!(!all_attempted(&images(), &attempted, &Recorded::default()));
    assert!(all_attempted(&images(), &attempted, &recorded(&[("b", B1)], None)), "b is recorded");
    let both = attempted.into_iter().chain([("b".to_string(), "reg.io/b:1".to_string())]).collect();
    assert!(all_attempted(&images(), &both, &Recorded::default()));
}
