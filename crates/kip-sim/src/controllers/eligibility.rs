//! Which nodes a pod may run on, by the rules the scheduler and the DaemonSet controller share:
//! `nodeName`, `nodeSelector`, required node affinity (terms ORed, requirements ANDed), and
//! taints against tolerations. PreferNoSchedule never excludes a node; NoSchedule keeps new pods
//! off; NoExecute also evicts running ones.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::node::{
    TAINT_DISK_PRESSURE, TAINT_MEMORY_PRESSURE, TAINT_NETWORK_UNAVAILABLE, TAINT_NOT_READY, TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE,
};

/// The field `matchFields` may select on.
const NODE_NAME_FIELD: &str = "metadata.name";

/// The scheduling fields of a pod spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    pub node_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    /// `None` when the pod has no required node affinity (every node matches).
    pub required_terms: Option<Vec<NodeSelectorTerm>>,
    pub tolerations: Vec<Toleration>,
    pub host_network: bool,
}

impl Placement {
    /// Reads the scheduling fields of a pod spec. Fields that do not parse are taken as absent:
    /// validation keeps them out of the store, and a controller must not stall on one object.
    pub fn from_pod_spec(spec: &Value) -> Self {
        fn field<'a, T: Deserialize<'a> + Default>(v: Option<&'a Value>) -> T {
            v.and_then(|v| T::deserialize(v).ok()).unwrap_or_default()
        }
        let terms = spec.pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution");
        Placement {
            node_name: spec.get("nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()).map(String::from),
            node_selector: field(spec.get("nodeSelector")),
            required_terms: terms.map(|t| field(t.get("nodeSelectorTerms"))),
            tolerations: field(spec.get("tolerations")),
            host_network: spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// What placement decisions need to know about a node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

impl NodeFacts {
    pub fn from_node(node: &Value) -> Self {
        NodeFacts {
            name: node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
            labels: node.pointer("/metadata/labels").and_then(|v| Deserialize::deserialize(v).ok()).unwrap_or_default(),
            taints: node.pointer("/spec/taints").and_then(|v| Deserialize::deserialize(v).ok()).unwrap_or_default(),
        }
    }
}

pub fn matches_node_selector(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Required node affinity: any term matches. No terms match nothing; an empty term matches
/// nothing either.
pub fn matches_required_terms(terms: &[NodeSelectorTerm], node: &NodeFacts) -> bool {
    terms.iter().any(|term| matches_term(term, node))
}

fn matches_term(term: &NodeSelectorTerm, node: &NodeFacts) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions.iter().all(|r| matches_label_requirement(r, &node.labels))
        && fields.iter().all(|r| matches_field_requirement(r, &node.name))
}

/// One `matchExpressions` requirement. Malformed requirements (Gt/Lt without exactly one
/// integer) match nothing, as the API server's selector conversion rejects them.
pub fn matches_label_requirement(req: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let label = labels.get(&req.key);
    match req.operator.as_str() {
        "In" => label.is_some_and(|l| values.contains(l)),
        "NotIn" => label.is_none_or(|l| !values.contains(l)),
        "Exists" => label.is_some(),
        "DoesNotExist" => label.is_none(),
        "Gt" | "Lt" => {
            let [bound] = values else { return false };
            let (Ok(bound), Some(Ok(value))) = (bound.parse::<i64>(), label.map(|l| l.parse::<i64>())) else {
                return false;
            };
            if req.operator == "Gt" { value > bound } else { value < bound }
        }
        _ => false,
    }
}

/// One `matchFields` requirement: only `metadata.name` with In or NotIn exists.
fn matches_field_requirement(req: &NodeSelectorRequirement, node_name: &str) -> bool {
    if req.key != NODE_NAME_FIELD {
        return false;
    }
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => values.iter().any(|v| v == node_name),
        "NotIn" => !values.iter().any(|v| v == node_name),
        _ => false,
    }
}

/// Whether a toleration tolerates a taint: same effect (or any, when empty), same key (or any,
/// when empty), and `Exists`, or `Equal` (the default) with the same value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if toleration.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// The first taint with one of `effects` that no toleration tolerates.
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration], effects: &[&str]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// `nodeName`, `nodeSelector` and required node affinity.
pub fn matches_node(placement: &Placement, node: &NodeFacts) -> bool {
    placement.node_name.as_deref().is_none_or(|n| n == node.name)
        && matches_node_selector(&placement.node_selector, &node.labels)
        && placement.required_terms.as_deref().is_none_or(|terms| matches_required_terms(terms, node))
}

/// Whether the scheduler may put a new pod on the node.
pub fn pod_fits(placement: &Placement, node: &NodeFacts) -> bool {
    matches_node(placement, node)
        && untolerated_taint(&node.taints, &placement.tolerations, &["NoSchedule", "NoExecute"]).is_none()
}

/// The tolerations the DaemonSet controller adds to every daemon pod, so that node problems
/// neither keep daemons off nor evict them; `network-unavailable` only for host-network pods.
pub fn with_daemon_tolerations(tolerations: &[Toleration], host_network: bool) -> Vec<Toleration> {
    let exists = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut added = vec![
        exists(TAINT_NOT_READY, "NoExecute"),
        exists(TAINT_UNREACHABLE, "NoExecute"),
        exists(TAINT_DISK_PRESSURE, "NoSchedule"),
        exists(TAINT_MEMORY_PRESSURE, "NoSchedule"),
        exists(TAINT_PID_PRESSURE, "NoSchedule"),
        exists(TAINT_UNSCHEDULABLE, "NoSchedule"),
    ];
    if host_network {
        added.push(exists(TAINT_NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    let mut result = tolerations.to_vec();
    for toleration in added {
        // Tolerations are unique by key, operator, value and effect; the controller's own wins.
        let same = |t: &Toleration| {
            t.key == toleration.key
                && t.operator == toleration.operator
                && t.value == toleration.value
                && t.effect == toleration.effect
        };
        match result.iter_mut().find(|t| same(t)) {
            Some(existing) => *existing = toleration,
            None => result.push(toleration),
        }
    }
    result
}

/// Where a DaemonSet wants its pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaemonFit {
    /// A daemon pod should be created on the node.
    pub should_run: bool,
    /// A daemon pod already there may stay (it tolerates the NoExecute taints).
    pub should_continue_running: bool,
}

/// The DaemonSet controller's decision for one node. `placement` is the DaemonSet's pod
/// template with the daemon tolerations already added.
pub fn daemon_fit(placement: &Placement, node: &NodeFacts) -> DaemonFit {
    if !matches_node(placement, node) {
        return DaemonFit { should_run: false, should_continue_running: false };
    }
    if untolerated_taint(&node.taints, &placement.tolerations, &["NoSchedule", "NoExecute"]).is_some() {
        let evicted = untolerated_taint(&node.taints, &placement.tolerations, &["NoExecute"]).is_some();
        return DaemonFit { should_run: false, should_continue_running: !evicted };
    }
    DaemonFit { should_run: true, should_continue_running: true }
}

#[cfg(test)]
#[path = "eligibility_tests.rs"]
mod tests;
