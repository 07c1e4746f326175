//! Status: conditions from what the operator found.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus, Deployment, DeploymentStatus};

use crate::config::CachedImage;
use crate::operator::resource::KubernetesImagePullerStatus;
use crate::operator::status::*;

fn now() -> Timestamp {
    "2026-01-01T10:00:00Z".parse().expect("timestamp")
}

fn findings(puller: Option<bool>, caching: Option<CachingState>, problem: Option<Problem>) -> Findings {
    Findings {
        generation: 7,
        namespace: "che".into(),
        image: "ghcr.io/kip-dev/kip:0.1.0".into(),
        deployment_name: "kubernetes-image-puller".into(),
        daemonset_name: "kubernetes-image-puller".into(),
        images: 2,
        problem,
        warnings: Vec::new(),
        puller: puller.map(|running_current_config| PullerState { running_current_config }),
        caching,
    }
}

fn caching(desired: i32, ready: i32, updated: i32) -> Option<CachingState> {
    Some(CachingState { desired, ready, updated, observed: true, images_match: true })
}

fn summary(status: &KubernetesImagePullerStatus) -> Vec<(String, String, String)> {
    status.conditions.iter().map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone())).collect()
}

fn triple(ready: (&str, &str), progressing: (&str, &str), degraded: (&str, &str)) -> Vec<(String, String, String)> {
    [("Ready", ready), ("Progressing", progressing), ("Degraded", degraded)]
        .iter()
        .map(|(t, (s, r))| (t.to_string(), s.to_string(), r.to_string()))
        .collect()
}

#[test]
fn conditions_follow_what_was_found() {
    let invalid = Some(Problem::InvalidSpec { report: "invalid configuration: 1 error".into() });
    let duplicate = Some(Problem::Duplicate { primary: "first".into() });
    let failed = Some(Problem::ApplyFailed { category: "forbidden", message: "no".into() });
    let stale = Some(CachingState { desired: 3, ready: 3, updated: 3, observed: true, images_match: false });
    let cases = [
        (
            "all cached",
            findings(Some(true), caching(3, 3, 3), None),
            triple(("True", "ImagesCached"), ("False", "Complete"), ("False", "AsExpected")),
        ),
        (
            "no node selected",
            findings(Some(true), caching(0, 0, 0), None),
            triple(("True", "NoNodesSelected"), ("False", "Complete"), ("False", "AsExpected")),
        ),
        (
            "caching",
            findings(Some(true), caching(3, 2, 3), None),
            triple(("False", "Caching"), ("True", "Caching"), ("False", "AsExpected")),
        ),
        (
            "old pods ready",
            findings(Some(true), caching(3, 3, 1), None),
            triple(("False", "Caching"), ("True", "Caching"), ("False", "AsExpected")),
        ),
        (
            "old images",
            findings(Some(true), stale, None),
            triple(("False", "DaemonSetUpdating"), ("True", "DaemonSetUpdating"), ("False", "AsExpected")),
        ),
        (
            "no daemonset",
            findings(Some(true), None, None),
            triple(("False", "DaemonSetMissing"), ("True", "DaemonSetMissing"), ("False", "AsExpected")),
        ),
        (
            "puller rolling",
            findings(Some(false), caching(3, 3, 3), None),
            triple(("False", "PullerRollingOut"), ("True", "PullerRollingOut"), ("False", "AsExpected")),
        ),
        (
            "no puller",
            findings(None, None, None),
            triple(("False", "PullerMissing"), ("True", "PullerMissing"), ("False", "AsExpected")),
        ),
        (
            "invalid",
            findings(Some(true), caching(3, 3, 3), invalid),
            triple(("False", "InvalidSpec"), ("False", "InvalidSpec"), ("True", "InvalidSpec")),
        ),
        (
            "duplicate",
            findings(None, None, duplicate),
            triple(("False", "DuplicateResource"), ("False", "DuplicateResource"), ("True", "DuplicateResource")),
        ),
        (
            "apply failed",
            findings(Some(true), caching(3, 3, 3), failed),
            triple(("False", "ApplyFailed"), ("False", "ApplyFailed"), ("True", "ApplyFailed")),
        ),
    ];
    for (case, findings, expected) in cases {
        let status = desired_status(&findings, None, now());
        assert_eq!(summary(&status), expected, "{case}");
        assert!(status.conditions.iter().all(|c| c.observed_generation == Some(7)), "{case}");
    }
}

#[test]
fn nodes_are_reported_from_the_daemonset() {
    let status = desired_status(&findings(Some(true), caching(5, 4, 3), None), None, now());
    assert_eq!((status.desired_nodes, status.cached_nodes, status.cached.as_deref()), (Some(5), Some(3), Some("3/5")));
    assert_eq!(status.image_puller_image.as_deref(), Some("ghcr.io/kip-dev/kip:0.1.0"));
    let message = &status.conditions[0].message;
    assert_eq!(message, "2 images cached on 3 of 5 selected nodes.");
    // A duplicate runs nothing, so it reports neither image nor nodes.
    let duplicate = Some(Problem::Duplicate { primary: "first".into() });
    let status = desired_status(&findings(None, caching(5, 5, 5), duplicate), None, now());
    assert_eq!((status.image_puller_image, status.desired_nodes, status.cached), (None, None, None));
    let degraded = &status.conditions[2].message;
    assert!(degraded.contains("first, the oldest in namespace che, is in force"), "{degraded}");
}

#[test]
fn transition_times_move_only_when_the_status_does() {
    let earlier = desired_status(&findings(Some(true), caching(3, 2, 3), None), None, now());
    let later: Timestamp = "2026-01-01T11:00:00Z".parse().expect("timestamp");
    let again = desired_status(&findings(Some(true), caching(3, 2, 3), None), Some(&earlier), later);
    assert_eq!(again, earlier, "nothing changed, so nothing to write");
    let cached = desired_status(&findings(Some(true), caching(3, 3, 3), None), Some(&earlier), later);
    let time = |s: &KubernetesImagePullerStatus, t: &str| {
        s.conditions.iter().find(|c| c.type_ == t).map(|c| c.last_transition_time.0).expect("condition")
    };
    assert_eq!(time(&cached, "Ready"), later);
    assert_eq!(time(&cached, "Progressing"), later);
    assert_eq!(time(&cached, "Degraded"), now());
}

#[test]
fn long_reports_are_cut_to_the_api_limit() {
    let report = "x".repeat(40_000);
    let status = desired_status(&findings(None, None, Some(Problem::InvalidSpec { report })), None, now());
    let degraded = &status.conditions[2].message;
    assert!(degraded.len() <= 32_768 && degraded.ends_with("..."));
}

#[test]
fn warnings_show_in_degraded() {
    let mut f = findings(Some(true), caching(1, 1, 1), None);
    f.warnings = vec!["CACHING_MEMORY_LIMIT: 20 bytes looks like a forgotten unit".into()];
    let status = desired_status(&f, None, now());
    assert!(status.conditions[2].message.contains("forgotten unit"), "{:?}", status.conditions[2]);
}

fn deployment(hash: &str, generation: i64, observed: i64, updated: i32, available: i32) -> Deployment {
    let yaml = format!(
        "metadata: {{generation: {generation}}}\n\
         spec:\n  selector: {{}}\n  template:\n    metadata:\n      annotations: {{kip.dev/config-hash: {hash}}}\n"
    );
    let mut deployment: Deployment = serde_saphyr::from_str(&yaml).expect("deployment");
    deployment.status = Some(DeploymentStatus {
        observed_generation: Some(observed),
        updated_replicas: Some(updated),
        available_replicas: Some(available),
        ..DeploymentStatus::default()
    });
    deployment
}

#[test]
fn the_puller_runs_the_current_configuration_once_rolled_out() {
    let cases = [
        ("rolled out", deployment("abc", 2, 2, 1, 1), true),
        ("other configuration", deployment("old", 2, 2, 1, 1), false),
        ("not observed yet", deployment("abc", 3, 2, 1, 1), false),
        ("no new pod", deployment("abc", 2, 2, 0, 1), false),
        ("not available", deployment("abc", 2, 2, 1, 0), false),
    ];
    for (case, deployment, expected) in cases {
        assert_eq!(puller_state(&deployment, "abc").running_current_config, expected, "{case}");
    }
}

#[test]
fn the_daemonset_must_carry_the_configured_images() {
    let images = [
        CachedImage { name: "java".into(), image: "java:11".into() },
        CachedImage { name: "node".into(), image: "node:20".into() },
    ];
    let daemonset = |containers: &str| -> DaemonSet {
        let yaml = format!(
            "metadata: {{generation: 4}}\nspec:\n  selector: {{}}\n  template:\n    spec:\n      containers: {containers}\n"
        );
        let mut daemonset: DaemonSet = serde_saphyr::from_str(&yaml).expect("daemonset");
        daemonset.status = Some(DaemonSetStatus {
            desired_number_scheduled: 3,
            number_ready: 3,
            updated_number_scheduled: Some(3),
            observed_generation: Some(4),
            ..DaemonSetStatus::default()
        });
        daemonset
    };
    let same = daemonset("[{name: java, image: 'java:11'}, {name: node, image: 'node:20'}]");
    assert_eq!(
        caching_state(&same, &images),
        CachingState { desired: 3, ready: 3, updated: 3, observed: true, images_match: true }
    );
    for other in
        ["[{name: java, image: 'java:11'}]", "[{name: java, image: 'java:17'}, {name: node, image: 'node:20'}]"]
    {
        let state = caching_state(&daemonset(other), &images);
        assert!(!state.images_match && state.cached() == 0, "{other}");
    }
}

#[test]
fn the_configured_images_are_found_in_every_caching_mode() {
    use crate::config::Config;
    use crate::render::{RenderContext, desired_daemonset};
    for mode in ["containers", "init", "image-volume"] {
        let config = Config::from_vars([
            ("IMAGES", "java=java:11;node=node:20"),
            ("DEPLOYMENT_NAME", "kip"),
            ("CACHING_MODE", mode),
        ])
        .expect("valid");
        let daemonset = desired_daemonset(&config, &RenderContext::default());
        assert!(caching_state(&daemonset, &config.images).images_match, "{mode}");
        let other = Config::from_vars([("IMAGES", "java=java:17"), ("DEPLOYMENT_NAME", "kip"), ("CACHING_MODE", mode)])
            .expect("valid");
        assert!(!caching_state(&daemonset, &other.images).images_match, "{mode}");
    }
}
