//! The caching pod for each caching mode, from the parts every mode starts with: the volume that
//! receives `sleep`, the init container that copies it there, and one sleeping container per
//! cached image (as [`super::desired_daemonset`] builds them for `containers`).
//!
//! - `containers`: those parts as they are; each image costs one container's resources.
//! - `init`: each image container becomes an init container running `sleep 0s`. Init
//!   containers run one at a time, so the pod reserves the largest of them, not their sum; one
//!   small keeper container then holds the pod (and with it the exited init containers, whose
//!   images the kubelet counts as in use) until the next refresh.
//! - `image-volume`: each image becomes an image volume mounted read-only into the keeper, which
//!   runs the `sleep` of kip's own image in place: no copy, no init container, one container.
//!
//! The images keep their pull policy in every mode, so a refresh (a new pod) pulls them again.

use k8s_openapi::api::core::v1::{Container, ImageVolumeSource, PodSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::INIT_CONTAINER_NAME;
use super::daemonset::{SLEEP_FOR, SLEEP_PATH, container_base, requirements, sleep_in_image};
use crate::config::{CachingMode, Config};

/// The container that keeps the pod running in the `init` and `image-volume` modes.
pub const KEEPER_CONTAINER_NAME: &str = "kip-keeper";

/// The keeper's fixed resources. It only sleeps (kip-sleep stays near 40 kB resident), but its
/// cgroup also carries the runtime's short-lived init process while the container starts, which
/// needs a few MiB: a limit much below 16Mi risks a container that cannot start.
pub const KEEPER_CPU_REQUEST: &str = "5m";
pub const KEEPER_CPU_LIMIT: &str = "50m";
pub const KEEPER_MEMORY_REQUEST: &str = "8Mi";
pub const KEEPER_MEMORY_LIMIT: &str = "16Mi";

/// Where the keeper mounts the image volumes, one directory per image name.
pub const IMAGE_MOUNT_ROOT: &str = "/cache";

/// What an init container that only has to exist sleeps: it exits at once.
const NO_SLEEP: &str = "0s";

/// The parts of the pod spec a caching mode decides.
#[derive(Debug, Default)]
pub(super) struct PodContents {
    pub volumes: Vec<Volume>,
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
}

/// The pod contents of `config`'s caching mode, from the `containers` mode's parts.
pub(super) fn arrange(
    config: &Config,
    sleep_volume: Volume,
    copy_sleep: Container,
    image_containers: Vec<Container>,
) -> PodContents {
    match config.caching_mode {
        CachingMode::Containers => {
            PodContents { volumes: vec![sleep_volume], init_containers: vec![copy_sleep], containers: image_containers }
        }
        CachingMode::Init => {
            let exiting =
                image_containers.into_iter().map(|image| Container { args: Some(vec![NO_SLEEP.to_string()]), ..image });
            let keeper = Container {
                name: KEEPER_CONTAINER_NAME.to_string(),
                image: Some(config.kip_image.clone()),
                command: Some(vec![SLEEP_PATH.to_string()]),
                args: Some(vec![SLEEP_FOR.to_string()]),
                ..keeper_base()
            };
            PodContents {
                volumes: vec![sleep_volume],
                init_containers: std::iter::once(copy_sleep).chain(exiting).collect(),
                containers: vec![keeper],
            }
        }
        CachingMode::ImageVolume => {
            let volumes: Vec<Volume> = image_containers
                .iter()
                .map(|image| Volume {
                    name: image.name.clone(),
                    image: Some(ImageVolumeSource {
                        reference: image.image.clone(),
                        pull_policy: image.image_pull_policy.clone(),
                    }),
                    ..Volume::default()
                })
                .collect();
            // The runtime mounts image volumes read-only in any case (containerd refuses a
            // writable image mount); the mounts say so too.
            let mounts = volumes
                .iter()
                .map(|volume| VolumeMount {
                    name: volume.name.clone(),
                    mount_path: format!("{IMAGE_MOUNT_ROOT}/{}", volume.name),
                    read_only: Some(true),
                    ..VolumeMount::default()
                })
                .collect();
            let keeper = Container {
                name: KEEPER_CONTAINER_NAME.to_string(),
                image: Some(config.kip_image.clone()),
                command: Some(vec![sleep_in_image(&config.kip_image).to_string()]),
                args: Some(vec![SLEEP_FOR.to_string()]),
                volume_mounts: Some(mounts),
                ..keeper_base()
            };
            PodContents { volumes, init_containers: Vec::new(), containers: vec![keeper] }
        }
    }
}

/// The images a caching pod of any mode holds, in the order of the configuration, each as a
/// container with just its name and image: the image containers, the image init containers, and
/// the image volumes (named after the volume). kip's own containers are left out. Readers of a
/// live DaemonSet use it so that they need not know which mode rendered it.
pub fn cached_images(pod: &PodSpec) -> Vec<Container> {
    let own = |name: &str| name == INIT_CONTAINER_NAME || name == KEEPER_CONTAINER_NAME;
    let containers = pod.init_containers.iter().flatten().chain(&pod.containers).filter(|c| !own(&c.name));
    let volumes = pod.volumes.iter().flatten().filter_map(|volume| {
        let source = volume.image.as_ref()?;
        Some(Container { name: volume.name.clone(), image: source.reference.clone(), ..Container::default() })
    });
    containers
        .map(|c| Container { name: c.name.clone(), image: c.image.clone(), ..Container::default() })
        .chain(volumes)
        .collect()
}

/// The keeper's shared settings: those of every caching container, with its own resources.
fn keeper_base() -> Container {
    let q = |text: &str| Quantity(text.to_string());
    container_base(&requirements(
        (&q(KEEPER_CPU_REQUEST), &q(KEEPER_MEMORY_REQUEST)),
        (&q(KEEPER_CPU_LIMIT), &q(KEEPER_MEMORY_LIMIT)),
    ))
}
