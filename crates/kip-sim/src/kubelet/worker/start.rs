//! Starting one container: its image first, by the pull policy (with the kubelet's pull
//! back-off and messages), then the container itself.

use super::super::pod_spec::{ContainerSpec, PullPolicy};
use super::super::pod_state::ContainerState;
use super::super::pull_secrets::credentials_for;
use super::super::runtime::{ContainerConfig, ImageInfo, RuntimeError};
use super::{Slot, Worker};
use crate::cluster::catalog::ImageRef;

/// The image reference as the kubelet quotes it: with `:latest` added when it has no tag.
fn quoted(image: &str) -> String {
    let r = ImageRef::parse(image);
    let has_tag = image.rsplit('/').next().is_some_and(|last| last.contains(':'));
    if r.digest.is_none() && !has_tag { format!("{image}:latest") } else { image.to_string() }
}

impl Worker {
    fn spec_of(&self, slot: Slot) -> &ContainerSpec {
        match slot {
            Slot::Init(i) => &self.spec.init[i],
            Slot::Main(i) => &self.spec.containers[i],
        }
    }

    fn set_waiting(&self, slot: Slot, reason: &str, message: String) {
        self.update(|s| {
            let c = Self::container(s, slot);
            if let ContainerState::Terminated(t) = &c.state {
                c.last_termination = Some(t.clone());
            }
            c.state = ContainerState::Waiting { reason: reason.to_string(), message: Some(message) };
        });
    }

    /// Tries to start a container; its id, or `None` with the reason shown in its status.
    pub(super) async fn attempt(&mut self, slot: Slot) -> Option<String> {
        let image = self.ensure_image(slot).await?;
        let spec = self.spec_of(slot).clone();
        let attempt = {
            let mut state = self.pod.state.lock();
            let c = Self::container(&mut state, slot);
            c.restart_count + u32::from(c.container_id.is_some())
        };
        let config = ContainerConfig {
            pod_uid: self.pod.uid.clone(),
            name: spec.name.clone(),
            image_id: image.id.clone(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            init: matches!(slot, Slot::Init(_)),
            attempt,
        };
        let runtime = self.node.runtime.clone();
        let id = match runtime.start_container(&config).await {
            Ok(id) => id,
            Err(err) => {
                let reason = match err {
                    RuntimeError::InvalidConfig(_) => "CreateContainerConfigError",
                    _ => "CreateContainerError",
                };
                self.set_waiting(slot, reason, err.to_string());
                return None;
            }
        };
        self.started.push(id.clone());
        let now = self.kubelets.clock.now();
        self.node.image_usage.lock().used(&image.id, now);
        let restarted = {
            let state = self.pod.state.lock();
            let c = match slot {
                Slot::Init(i) => &state.init[i],
                Slot::Main(i) => &state.containers[i],
            };
            c.container_id.is_some()
        };
        if restarted {
            self.crashes.next(&spec.name, now);
            self.node.counters.container_restart();
        }
        let started_at = self.kubelets.clock.timestamp();
        let ready = spec.readiness_delay.is_none_or(|d| d.is_zero()) && matches!(slot, Slot::Main(_));
        let display = ImageRef::parse(&spec.image).name();
        self.update(|s| {
            let c = Self::container(s, slot);
            if restarted {
                if let ContainerState::Terminated(t) = &c.state {
                    c.last_termination = Some(t.clone());
                }
                c.restart_count += 1;
            }
            c.state = ContainerState::Running { started_at };
            c.started = true;
            c.ready = ready;
            c.image = Some(display);
            c.image_id = Some(image.id.clone());
            c.container_id = Some(id.clone());
        });
        Some(id)
    }

    /// The image for a container, pulled if the policy says so. On failure the container shows
    /// why (`ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`) and `None` is returned.
    async fn ensure_image(&mut self, slot: Slot) -> Option<ImageInfo> {
        let spec = self.spec_of(slot).clone();
        let runtime = self.node.runtime.clone();
        if spec.pull_policy != PullPolicy::Always
            && let Some(image) = runtime.image_status(&spec.image).await
        {
            self.hold(slot, &image);
            return Some(image);
        }
        let reference = quoted(&spec.image);
        if spec.pull_policy == PullPolicy::Never {
            let message = format!("Container image \"{reference}\" is not present with pull policy of Never");
            self.set_waiting(slot, "ErrImageNeverPull", message);
            return None;
        }
        let now = self.kubelets.clock.now();
        if self.pulls.remaining(&spec.image, now).is_some() {
            let mut message = format!("Back-off pulling image \"{reference}\"");
            if let Some(previous) = self.pull_errors.get(&spec.image) {
                message = format!("{message}: ErrImagePull: {previous}");
            }
            self.set_waiting(slot, "ImagePullBackOff", message);
            return None;
        }
        let result = {
            let _serial = match self.kubelets.config.serialize_image_pulls {
                true => Some(self.node.pull_lock.lock().await),
                false => None,
            };
            let credentials = match &self.sandbox {
                Some(pod) => {
                    credentials_for(&self.kubelets.store, &pod.namespace, &pod.pull_secret_names(), &spec.image)
                }
                None => Vec::new(),
            };
            runtime.pull_image(&spec.image, &credentials).await
        };
        match result {
            Ok(image) => {
                self.hold(slot, &image);
                self.node.image_usage.lock().seen(&image.id, self.kubelets.clock.now());
                self.kubelets.status.node_changed(&self.node);
                self.kubelets.collect_garbage(&self.node).await;
                Some(image)
            }
            Err(err) => {
                self.pulls.next(&spec.image, self.kubelets.clock.now());
                let message = err.to_string();
                self.pull_errors.insert(spec.image.clone(), message.clone());
                self.set_waiting(slot, "ErrImagePull", message);
                None
            }
        }
    }

    /// Records the image a container will run, so that garbage collection keeps it from now.
    fn hold(&self, slot: Slot, image: &ImageInfo) {
        let mut state = self.pod.state.lock();
        Self::container(&mut state, slot).image_id = Some(image.id.clone());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_quoted_with_a_default_tag() {
        let cases = [
            ("nginx", "nginx:latest"),
            ("nginx:1.27", "nginx:1.27"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("nginx@sha256:abc", "nginx@sha256:abc"),
        ];
        for (image, expected) in cases {
            assert_eq!(super::quoted(image), expected, "{image}");
        }
    }
}
