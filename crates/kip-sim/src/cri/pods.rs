//! The pod half of the CRI client: host-network pod sandboxes and the containers in them, as a
//! kubelet runs them (create, start, stop with a grace period, remove, status, list), and the
//! plain types those calls take and return.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::client::{
    CONTAINER_STATUS, CREATE_CONTAINER, CriClient, LIST_CONTAINERS, REMOVE_CONTAINER, REMOVE_POD_SANDBOX,
    RUN_POD_SANDBOX, START_CONTAINER, STOP_CONTAINER, STOP_POD_SANDBOX,
};
use super::error::CriError;
use super::proto;
use super::spec::{self, ContainerSpec, SandboxSpec};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The runtime's id of a pod sandbox.
    SandboxId
);
id_type!(
    /// The runtime's id of a container.
    ContainerId
);

/// A running pod sandbox: its id and the configuration that every container created in it
/// must be given again.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub id: SandboxId,
    pub spec: SandboxSpec,
    config: proto::PodSandboxConfig,
}

/// The life stage of a container, as the CRI names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerPhase {
    Created,
    Running,
    Exited,
    Unknown,
}

impl ContainerPhase {
    fn from_wire(state: i32) -> Self {
        match proto::ContainerState::try_from(state) {
            Ok(proto::ContainerState::ContainerCreated) => ContainerPhase::Created,
            Ok(proto::ContainerState::ContainerRunning) => ContainerPhase::Running,
            Ok(proto::ContainerState::ContainerExited) => ContainerPhase::Exited,
            Ok(proto::ContainerState::ContainerUnknown) | Err(_) => ContainerPhase::Unknown,
        }
    }
}

impl fmt::Display for ContainerPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerPhase::Created => "created",
            ContainerPhase::Running => "running",
            ContainerPhase::Exited => "exited",
            ContainerPhase::Unknown => "unknown",
        })
    }
}

/// What `ContainerStatus` tells about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: ContainerId,
    pub name: String,
    pub attempt: u32,
    pub phase: ContainerPhase,
    /// Meaningful once `phase` is `Exited`.
    pub exit_code: i32,
    /// e.g. `Completed`, `Error`, `OOMKilled`.
    pub reason: String,
    pub message: String,
    /// The image as the container spec named it.
    pub image: String,
    /// The image's `registry/name@sha256:...` reference, when known.
    pub image_ref: String,
    pub created_at: Option<jiff::Timestamp>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    /// Where the runtime writes the container's output on the host, if a log was asked for.
    pub log_path: Option<PathBuf>,
}

/// One entry of `ListContainers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: ContainerId,
    pub sandbox_id: SandboxId,
    pub name: String,
    pub attempt: u32,
    pub phase: ContainerPhase,
    pub image: String,
    pub image_ref: String,
    pub labels: BTreeMap<String, String>,
}

/// Which containers `ListContainers` returns; the set fields are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerFilter {
    pub sandbox_id: Option<SandboxId>,
    pub phase: Option<ContainerPhase>,
    pub labels: BTreeMap<String, String>,
}

/// How often [`CriClient::wait_for_phase`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

fn timestamp(nanos: i64) -> Option<jiff::Timestamp> {
    (nanos > 0).then(|| jiff::Timestamp::from_nanosecond(i128::from(nanos)).ok()).flatten()
}

impl CriClient {
    /// `RuntimeService/RunPodSandbox`: creates and starts a sandbox in the node's network
    /// namespace (no CNI needed), with the sandbox image the runtime is configured with.
    pub async fn run_pod_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, CriError> {
        if let Some(dir) = &spec.log_directory {
            // The runtime writes container logs under it but does not create it.
            std::fs::create_dir_all(dir).map_err(|source| CriError::LogDirectory {
                sandbox: spec.name.clone(),
                path: dir.clone(),
                source,
            })?;
        }
        let config = spec::sandbox_config(spec);
        let request = proto::RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: String::new() };
        let answer: proto::RunPodSandboxResponse = self.call(RUN_POD_SANDBOX, &spec.name, request).await?;
        Ok(Sandbox { id: SandboxId(answer.pod_sandbox_id), spec: spec.clone(), config })
    }

    /// `RuntimeService/StopPodSandbox`: kills every container of the sandbox and the sandbox
    /// itself. Stopping a stopped sandbox succeeds.
    pub async fn stop_pod_sandbox(&self, id: &SandboxId) -> Result<(), CriError> {
        let request = proto::PodSandboxIdRequest { pod_sandbox_id: id.0.clone() };
        let _: proto::Empty = self.call(STOP_POD_SANDBOX, id.as_str(), request).await?;
        Ok(())
    }

    /// `RuntimeService/RemovePodSandbox`: removes the sandbox and its containers. Removing an
    /// absent sandbox succeeds.
    pub async fn remove_pod_sandbox(&self, id: &SandboxId) -> Result<(), CriError> {
        let request = proto::PodSandboxIdRequest { pod_sandbox_id: id.0.clone() };
        let _: proto::Empty = self.call(REMOVE_POD_SANDBOX, id.as_str(), request).await?;
        Ok(())
    }

    /// `RuntimeService/CreateContainer`: creates (does not start) a container in `sandbox`.
    /// The image must already be pulled.
    pub async fn create_container(&self, sandbox: &Sandbox, spec: &ContainerSpec) -> Result<ContainerId, CriError> {
        let request = proto::CreateContainerRequest {
            pod_sandbox_id: sandbox.id.0.clone(),
            config: Some(spec::container_config(&sandbox.spec, spec)),
            sandbox_config: Some(sandbox.config.clone()),
        };
        let answer: proto::CreateContainerResponse = self.call(CREATE_CONTAINER, &spec.name, request).await?;
        Ok(ContainerId(answer.container_id))
    }

    /// `RuntimeService/StartContainer`.
    pub async fn start_container(&self, id: &ContainerId) -> Result<(), CriError> {
        let request = proto::ContainerIdRequest { container_id: id.0.clone() };
        let _: proto::Empty = self.call(START_CONTAINER, id.as_str(), request).await?;
        Ok(())
    }

    /// Creates and starts a container in `sandbox`: what a kubelet does for each container of a
    /// pod once its image is present.
    pub async fn run_container(&self, sandbox: &Sandbox, spec: &ContainerSpec) -> Result<ContainerId, CriError> {
        let id = self.create_container(sandbox, spec).await?;
        self.start_container(&id).await?;
        Ok(id)
    }

    /// `RuntimeService/StopContainer`: SIGTERM (or the image's stop signal), then SIGKILL once
    /// `grace` has passed; a grace under one second kills at once. Returns when the container
    /// has exited. Stopping an exited container succeeds.
    pub async fn stop_container(&self, id: &ContainerId, grace: Duration) -> Result<(), CriError> {
        let timeout = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let request = proto::StopContainerRequest { container_id: id.0.clone(), timeout };
        let _: proto::Empty = self.call(STOP_CONTAINER, id.as_str(), request).await?;
        Ok(())
    }

    /// `RuntimeService/RemoveContainer`: removes the container, killing it if it runs. Removing
    /// an absent container succeeds.
    pub async fn remove_container(&self, id: &ContainerId) -> Result<(), CriError> {
        let request = proto::ContainerIdRequest { container_id: id.0.clone() };
        let _: proto::Empty = self.call(REMOVE_CONTAINER, id.as_str(), request).await?;
        Ok(())
    }

    /// `RuntimeService/ContainerStatus`. An unknown id is an error whose
    /// [`CriError::is_not_found`] is true.
    pub async fn container_status(&self, id: &ContainerId) -> Result<ContainerInfo, CriError> {
        let request = proto::ContainerStatusRequest { container_id: id.0.clone(), verbose: false };
        let answer: proto::ContainerStatusResponse = self.call(CONTAINER_STATUS, id.as_str(), request).await?;
        let status = answer.status.ok_or_else(|| CriError::IncompleteAnswer {
            method: CONTAINER_STATUS.name,
            target: id.0.clone(),
            field: "status",
        })?;
        let metadata = status.metadata.unwrap_or_default();
        Ok(ContainerInfo {
            id: ContainerId(status.id),
            name: metadata.name,
            attempt: metadata.attempt,
            phase: ContainerPhase::from_wire(status.state),
            exit_code: status.exit_code,
            reason: status.reason,
            message: status.message,
            image: status.image.map(|image| image.image).unwrap_or_default(),
            image_ref: status.image_ref,
            created_at: timestamp(status.created_at),
            started_at: timestamp(status.started_at),
            finished_at: timestamp(status.finished_at),
            log_path: (!status.log_path.is_empty()).then(|| PathBuf::from(status.log_path)),
        })
    }

    /// `RuntimeService/ListContainers`, filtered.
    pub async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<ContainerSummary>, CriError> {
        let request = proto::ListContainersRequest {
            filter: Some(proto::ContainerFilter {
                id: String::new(),
                state: filter.phase.map(|phase| proto::ContainerStateValue { state: spec::phase_to_wire(phase) }),
                pod_sandbox_id: filter.sandbox_id.as_ref().map(|id| id.0.clone()).unwrap_or_default(),
                label_selector: filter.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>(),
            }),
        };
        let answer: proto::ListContainersResponse = self.call(LIST_CONTAINERS, "containers", request).await?;
        Ok(answer
            .containers
            .into_iter()
            .map(|container| {
                let metadata = container.metadata.unwrap_or_default();
                ContainerSummary {
                    id: ContainerId(container.id),
                    sandbox_id: SandboxId(container.pod_sandbox_id),
                    name: metadata.name,
                    attempt: metadata.attempt,
                    phase: ContainerPhase::from_wire(container.state),
                    image: container.image.map(|image| image.image).unwrap_or_default(),
                    image_ref: container.image_ref,
                    labels: container.labels.into_iter().collect(),
                }
            })
            .collect())
    }

    /// Asks for the container's status until it is in `phase`, for at most `timeout`.
    pub async fn wait_for_phase(
        &self,
        id: &ContainerId,
        phase: ContainerPhase,
        timeout: Duration,
    ) -> Result<ContainerInfo, CriError> {
        let started = tokio::time::Instant::now();
        loop {
            let info = self.container_status(id).await?;
            if info.phase == phase {
                return Ok(info);
            }
            // An exited container does not come back: waiting on would only burn the timeout.
            if info.phase == ContainerPhase::Exited || started.elapsed() >= timeout {
                return Err(CriError::WaitTimedOut {
                    container_id: id.0.clone(),
                    state: format!(
                        "{} (exit code {}, reason {:?}, {})",
                        info.phase, info.exit_code, info.reason, info.message
                    ),
                    awaited: phase,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_states_map_to_phases_and_back() {
        for phase in [ContainerPhase::Created, ContainerPhase::Running, ContainerPhase::Exited, ContainerPhase::Unknown]
        {
            assert_eq!(ContainerPhase::from_wire(spec::phase_to_wire(phase)), phase);
        }
        assert_eq!(ContainerPhase::from_wire(42), ContainerPhase::Unknown);
    }

    #[test]
    fn zero_nanoseconds_mean_no_timestamp() {
        assert_eq!(timestamp(0), None);
        assert_eq!(timestamp(1_700_000_000_000_000_000).map(|t| t.as_second()), Some(1_700_000_000));
    }
}
