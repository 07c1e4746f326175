//! Which selected node holds which cached image: computed from the cluster itself (the nodes'
//! `status.images` as the kubelets report them, and the caching pods' container statuses), for
//! `kip status`, the demo, metrics and the operator's status.

pub mod compute;
pub mod fetch;
pub mod table;

pub use compute::{CacheReport, ContainerFacts, ImageCache, NodeFacts, PodFacts, WantedImage, compute};
