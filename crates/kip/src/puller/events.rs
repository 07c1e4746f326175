//! Kubernetes Events for what a person should know about: the DaemonSet created, restored or
//! refreshed, the configuration rejected or fixed. Events are best effort: failing to record
//! one is logged, never fatal.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::debug;

use crate::config::ConfigErrors;

/// Publishes events about the DaemonSet and about kip's own Deployment.
#[derive(Clone)]
pub struct Notifier {
    recorder: Recorder,
    deployment: ObjectReference,
}

impl Notifier {
    pub fn new(client: kube::Client, instance: Option<String>, namespace: &str, deployment_name: &str) -> Self {
        let reporter = Reporter { controller: "kip".into(), instance };
        Notifier {
            recorder: Recorder::new(client, reporter),
            deployment: ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some(deployment_name.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
        }
    }

    async fn publish(&self, reference: &ObjectReference, type_: EventType, reason: &str, action: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(truncate(note, 1024)),
            action: action.into(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&event, reference).await {
            debug!(error = %err, reason, "could not record an event");
        }
    }

    pub async fn daemonset(&self, daemonset: &ObjectReference, reason: &str, note: String) {
        self.publish(daemonset, EventType::Normal, reason, "Apply", note).await;
    }

    pub async fn daemonset_warning(&self, daemonset: &ObjectReference, reason: &str, note: String) {
        self.publish(daemonset, EventType::Warning, reason, "Apply", note).await;
    }

    pub async fn config_invalid(&self, problems: &ConfigErrors) {
        let note = format!(
            "The new configuration is invalid and was not applied; the last valid one stays in force. {problems}"
        );
        self.publish(&self.deployment, EventType::Warning, "InvalidConfiguration", "Configure", note).await;
    }

    pub async fn config_recovered(&self) {
        let note = "The configuration is valid again and is applied.".to_string();
        self.publish(&self.deployment, EventType::Normal, "ConfigurationValid", "Configure", note).await;
    }

    pub async fn leading(&self, identity: &str) {
        let note = format!("{identity} became the leader and manages the DaemonSet");
        self.publish(&self.deployment, EventType::Normal, "LeaderElected", "Elect", note).await;
    }
}

/// The configured DaemonSet as events refer to it, for events raised without the live object
/// at hand (digest lookups, cache status).
pub fn daemonset_reference(config: &crate::config::Config) -> ObjectReference {
    ObjectReference {
        api_version: Some("apps/v1".into()),
        kind: Some("DaemonSet".into()),
        name: Some(config.daemonset_name.clone()),
        namespace: Some(config.namespace.clone()),
        ..Default::default()
    }
}

/// Event notes are limited to 1 kB; cut on a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub(3);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn notes_are_cut_to_the_limit() {
        assert_eq!(truncate("short".into(), 1024), "short");
        let cut = truncate("é".repeat(600), 1024);
        assert!(cut.len() <= 1024 && cut.ends_with("..."));
    }
}
