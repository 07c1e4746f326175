//! Which selected node holds which cached image: computed from the cluster itself (the nodes'
//! `status.images` as the kubelets report them, and the caching pods' container statuses), by
//! digest where kip knows it, for `kip status`, the demo, `kip run`'s metrics, events and warm
//! signal, and the operator's status. One computation ([`compute`]) serves them all: read once
//! ([`fetch`]) or kept up to date from watches ([`live`]).

pub mod compute;
pub mod fetch;
pub mod live;
pub mod slim;
pub mod table;

pub use compute::{CacheReport, ContainerFacts, ImageCache, NodeFacts, PodFacts, WantedImage, compute};
pub use slim::{SlimNode, SlimPod};
