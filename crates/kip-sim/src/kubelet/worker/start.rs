//! Starting one container: the image volumes it mounts and its image first, by their pull
//! policies (with the kubelet's pull back-off and messages), then the container itself. An image
//! volume is pulled once per pod, when the first container that mounts it starts; an image volume
//! nobody mounts is never pulled.

use super::super::pod_spec::{ContainerSpec, PullPolicy};
use super::super::pod_state::ContainerState;
use super::super::pod_state::PodState;
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
        let image_mounts = self.ensure_volume_images(slot).await?;
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
            image_mounts,
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
        {
            let mut usage = self.node.image_usage.lock();
            for used in std::iter::once(&image.id).chain(&config.image_mounts) {
                usage.used(used, now);
            }
        }
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
        self.ensure_pulled(slot, &spec.image, spec.pull_policy, Holder::Container(slot)).await
    }

    /// The image ids of the image volumes the container mounts, each pulled by its volume's
    /// policy the first time a container of the pod needs it. A failed pull shows on the
    /// container, as the kubelet reports it, and keeps it from starting.
    async fn ensure_volume_images(&mut self, slot: Slot) -> Option<Vec<String>> {
        let mounts = self.spec_of(slot).mounts.clone();
        let mut ids = Vec::new();
        for (index, volume) in self.spec.image_volumes.clone().into_iter().enumerate() {
            if !mounts.contains(&volume.name) {
                continue;
            }
            let pulled = self.pod.state.lock().volume_images.get(index).and_then(|(_, id)| id.clone());
            let id = match pulled {
                Some(id) => id,
                None => {
                    self.ensure_pulled(slot, &volume.reference, volume.pull_policy, Holder::Volume(index)).await?.id
                }
            };
            ids.push(id);
        }
        Some(ids)
    }

    /// `image`, pulled if `policy` says so, and held by `holder` from the moment it is there.
    /// On failure the container in `slot` shows why and `None` is returned.
    async fn ensure_pulled(
        &mut self,
        slot: Slot,
        image: &str,
        policy: PullPolicy,
        holder: Holder,
    ) -> Option<ImageInfo> {
        let runtime = self.node.runtime.clone();
        if policy != PullPolicy::Always
            && let Some(found) = runtime.image_status(image).await
        {
            self.hold(holder, &found);
            return Some(found);
        }
        let reference = quoted(image);
        if policy == PullPolicy::Never {
            let message = format!("Container image \"{reference}\" is not present with pull policy of Never");
            self.set_waiting(slot, "ErrImageNeverPull", message);
            return None;
        }
        let now = self.kubelets.clock.now();
        if self.pulls.remaining(image, now).is_some() {
            let mut message = format!("Back-off pulling image \"{reference}\"");
            if let Some(previous) = self.pull_errors.get(image) {
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
                Some(pod) => credentials_for(&self.kubelets.store, &pod.namespace, &pod.pull_secret_names(), image),
                None => Vec::new(),
            };
            runtime.pull_image(image, &credentials).await
        };
        match result {
            Ok(pulled) => {
                self.hold(holder, &pulled);
                self.node.image_usage.lock().seen(&pulled.id, self.kubelets.clock.now());
                self.kubelets.status.node_changed(&self.node);
                self.kubelets.collect_garbage(&self.node).await;
                Some(pulled)
            }
            Err(err) => {
                self.pulls.next(image, self.kubelets.clock.now());
                let message = err.to_string();
                self.pull_errors.insert(image.to_string(), message.clone());
                self.set_waiting(slot, "ErrImagePull", message);
                None
            }
        }
    }

    /// Records the image a container will run or mount, so that garbage collection keeps it
    /// from now.
    fn hold(&self, holder: Holder, image: &ImageInfo) {
        let mut state = self.pod.state.lock();
        holder.hold(&mut state, image);
    }
}

/// What holds a pulled image on the pod's behalf.
#[derive(Clone, Copy, Debug)]
enum Holder {
    Container(Slot),
    /// The image volume at this index of the pod's image volumes.
    Volume(usize),
}

impl Holder {
    fn hold(self, state: &mut PodState, image: &ImageInfo) {
        match self {
            Holder::Container(slot) => Worker::container(state, slot).image_id = Some(image.id.clone()),
            Holder::Volume(index) => {
                if let Some((_, id)) = state.volume_images.get_mut(index) {
                    *id = Some(image.id.clone());
                }
            }
        }
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
