//! The *status* the operator reports, computed from what it found (pure; the reconciler writes
//! it). `Ready` means the images are cached: the puller Deployment runs the current
//! configuration and its DaemonSet has every desired node ready with the current images.
//! `Progressing` is true while that is not yet so, `Degraded` while something needs a person.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::build::CONFIG_HASH_ANNOTATION;
use super::resource::KubernetesImagePullerStatus;
use crate::config::CachedImage;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
/// The API's limit on a condition message.
const MESSAGE_MAX: usize = 32_768;

/// Why the operator did not (fully) apply the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// An older resource in the namespace is the one in force.
    Duplicate { primary: String },
    /// The spec is invalid; the report is `kip validate`'s.
    InvalidSpec { report: String },
    /// Writing a child failed (permissions, a rejection, the API unreachable).
    ApplyFailed { category: &'static str, message: String },
}

impl Problem {
    pub fn reason(&self) -> &'static str {
        match self {
            Problem::Duplicate { .. } => "DuplicateResource",
            Problem::InvalidSpec { .. } => "InvalidSpec",
            Problem::ApplyFailed { .. } => "ApplyFailed",
        }
    }

    fn message(&self, namespace: &str) -> String {
        match self {
            Problem::Duplicate { primary } => format!(
                "Only one KubernetesImagePuller per namespace is acted on: {primary}, the oldest in namespace \
                 {namespace}, is in force. This one is ignored and none of its objects are touched; delete it, or \
                 move its settings to {primary}."
            ),
            Problem::InvalidSpec { report } => {
                format!("The spec is invalid, so the puller's objects are left as they are. {report}")
            }
            Problem::ApplyFailed { category, message } => {
                format!("Applying the puller's objects failed ({category}); retrying. {message}")
            }
        }
    }
}

/// The puller Deployment as found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PullerState {
    /// Its pod template carries the current configuration and the Deployment controller has
    /// rolled it out, with a pod available.
    pub running_current_config: bool,
}

/// The caching DaemonSet as found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachingState {
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    /// The DaemonSet controller has seen its latest spec.
    pub observed: bool,
    /// Its containers are exactly the configured images.
    pub images_match: bool,
}

impl CachingState {
    /// Nodes whose caching pod is ready with the current images.
    pub fn cached(&self) -> i32 {
        if self.observed && self.images_match { self.ready.min(self.updated).max(0) } else { 0 }
    }
}

/// Everything the status is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub generation: i64,
    pub namespace: String,
    pub image: String,
    pub deployment_name: String,
    pub daemonset_name: String,
    pub images: usize,
    pub problem: Option<Problem>,
    /// Configuration warnings, one a line.
    pub warnings: Vec<String>,
    pub puller: Option<PullerState>,
    pub caching: Option<CachingState>,
}

pub fn puller_state(deployment: &Deployment, desired_hash: &str) -> PullerState {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let status = deployment.status.clone().unwrap_or_default();
    let template_hash = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.annotations.as_ref())
        .and_then(|annotations| annotations.get(CONFIG_HASH_ANNOTATION));
    PullerState {
        running_current_config: template_hash.map(String::as_str) == Some(desired_hash)
            && status.observed_generation.unwrap_or(0) >= generation
            && status.updated_replicas.unwrap_or(0) >= 1
            && status.available_replicas.unwrap_or(0) >= 1,
    }
}

pub fn caching_state(daemonset: &DaemonSet, images: &[CachedImage]) -> CachingState {
    let generation = daemonset.metadata.generation.unwrap_or(0);
    let status = daemonset.status.clone().unwrap_or_default();
    // The images, whatever the caching mode put them in (containers, init containers, volumes).
    let containers =
        daemonset.spec.as_ref().and_then(|spec| spec.template.spec.as_ref()).map(crate::render::cached_images);
    let images_match = containers.is_some_and(|containers| {
        containers.len() == images.len()
            && containers.iter().zip(images).all(|(c, i)| c.name == i.name && c.image.as_deref() == Some(&i.image))
    });
    CachingState {
        desired: status.desired_number_scheduled,
        ready: status.number_ready,
        updated: status.updated_number_scheduled.unwrap_or(0),
        observed: status.observed_generation.unwrap_or(0) >= generation,
        images_match,
    }
}

type Verdict = (bool, &'static str, String);

/// Ready's status, reason and message when no problem stands in the way.
fn readiness(f: &Findings) -> Verdict {
    let Some(puller) = f.puller else {
        return (false, "PullerMissing", format!("The puller Deployment {} does not exist yet.", f.deployment_name));
    };
    if !puller.running_current_config {
        let message = format!("The puller Deployment {} is rolling out the current configuration.", f.deployment_name);
        return (false, "PullerRollingOut", message);
    }
    let Some(caching) = f.caching else {
        return (
            false,
            "DaemonSetMissing",
            format!("Waiting for the puller to create DaemonSet {}.", f.daemonset_name),
        );
    };
    if !caching.observed || !caching.images_match {
        let message = format!("Waiting for DaemonSet {} to take the current list of images.", f.daemonset_name);
        return (false, "DaemonSetUpdating", message);
    }
    let images = if f.images == 1 { "1 image".to_string() } else { format!("{} images", f.images) };
    match (caching.desired, caching.cached()) {
        (0, _) => (
            true,
            "NoNodesSelected",
            "No node is selected for caching (check nodeSelector, affinity and tolerations).".into(),
        ),
        (desired, cached) if cached >= desired => {
            (true, "ImagesCached", format!("{images} cached on all {desired} selected nodes."))
        }
        (desired, cached) => (false, "Caching", format!("{images} cached on {cached} of {desired} selected nodes.")),
    }
}

fn condition(type_: &str, status: bool, reason: &str, message: String, f: &Findings, now: Timestamp) -> Condition {
    let mut message = message;
    if message.len() > MESSAGE_MAX {
        let mut end = MESSAGE_MAX - 3;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: Some(f.generation),
        last_transition_time: Time(now),
    }
}

/// The status to write, keeping each condition's `lastTransitionTime` while its status holds.
pub fn desired_status(
    f: &Findings,
    previous: Option<&KubernetesImagePullerStatus>,
    now: Timestamp,
) -> KubernetesImagePullerStatus {
    let (ready, progressing, degraded) = match &f.problem {
        Some(problem) => {
            let reason = problem.reason();
            let message = problem.message(&f.namespace);
            let summary = format!("See the Degraded condition: {reason}.");
            (
                condition(READY, false, reason, summary.clone(), f, now),
                condition(PROGRESSING, false, reason, summary, f, now),
                condition(DEGRADED, true, reason, message, f, now),
            )
        }
        None => {
            let (is_ready, reason, message) = readiness(f);
            let progressing = if is_ready {
                condition(
                    PROGRESSING,
                    false,
                    "Complete",
                    "Every selected node holds the current images.".into(),
                    f,
                    now,
                )
            } else {
                condition(PROGRESSING, true, reason, message.clone(), f, now)
            };
            let healthy = if f.warnings.is_empty() {
                "The spec is valid and applied.".to_string()
            } else {
                format!("The spec is valid and applied, with warnings:\n{}", f.warnings.join("\n"))
            };
            (
                condition(READY, is_ready, reason, message, f, now),
                progressing,
                condition(DEGRADED, false, "AsExpected", healthy, f, now),
            )
        }
    };
    let conditions = [ready, progressing, degraded]
        .into_iter()
        .map(|mut c| {
            let before = previous.and_then(|p| p.conditions.iter().find(|old| old.type_ == c.type_));
            if let Some(before) = before.filter(|before| before.status == c.status) {
                c.last_transition_time = before.last_transition_time.clone();
            }
            c
        })
        .collect();
    // A duplicate runs nothing: it reports no image and no nodes.
    let duplicate = matches!(f.problem, Some(Problem::Duplicate { .. }));
    let caching = f.caching.filter(|_| !duplicate);
    KubernetesImagePullerStatus {
        image_puller_image: (!duplicate).then(|| f.image.clone()),
        conditions,
        desired_nodes: caching.map(|c| c.desired),
        cached_nodes: caching.map(|c| c.cached()),
        cached: caching.map(|c| format!("{}/{}", c.cached(), c.desired)),
    }
}
