//! Request accounting: how many API requests were served, by verb and by group-resource, so
//! benchmarks can report the load a controller puts on the API server.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::Serialize;

/// The verbs the API server's audit and metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }

    pub fn is_write(self) -> bool {
        !matches!(self, Verb::Get | Verb::List | Verb::Watch)
    }
}

/// The counts at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    /// Every request counted below.
    pub total: u64,
    /// By verb: `{"list": 3, "watch": 2}`.
    #[serde(rename = "byVerb")]
    pub by_verb: BTreeMap<String, u64>,
    /// By group-resource (`pods`, `daemonsets.apps`, or `discovery` for discovery documents),
    /// then by verb.
    #[serde(rename = "byResource")]
    pub by_resource: BTreeMap<String, BTreeMap<String, u64>>,
}

impl StatsSnapshot {
    /// Requests of one verb on one group-resource (`"daemonsets.apps"`).
    pub fn count(&self, resource: &str, verb: &str) -> u64 {
        self.by_resource.get(resource).and_then(|v| v.get(verb)).copied().unwrap_or(0)
    }
}

#[derive(Default)]
pub struct Stats {
    counts: Mutex<StatsSnapshot>,
}

impl Stats {
    pub fn record(&self, verb: Verb, resource: &str) {
        let mut counts = self.counts.lock();
        counts.total += 1;
        *counts.by_verb.entry(verb.as_str().to_string()).or_default() += 1;
        *counts.by_resource.entry(resource.to_string()).or_default().entry(verb.as_str().to_string()).or_default() += 1;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        self.counts.lock().clone()
    }

    pub fn reset(&self) {
        *self.counts.lock() = StatsSnapshot::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_verb_and_resource_and_resets() {
        let stats = Stats::default();
        stats.record(Verb::List, "pods");
        stats.record(Verb::Watch, "pods");
        stats.record(Verb::List, "daemonsets.apps");
        let s = stats.snapshot();
        assert_eq!(s.total, 3);
        assert_eq!(s.by_verb["list"], 2);
        assert_eq!(s.count("pods", "watch"), 1);
        assert_eq!(s.count("daemonsets.apps", "list"), 1);
        assert_eq!(s.count("daemonsets.apps", "watch"), 0);
        stats.reset();
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
    }
}
