//! What the caching mode asks of the rest of the configuration, and what it risks: names the
//! mode's own containers take, and the warning for modes whose images the kubelet can remove
//! (the reasons, with their sources, are in `docs/caching-modes.md`).

use super::vars::{CACHING_MODE, IMAGES};
use super::{CachedImage, CachingMode, Problem};
use crate::render::KEEPER_CONTAINER_NAME;

/// Where users read why, printed with every warning.
const DOC: &str = "docs/caching-modes.md";

impl CachingMode {
    /// Why images cached this way can leave a node while the caching pod runs, or what the
    /// cluster must offer for the mode to work; `None` when neither applies.
    pub fn caveat(self) -> Option<String> {
        match self {
            CachingMode::Containers => None,
            CachingMode::Init => Some(format!(
                "init keeps each image only through the record of its exited init container; the kubelet keeps \
                 those records while the pod runs, also under disk pressure, but anything that removes exited \
                 containers (crictl rm, the old kubelet flag --maximum-dead-containers) lets image garbage \
                 collection delete the images until the next refresh (see {DOC})"
            )),
            CachingMode::ImageVolume => Some(format!(
                "image-volume needs image volumes: Kubernetes 1.35 or later (1.33 and 1.34 with the ImageVolume \
                 feature gate on the API server and every kubelet) and containerd 2.1 or CRI-O 1.31 or later; \
                 elsewhere the API server refuses the DaemonSet or its pods do not start, and image garbage \
                 collection keeps an image only while the runtime reports it mounted (see {DOC})"
            )),
        }
    }
}

/// Problems of `images` in `mode` (a cached image may not take the name of the mode's own
/// container), and the mode's caveat as a warning.
pub(super) fn check(mode: CachingMode, images: &[CachedImage], errors: &mut Vec<Problem>, warnings: &mut Vec<Problem>) {
    if mode != CachingMode::Containers {
        for cached in images.iter().filter(|c| c.name == KEEPER_CONTAINER_NAME) {
            // Entries are numbered among all the entries written, which `images` no longer
            // knows; the entry's text locates it as well.
            errors.push(
                Problem::new(
                    IMAGES,
                    format!(
                        "the entry \"{}={}\" takes the name of the container that keeps the pod running in caching \
                         mode {}",
                        cached.name,
                        cached.image,
                        mode.as_str()
                    ),
                )
                .accepted("any other container name"),
            );
        }
    }
    if let Some(caveat) = mode.caveat() {
        warnings.push(Problem::new(CACHING_MODE, caveat));
    }
}
