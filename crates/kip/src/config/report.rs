//! What a valid configuration amounts to, for `kip validate` and the start-up log: how many
//! images, how often, where, and what the DaemonSet reserves on each node and on the cluster
//! (the per-image cost users ask about).

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kip_rules::Quantity;

use super::problem::write_problems;
use super::{Config, RefreshPolicy};

/// CPU and memory requested and limited, per node or in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub cpu_request: Quantity,
    pub cpu_limit: Quantity,
    pub memory_request: Quantity,
    pub memory_limit: Quantity,
}

impl Reservation {
    /// The reservation of `nodes` nodes, `None` on overflow.
    pub fn times(self, nodes: u32) -> Option<Reservation> {
        let n = i128::from(nodes);
        Some(Reservation {
            cpu_request: self.cpu_request.checked_mul(n)?,
            cpu_limit: self.cpu_limit.checked_mul(n)?,
            memory_request: self.memory_request.checked_mul(n)?,
            memory_limit: self.memory_limit.checked_mul(n)?,
        })
    }
}

impl std::fmt::Display for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CPU {} requested, {} limit; memory {} requested, {} limit",
            self.cpu_request.display_cpu(),
            self.cpu_limit.display_cpu(),
            self.memory_request.display_bytes(),
            self.memory_limit.display_bytes()
        )
    }
}

fn parsed(quantity: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> Quantity {
    // A Config from `from_vars` holds only quantities that parsed; one built by hand with a
    // bad text counts as zero rather than failing a report.
    Quantity::parse(&quantity.0).unwrap_or(Quantity::from_nanos(0))
}

/// What one node's caching pod reserves, as the scheduler counts a pod: the sum of its
/// containers, or its largest init container if that is more (init containers run one at a time,
/// before the containers). Limits are counted the same way.
///
/// - `containers`: every image is a container with the `CACHING_*` resources (the init container
///   has the same, so it adds nothing unless there are no images): images x `CACHING_*`.
/// - `init`: every image is an init container with the `CACHING_*` resources, the keeper a
///   container with its own: the larger of the two, whatever the number of images.
/// - `image-volume`: the keeper alone.
pub fn reservation_per_node(config: &Config) -> Reservation {
    let caching = Reservation {
        cpu_request: parsed(&config.caching_cpu_request),
        cpu_limit: parsed(&config.caching_cpu_limit),
        memory_request: parsed(&config.caching_memory_request),
        memory_limit: parsed(&config.caching_memory_limit),
    };
    use super::CachingMode;
    match config.caching_mode {
        CachingMode::Containers => {
            let containers = i128::try_from(config.images.len()).unwrap_or(i128::MAX).max(1);
            caching.times_saturating(containers)
        }
        CachingMode::Init => caching.max(keeper()),
        CachingMode::ImageVolume => keeper(),
    }
}

/// The keeper container's fixed resources.
fn keeper() -> Reservation {
    use crate::render::{KEEPER_CPU_LIMIT, KEEPER_CPU_REQUEST, KEEPER_MEMORY_LIMIT, KEEPER_MEMORY_REQUEST};
    let exact = |text: &str| Quantity::parse(text).unwrap_or(Quantity::from_nanos(0));
    Reservation {
        cpu_request: exact(KEEPER_CPU_REQUEST),
        cpu_limit: exact(KEEPER_CPU_LIMIT),
        memory_request: exact(KEEPER_MEMORY_REQUEST),
        memory_limit: exact(KEEPER_MEMORY_LIMIT),
    }
}

impl Reservation {
    fn times_saturating(self, n: i128) -> Reservation {
        let scaled = |q: Quantity| q.checked_mul(n).unwrap_or(Quantity::from_nanos(i128::MAX));
        Reservation {
            cpu_request: scaled(self.cpu_request),
            cpu_limit: scaled(self.cpu_limit),
            memory_request: scaled(self.memory_request),
            memory_limit: scaled(self.memory_limit),
        }
    }

    /// Each amount the larger of the two.
    fn max(self, other: Reservation) -> Reservation {
        Reservation {
            cpu_request: self.cpu_request.max(other.cpu_request),
            cpu_limit: self.cpu_limit.max(other.cpu_limit),
            memory_request: self.memory_request.max(other.memory_request),
            memory_limit: self.memory_limit.max(other.memory_limit),
        }
    }
}

impl Config {
    /// A few lines saying what this configuration will do; with `nodes`, also what it reserves
    /// on that many nodes. Warnings follow, one a line.
    pub fn summary(&self, nodes: Option<u32>) -> String {
        let mut out = String::new();
        let per_node = reservation_per_node(self);
        let hours = if self.caching_interval_hours == 1 {
            "hour".to_string()
        } else {
            format!("{} hours", self.caching_interval_hours)
        };
        let max_unavailable = match &self.max_unavailable {
            IntOrString::Int(1) => "1 node".to_string(),
            IntOrString::Int(n) => format!("{n} nodes"),
            IntOrString::String(percent) => format!("{percent} of nodes"),
        };
        let refresh = match self.refresh_policy {
            RefreshPolicy::OnChange => format!("refreshed when a digest changes (checked every {hours})"),
            RefreshPolicy::Always => format!("refreshed every {hours}"),
        };
        let pinned = if self.pin_digests { ", pinned by digest" } else { "" };
        let _ = write!(
            out,
            "valid configuration: {} image{} to cache{pinned}, mode {}, {refresh}\n\
             DaemonSet {}/{} (owner Deployment {}), at most {max_unavailable} refreshing at once\n\
             per node: {per_node}",
            self.images.len(),
            if self.images.len() == 1 { "" } else { "s" },
            self.caching_mode.as_str(),
            self.namespace,
            self.daemonset_name,
            self.deployment_name,
        );
        if let Some(nodes) = nodes {
            let _ = write!(out, "\n{}", on_nodes(per_node, nodes));
        }
        let _ = write!(out, "{}", Warnings(self));
        out
    }
}

impl Config {
    /// What the DaemonSet reserves in this configuration's caching mode, per node and, given
    /// `nodes`, on that many nodes: one line each.
    pub fn reservation_report(&self, nodes: Option<u32>) -> String {
        let per_node = reservation_per_node(self);
        let mut out = format!("caching mode {}, per node: {per_node}", self.caching_mode.as_str());
        if let Some(nodes) = nodes {
            let _ = write!(out, "\n{}", on_nodes(per_node, nodes));
        }
        out
    }
}

/// `N nodes: ...`, the reservation of `nodes` nodes.
fn on_nodes(per_node: Reservation, nodes: u32) -> String {
    match per_node.times(nodes) {
        Some(total) => format!("{nodes} node{}: {total}", if nodes == 1 { "" } else { "s" }),
        None => format!("{nodes} nodes: more than can be counted"),
    }
}

struct Warnings<'a>(&'a Config);

impl std::fmt::Display for Warnings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_problems(f, "warning", &self.0.warnings)
    }
}
