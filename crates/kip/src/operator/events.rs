//! Kubernetes Events on the resource, for what a person should know: its objects created,
//! rolled or deleted, the defaults written, and every change of Degraded and Ready. What to say
//! is decided by pure functions; publishing is best effort (a failure is logged, never fatal).

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::debug;

use super::apply::Applied;
use super::resource::KubernetesImagePullerStatus;
use super::status::{DEGRADED, READY};
use crate::puller::events::truncate;

/// One event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub text: String,
}

impl Note {
    fn normal(reason: &'static str, text: String) -> Note {
        Note { warning: false, reason, text }
    }
}

fn find<'a>(status: Option<&'a KubernetesImagePullerStatus>, type_: &str) -> Option<&'a Condition> {
    status.and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
}

/// Events for the conditions that changed between `before` and `after`.
pub fn transitions(before: Option<&KubernetesImagePullerStatus>, after: &KubernetesImagePullerStatus) -> Vec<Note> {
    let mut notes = Vec::new();
    let was = |type_| find(before, type_).map(|c| (c.status.as_str(), c.reason.as_str()));
    if let Some(degraded) = find(Some(after), DEGRADED) {
        match (was(DEGRADED), degraded.status.as_str()) {
            (Some(("True", reason)), "True") if reason == degraded.reason => {}
            (_, "True") => notes.push(Note {
                warning: true,
                reason: problem_reason(&degraded.reason),
                text: degraded.message.clone(),
            }),
            (Some(("True", _)), _) => notes.push(Note::normal("Recovered", degraded.message.clone())),
            _ => {}
        }
    }
    if let Some(ready) = find(Some(after), READY)
        && ready.status == "True"
        && was(READY).map(|(status, _)| status) != Some("True")
    {
        notes.push(Note::normal("ImagesCached", ready.message.clone()));
    }
    notes
}

/// Event reasons are a fixed set (they are also metric-like labels for people filtering).
fn problem_reason(reason: &str) -> &'static str {
    match reason {
        "DuplicateResource" => "DuplicateResource",
        "InvalidSpec" => "InvalidSpec",
        _ => "ApplyFailed",
    }
}

/// What the puller Deployment looked like before the writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullerBefore<'a> {
    Missing,
    /// With the configuration digest its template carried.
    Present(Option<&'a str>),
}

/// Events for what the writes changed.
pub fn changes(
    applied: &Applied,
    before: PullerBefore<'_>,
    desired_hash: &str,
    deployment: &str,
    images: usize,
) -> Vec<Note> {
    let mut notes = Vec::new();
    if !applied.defaulted.is_empty() {
        let fields = applied.defaulted.join(", ");
        notes.push(Note::normal("Defaulted", format!("Wrote the default of {fields} into the spec")));
    }
    if applied.role_binding_recreated {
        let text = "RoleBinding create-daemonset referred to another role; deleted it and created it again (roleRef cannot change)";
        notes.push(Note::normal("RoleBindingRecreated", text.to_string()));
    }
    match before {
        PullerBefore::Missing => notes.push(Note::normal(
            "Created",
            format!("Created the puller Deployment {deployment} caching {images} images"),
        )),
        PullerBefore::Present(hash) if hash != Some(desired_hash) => notes.push(Note::normal(
            "ConfigurationChanged",
            format!("Rolling the puller Deployment {deployment} to the new configuration ({images} images)"),
        )),
        PullerBefore::Present(_) => {}
    }
    for (kind, name) in &applied.deleted {
        notes.push(Note::normal("Deleted", format!("Deleted {kind} {name}, left over after a rename")));
    }
    notes
}

/// Publishes notes about one resource.
#[derive(Clone)]
pub struct Notifier {
    recorder: Recorder,
}

impl Notifier {
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        Notifier { recorder: Recorder::new(client, Reporter { controller: "kip-operator".into(), instance }) }
    }

    pub async fn publish(&self, regarding: &ObjectReference, notes: Vec<Note>) {
        for note in notes {
            let event = Event {
                type_: if note.warning { EventType::Warning } else { EventType::Normal },
                reason: note.reason.to_string(),
                note: Some(truncate(note.text, 1024)),
                action: "Reconcile".to_string(),
                secondary: None,
            };
            if let Err(err) = self.recorder.publish(&event, regarding).await {
                debug!(error = %err, reason = note.reason, "could not record an event");
            }
        }
    }
}
