//! Listing pod sandboxes: what a kubelet asks to find the sandboxes of a pod it no longer
//! tracks (a start cut short), and what tests ask to see that a pod left nothing behind.

use std::collections::{BTreeMap, HashMap};

use super::client::{CriClient, LIST_POD_SANDBOX};
use super::error::CriError;
use super::pods::SandboxId;
use super::proto;

/// Whether a sandbox's namespaces and pause process are up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SandboxState {
    Ready,
    NotReady,
}

impl SandboxState {
    fn from_wire(state: i32) -> Self {
        match proto::PodSandboxState::try_from(state) {
            Ok(proto::PodSandboxState::SandboxReady) => SandboxState::Ready,
            _ => SandboxState::NotReady,
        }
    }

    fn to_wire(self) -> i32 {
        match self {
            SandboxState::Ready => proto::PodSandboxState::SandboxReady as i32,
            SandboxState::NotReady => proto::PodSandboxState::SandboxNotready as i32,
        }
    }
}

/// One entry of `ListPodSandbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxSummary {
    pub id: SandboxId,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub state: SandboxState,
    pub labels: BTreeMap<String, String>,
}

/// Which sandboxes `ListPodSandbox` returns; the set fields are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxFilter {
    pub state: Option<SandboxState>,
    pub labels: BTreeMap<String, String>,
}

impl CriClient {
    /// `RuntimeService/ListPodSandbox`, filtered.
    pub async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<SandboxSummary>, CriError> {
        let request = proto::ListPodSandboxRequest {
            filter: Some(proto::PodSandboxFilter {
                id: String::new(),
                state: filter.state.map(|state| proto::PodSandboxStateValue { state: state.to_wire() }),
                label_selector: filter.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>(),
            }),
        };
        let answer: proto::ListPodSandboxResponse = self.call(LIST_POD_SANDBOX, "pod sandboxes", request).await?;
        Ok(answer
            .items
            .into_iter()
            .map(|sandbox| {
                let metadata = sandbox.metadata.unwrap_or_default();
                SandboxSummary {
                    id: SandboxId(sandbox.id),
                    name: metadata.name,
                    namespace: metadata.namespace,
                    uid: metadata.uid,
                    state: SandboxState::from_wire(sandbox.state),
                    labels: sandbox.labels.into_iter().collect(),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_states_round_trip_and_unknown_values_read_as_not_ready() {
        for state in [SandboxState::Ready, SandboxState::NotReady] {
            assert_eq!(SandboxState::from_wire(state.to_wire()), state);
        }
        assert_eq!(SandboxState::from_wire(7), SandboxState::NotReady);
    }
}
