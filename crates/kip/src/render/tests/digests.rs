//! Digests in the rendered DaemonSet: the annotation recording them, pinned images, and the
//! toleration of the startup taint.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;

use super::*;

const THEIA: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn with_digests() -> RenderContext {
    RenderContext { digests: BTreeMap::from([("theia".to_string(), THEIA.to_string())]), ..plain() }
}

fn images_and_policies(daemonset: &DaemonSet) -> Vec<(String, String)> {
    pod_spec(daemonset)
        .containers
        .iter()
        .map(|c| (c.image.clone().unwrap_or_default(), c.image_pull_policy.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn known_digests_are_recorded_on_the_daemonset() {
    let config = config(&[("DAEMONSET_ANNOTATIONS", r#"{"team":"dev"}"#)]);
    let daemonset = desired_daemonset(&config, &with_digests());
    let annotations = daemonset.metadata.annotations.expect("annotations");
    assert_eq!(annotations.get("team").map(String::as_str), Some("dev"));
    let recorded: BTreeMap<String, String> =
        serde_json::from_str(&annotations[DIGESTS_ANNOTATION]).expect("a JSON object");
    assert_eq!(recorded, BTreeMap::from([("theia".to_string(), THEIA.to_string())]));
    let none = desired_daemonset(&config, &plain());
    assert!(!none.metadata.annotations.unwrap_or_default().contains_key(DIGESTS_ANNOTATION));
}

#[test]
fn without_pinning_images_keep_their_tags_and_pull_always() {
    let daemonset = desired_daemonset(&config(&[]), &with_digests());
    assert_eq!(
        images_and_policies(&daemonset),
        [
            ("quay.io/eclipse/che-theia:next".to_string(), "Always".to_string()),
            ("quay.io/eclipse/che-machine-exec:7.20.0".to_string(), "Always".to_string()),
        ]
    );
}

#[test]
fn pinning_names_images_by_digest_where_one_is_known() {
    let daemonset = desired_daemonset(&config(&[("KIP_PIN_DIGESTS", "true")]), &with_digests());
    assert_eq!(
        images_and_policies(&daemonset),
        [
            (format!("quay.io/eclipse/che-theia:next@{THEIA}"), "IfNotPresent".to_string()),
            // No digest known (yet): the tag, pulled as usual.
            ("quay.io/eclipse/che-machine-exec:7.20.0".to_string(), "Always".to_string()),
        ]
    );
    assert_eq!(pinned_image("quay.io/x/app@sha256:abc", THEIA), "quay.io/x/app@sha256:abc", "already pinned");
    assert_eq!(pinned_image("nginx", THEIA), format!("nginx@{THEIA}"));
}

#[test]
fn the_startup_taint_is_tolerated_once() {
    let exists = |key: Option<&str>| Toleration {
        key: key.map(String::from),
        operator: Some("Exists".into()),
        ..Toleration::default()
    };
    let tolerations = |extra: &[(&str, &str)]| {
        let daemonset = desired_daemonset(&config(extra), &plain());
        pod_spec(&daemonset).tolerations.clone().unwrap_or_default()
    };
    assert!(tolerations(&[]).is_empty());
    assert_eq!(tolerations(&[("KIP_STARTUP_TAINT", "kip.dev/not-warm")]), [exists(Some("kip.dev/not-warm"))]);
    // Already tolerated by the user's own: nothing added.
    let everything = r#"[{"operator":"Exists"}]"#;
    assert_eq!(tolerations(&[("KIP_STARTUP_TAINT", "kip.dev/not-warm"), ("TOLERATIONS", everything)]), [exists(None)]);
    // A toleration of one effect only is not enough: the taint may have another.
    let no_schedule = r#"[{"key":"kip.dev/not-warm","operator":"Exists","effect":"NoSchedule"}]"#;
    assert_eq!(tolerations(&[("KIP_STARTUP_TAINT", "kip.dev/not-warm"), ("TOLERATIONS", no_schedule)]).len(), 2);
}
