//! The API server's rules for a pod's affinity, applied to `AFFINITY`: operators and their
//! values, weights, topology keys, label keys. Each problem names its JSON path.

use k8s_openapi::api::core::v1::{
    Affinity, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::problem::{Location, Problem};
use super::vars::AFFINITY;

struct Checker<'a> {
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn push(&mut self, path: &str, message: String, accepted: Option<&str>) {
        let problem = Problem::new(AFFINITY, message).at(Location::Path(path.to_string()));
        self.problems.push(match accepted {
            Some(accepted) => problem.accepted(accepted),
            None => problem,
        });
    }

    fn key(&mut self, path: &str, key: &str) {
        for rule in kip_rules::qualified_name(key) {
            self.push(&format!("{path}.key"), format!("{key:?} is not a valid label key: {rule}"), None);
        }
    }

    fn weight(&mut self, path: &str, weight: i32) {
        if !(1..=100).contains(&weight) {
            self.push(&format!("{path}.weight"), format!("weight {weight} is out of range"), Some("1 to 100"));
        }
    }

    fn node_term(&mut self, path: &str, term: &NodeSelectorTerm) {
        for (i, requirement) in term.match_expressions.iter().flatten().enumerate() {
            self.node_requirement(&format!("{path}.matchExpressions[{i}]"), requirement, false);
        }
        for (i, requirement) in term.match_fields.iter().flatten().enumerate() {
            self.node_requirement(&format!("{path}.matchFields[{i}]"), requirement, true);
        }
    }

    fn node_requirement(&mut self, path: &str, requirement: &NodeSelectorRequirement, field: bool) {
        let values = requirement.values.as_deref().unwrap_or_default();
        let operator = requirement.operator.as_str();
        if field {
            // Only the node's name can be matched by field, one name per requirement.
            if requirement.key != "metadata.name" {
                self.push(
                    &format!("{path}.key"),
                    format!("{:?} is not a node field that can be selected", requirement.key),
                    Some("metadata.name"),
                );
            }
            if matches!(operator, "In" | "NotIn") && values.len() != 1 {
                self.push(
                    &format!("{path}.values"),
                    format!("operator {operator} on a node field needs exactly one value, not {}", values.len()),
                    None,
                );
            }
        } else {
            self.key(path, &requirement.key);
        }
        let values_path = format!("{path}.values");
        match operator {
            "In" | "NotIn" if values.is_empty() => {
                self.push(&values_path, format!("operator {operator} needs at least one value"), None)
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                self.push(&values_path, format!("operator {operator} takes no values"), None)
            }
            "Gt" | "Lt" if values.len() != 1 || values[0].parse::<i64>().is_err() => {
                self.push(&values_path, format!("operator {operator} needs exactly one value, an integer"), None)
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            other => self.push(
                &format!("{path}.operator"),
                format!("operator {other:?} is not supported"),
                Some("In, NotIn, Exists, DoesNotExist, Gt, Lt"),
            ),
        }
    }

    fn pod_term(&mut self, path: &str, term: &PodAffinityTerm) {
        if term.topology_key.is_empty() {
            self.push(
                &format!("{path}.topologyKey"),
                "the topology key is empty".to_string(),
                Some("a node label key such as kubernetes.io/hostname or topology.kubernetes.io/zone"),
            );
        } else {
            for rule in kip_rules::qualified_name(&term.topology_key) {
                self.push(&format!("{path}.topologyKey"), format!("is not a valid label key: {rule}"), None);
            }
        }
        if let Some(selector) = &term.label_selector {
            self.label_selector(&format!("{path}.labelSelector"), selector);
        }
        if let Some(selector) = &term.namespace_selector {
            self.label_selector(&format!("{path}.namespaceSelector"), selector);
        }
    }

    fn weighted_pod_terms(&mut self, path: &str, terms: Option<&Vec<WeightedPodAffinityTerm>>) {
        for (i, weighted) in terms.into_iter().flatten().enumerate() {
            let path = format!("{path}[{i}]");
            self.weight(&path, weighted.weight);
            self.pod_term(&format!("{path}.podAffinityTerm"), &weighted.pod_affinity_term);
        }
    }

    fn label_selector(&mut self, path: &str, selector: &LabelSelector) {
        for (key, value) in selector.match_labels.iter().flatten() {
            for rule in kip_rules::qualified_name(key) {
                self.push(&format!("{path}.matchLabels"), format!("{key:?} is not a valid label key: {rule}"), None);
            }
            for rule in kip_rules::label_value(value) {
                self.push(
                    &format!("{path}.matchLabels.{key}"),
                    format!("{value:?} is not a valid label value: {rule}"),
                    None,
                );
            }
        }
        for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
            self.label_requirement(&format!("{path}.matchExpressions[{i}]"), requirement);
        }
    }

    fn label_requirement(&mut self, path: &str, requirement: &LabelSelectorRequirement) {
        self.key(path, &requirement.key);
        let values = requirement.values.as_deref().unwrap_or_default();
        let operator = requirement.operator.as_str();
        match operator {
            "In" | "NotIn" if values.is_empty() => {
                self.push(&format!("{path}.values"), format!("operator {operator} needs at least one value"), None)
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                self.push(&format!("{path}.values"), format!("operator {operator} takes no values"), None)
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => self.push(
                &format!("{path}.operator"),
                format!("operator {other:?} is not supported"),
                Some("In, NotIn, Exists, DoesNotExist"),
            ),
        }
    }
}

pub(crate) fn check_affinity(affinity: &Affinity, problems: &mut Vec<Problem>) {
    let mut checker = Checker { problems };
    if let Some(node) = &affinity.node_affinity {
        let path = "$.nodeAffinity";
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            let path = format!("{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            if required.node_selector_terms.is_empty() {
                checker.push(
                    &path,
                    "lists no node selector term, so no node would match".to_string(),
                    Some("at least one term"),
                );
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                checker.node_term(&format!("{path}[{i}]"), term);
            }
        }
        let preferred = node.preferred_during_scheduling_ignored_during_execution.iter().flatten();
        for (i, term) in preferred.enumerate() {
            let path = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            checker.weight(&path, term.weight);
            checker.node_term(&format!("{path}.preference"), &term.preference);
        }
    }
    let pod_affinities = [
        (
            "$.podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "$.podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (path, terms) in pod_affinities {
        let Some((required, preferred)) = terms else { continue };
        for (i, term) in required.iter().flatten().enumerate() {
            checker.pod_term(&format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"), term);
        }
        checker
            .weighted_pod_terms(&format!("{path}.preferredDuringSchedulingIgnoredDuringExecution"), preferred.as_ref());
    }
}
