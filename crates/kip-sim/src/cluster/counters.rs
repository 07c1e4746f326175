//! What the simulated cluster did, counted for benchmarks and tests: image downloads, registry
//! manifest requests, bytes pulled and container restarts by node and in total, and the status
//! writes the kubelets made (the main cost of a large simulation).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// A point-in-time copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Image downloads (a pull whose digest was not yet on the node).
    pub pulls: u64,
    /// Manifest requests to the registry (every `Always` pull makes one, even without download).
    pub manifest_requests: u64,
    pub bytes_pulled: u64,
    /// Container restarts (the sum of `restartCount` increments).
    pub container_restarts: u64,
    pub pod_status_writes: u64,
    pub node_status_writes: u64,
}

#[derive(Debug, Default)]
struct Cells {
    pulls: AtomicU64,
    manifest_requests: AtomicU64,
    bytes_pulled: AtomicU64,
    container_restarts: AtomicU64,
    pod_status_writes: AtomicU64,
    node_status_writes: AtomicU64,
}

impl Cells {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            pulls: self.pulls.load(Ordering::Relaxed),
            manifest_requests: self.manifest_requests.load(Ordering::Relaxed),
            bytes_pulled: self.bytes_pulled.load(Ordering::Relaxed),
            container_restarts: self.container_restarts.load(Ordering::Relaxed),
            pod_status_writes: self.pod_status_writes.load(Ordering::Relaxed),
            node_status_writes: self.node_status_writes.load(Ordering::Relaxed),
        }
    }
}

/// The counters of one node; every increment also counts in the cluster total.
#[derive(Clone, Debug)]
pub struct NodeCounters {
    node: Arc<Cells>,
    total: Arc<Cells>,
}

impl NodeCounters {
    pub fn manifest_request(&self) {
        for cells in [&self.node, &self.total] {
            cells.manifest_requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn download(&self, bytes: u64) {
        for cells in [&self.node, &self.total] {
            cells.pulls.fetch_add(1, Ordering::Relaxed);
            cells.bytes_pulled.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub fn container_restart(&self) {
        for cells in [&self.node, &self.total] {
            cells.container_restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn pod_status_write(&self) {
        for cells in [&self.node, &self.total] {
            cells.pod_status_writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn node_status_write(&self) {
        for cells in [&self.node, &self.total] {
            cells.node_status_writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        self.node.snapshot()
    }
}

/// All counters of the cluster.
#[derive(Debug, Default)]
pub struct Counters {
    total: Arc<Cells>,
    nodes: RwLock<BTreeMap<String, Arc<Cells>>>,
}

impl Counters {
    /// The counters of `node`, created at zero on first use (and kept after the node is removed,
    /// so that a benchmark can still read them).
    pub fn node(&self, node: &str) -> NodeCounters {
        if let Some(cells) = self.nodes.read().get(node) {
            return NodeCounters { node: cells.clone(), total: self.total.clone() };
        }
        let cells = self.nodes.write().entry(node.to_string()).or_default().clone();
        NodeCounters { node: cells, total: self.total.clone() }
    }

    pub fn total(&self) -> CounterSnapshot {
        self.total.snapshot()
    }

    pub fn by_node(&self) -> BTreeMap<String, CounterSnapshot> {
        self.nodes.read().iter().map(|(name, cells)| (name.clone(), cells.snapshot())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_increments_count_in_the_total() {
        let counters = Counters::default();
        let a = counters.node("node-1");
        let b = counters.node("node-2");
        a.download(100);
        a.manifest_request();
        b.download(50);
        b.container_restart();
        assert_eq!(counters.node("node-1").snapshot().bytes_pulled, 100);
        let total = counters.total();
        assert_eq!(
            (total.pulls, total.bytes_pulled, total.manifest_requests, total.container_restarts),
            (2, 150, 1, 1)
        );
        assert_eq!(counters.by_node().len(), 2);
    }
}
