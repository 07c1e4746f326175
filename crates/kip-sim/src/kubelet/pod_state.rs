//! The kubelet's model of one pod's status, and the `status` object it renders: phase,
//! conditions (with transition times kept while a condition holds), IPs, start time and one
//! status per container, as a kubelet reports them.

use serde_json::{Value, json};

use super::pod_spec::{PodSpecModel, RestartPolicy};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Termination {
    pub exit_code: i32,
    pub reason: String,
    pub started_at: String,
    pub finished_at: String,
    pub container_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Waiting { reason: String, message: Option<String> },
    Running { started_at: String },
    Terminated(Termination),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    pub name: String,
    pub spec_image: String,
    pub state: ContainerState,
    pub last_termination: Option<Termination>,
    pub ready: bool,
    pub started: bool,
    pub restart_count: u32,
    /// The image as the runtime names it, once pulled.
    pub image: Option<String>,
    /// `repo@sha256:...`, once pulled; the container holds the image while it exists.
    pub image_id: Option<String>,
    pub container_id: Option<String>,
}

impl ContainerStatus {
    fn new(name: &str, image: &str, waiting_reason: &str) -> Self {
        ContainerStatus {
            name: name.to_string(),
            spec_image: image.to_string(),
            state: ContainerState::Waiting { reason: waiting_reason.to_string(), message: None },
            last_termination: None,
            ready: false,
            started: false,
            restart_count: 0,
            image: None,
            image_id: None,
            container_id: None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, ContainerState::Running { .. })
    }

    pub fn succeeded(&self) -> bool {
        matches!(&self.state, ContainerState::Terminated(t) if t.exit_code == 0)
    }

    fn render(&self) -> Value {
        let termination = |t: &Termination| {
            json!({"exitCode": t.exit_code, "reason": t.reason, "startedAt": t.started_at,
                   "finishedAt": t.finished_at, "containerID": format!("containerd://{}", t.container_id)})
        };
        let state = match &self.state {
            ContainerState::Waiting { reason, message: Some(message) } => {
                json!({"waiting": {"reason": reason, "message": message}})
            }
            ContainerState::Waiting { reason, message: None } => json!({"waiting": {"reason": reason}}),
            ContainerState::Running { started_at } => json!({"running": {"startedAt": started_at}}),
            ContainerState::Terminated(t) => json!({"terminated": termination(t)}),
        };
        let mut status = json!({
            "name": self.name,
            "state": state,
            "lastState": self.last_termination.as_ref().map_or_else(|| json!({}), |t| json!({"terminated": termination(t)})),
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.image.as_deref().unwrap_or(&self.spec_image),
            "imageID": self.image_id.as_deref().unwrap_or(""),
            "started": self.started,
        });
        if let Some(id) = &self.container_id {
            status["containerID"] = json!(format!("containerd://{id}"));
        }
        status
    }
}

/// One pod condition as the kubelet last set it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    kind: &'static str,
    status: bool,
    reason: Option<String>,
    message: Option<String>,
    since: String,
}

#[derive(Clone, Debug)]
pub struct PodState {
    pub host_ip: String,
    pub pod_ip: Option<String>,
    pub start_time: Option<String>,
    pub sandbox_ready: bool,
    /// The node stopped reporting ready: pods on it are not ready either.
    pub node_not_ready: bool,
    /// Set when the pod was made to fail (eviction): reason and message.
    pub failed: Option<(String, String)>,
    pub init: Vec<ContainerStatus>,
    pub containers: Vec<ContainerStatus>,
    /// The image each image volume resolved to, by volume, once pulled: the runtime holds it
    /// mounted for the containers that mount the volume.
    pub volume_images: Vec<(String, Option<String>)>,
    /// The runtime no longer has this pod's containers (a terminated pod's, removed to reclaim
    /// disk): their images no longer count as in use. The status still shows them.
    pub containers_removed: bool,
    restart_policy: RestartPolicy,
    qos: &'static str,
    phase: &'static str,
    conditions: Vec<Condition>,
}

impl PodState {
    pub fn new(spec: &PodSpecModel, host_ip: &str) -> Self {
        let waiting = if spec.init.is_empty() { "ContainerCreating" } else { "PodInitializing" };
        PodState {
            host_ip: host_ip.to_string(),
            pod_ip: None,
            start_time: None,
            sandbox_ready: false,
            node_not_ready: false,
            failed: None,
            init: spec.init.iter().map(|c| ContainerStatus::new(&c.name, &c.image, waiting)).collect(),
            containers: spec.containers.iter().map(|c| ContainerStatus::new(&c.name, &c.image, waiting)).collect(),
            volume_images: spec.image_volumes.iter().map(|v| (v.name.clone(), None)).collect(),
            containers_removed: false,
            restart_policy: spec.restart_policy,
            qos: spec.qos,
            phase: "Pending",
            conditions: Vec::new(),
        }
    }

    pub fn phase(&self) -> &'static str {
        self.phase
    }

    pub fn initialized(&self) -> bool {
        self.init.iter().all(ContainerStatus::succeeded)
    }

    /// The image ids the pod's containers hold (running or exited, init or not) and the images
    /// mounted as its image volumes, while the runtime has the containers.
    pub fn image_ids(&self) -> impl Iterator<Item = &str> {
        let held = !self.containers_removed;
        let containers = self.init.iter().chain(&self.containers).filter_map(|c| c.image_id.as_deref());
        let volumes = self.volume_images.iter().filter_map(|(_, id)| id.as_deref());
        containers.chain(volumes).filter(move |_| held)
    }

    /// Succeeded or Failed: its containers will not run again.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase, "Succeeded" | "Failed")
    }

    /// Recomputes phase and conditions after a change; a condition's transition time moves only
    /// when its status does.
    pub fn settle(&mut self, now: &str) {
        self.phase = self.compute_phase();
        let terminal = self.phase == "Succeeded" || self.phase == "Failed";
        let names = |list: &[ContainerStatus], keep: fn(&ContainerStatus) -> bool| -> Vec<String> {
            list.iter().filter(|c| !keep(c)).map(|c| c.name.clone()).collect()
        };
        let incomplete = names(&self.init, ContainerStatus::succeeded);
        let unready = names(&self.containers, |c| c.ready);
        let listed = |prefix: &str, names: &[String]| format!("{prefix}: [{}]", names.join(" "));
        let mut wanted: Vec<(&'static str, bool, Option<&str>, Option<String>)> = vec![
            ("PodReadyToStartContainers", self.sandbox_ready && !terminal, None, None),
            (
                "Initialized",
                incomplete.is_empty(),
                Some("ContainersNotInitialized"),
                Some(listed("containers with incomplete status", &incomplete)),
            ),
        ];
        let containers_ready = unready.is_empty() && !terminal;
        let (reason, message) = if terminal {
            (Some("PodCompleted"), None)
        } else {
            (Some("ContainersNotReady"), Some(listed("containers with unready status", &unready)))
        };
        if self.node_not_ready && containers_ready {
            wanted.push(("Ready", false, Some("NodeNotReady"), Some("the node is not ready".into())));
        } else {
            wanted.push(("Ready", containers_ready, reason, message.clone()));
        }
        wanted.push(("ContainersReady", containers_ready, reason, message));
        wanted.push(("PodScheduled", true, None, None));
        let mut next = Vec::with_capacity(wanted.len());
        for (kind, status, reason, message) in wanted {
            let since = match self.conditions.iter().find(|c| c.kind == kind) {
                Some(c) if c.status == status => c.since.clone(),
                _ => now.to_string(),
            };
            let (reason, message) = if status { (None, None) } else { (reason.map(String::from), message) };
            next.push(Condition { kind, status, reason, message, since });
        }
        self.conditions = next;
    }

    /// The kubelet's phase rules: waiting containers keep a pod Pending; running ones make it
    /// Running; when all have stopped, the restart policy and exit codes decide.
    fn compute_phase(&self) -> &'static str {
        if self.failed.is_some() {
            return "Failed";
        }
        let init_failed =
            self.init.iter().any(|c| matches!(&c.state, ContainerState::Terminated(t) if t.exit_code != 0));
        if !self.initialized() {
            return if init_failed && self.restart_policy == RestartPolicy::Never { "Failed" } else { "Pending" };
        }
        let (mut running, mut stopped, mut succeeded, mut waiting) = (0, 0, 0, 0);
        for c in &self.containers {
            match &c.state {
                ContainerState::Running { .. } => running += 1,
                ContainerState::Terminated(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                ContainerState::Waiting { .. } if c.last_termination.is_some() => stopped += 1,
                ContainerState::Waiting { .. } => waiting += 1,
            }
        }
        match () {
            _ if waiting > 0 => "Pending",
            _ if running > 0 => "Running",
            _ if stopped > 0 => match self.restart_policy {
                RestartPolicy::Always => "Running",
                _ if stopped == succeeded => "Succeeded",
                RestartPolicy::Never => "Failed",
                RestartPolicy::OnFailure => "Running",
            },
            _ => "Pending",
        }
    }

    /// The pod's `status`, as the kubelet writes it.
    pub fn render(&self) -> Value {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|c| {
                let mut v = json!({"type": c.kind, "status": if c.status { "True" } else { "False" },
                                   "lastProbeTime": null, "lastTransitionTime": c.since});
                if let Some(reason) = &c.reason {
                    v["reason"] = json!(reason);
                }
                if let Some(message) = &c.message {
                    v["message"] = json!(message);
                }
                v
            })
            .collect();
        let mut containers: Vec<&ContainerStatus> = self.containers.iter().collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut status = json!({
            "phase": self.phase,
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "containerStatuses": containers.iter().map(|c| c.render()).collect::<Vec<_>>(),
            "qosClass": self.qos,
        });
        if let Some(ip) = &self.pod_ip {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        if let Some(start) = &self.start_time {
            status["startTime"] = json!(start);
        }
        if !self.init.is_empty() {
            status["initContainerStatuses"] = Value::Array(self.init.iter().map(ContainerStatus::render).collect());
        }
        if let Some((reason, message)) = &self.failed {
            status["reason"] = json!(reason);
            status["message"] = json!(message);
        }
        status
    }
}

#[cfg(test)]
#[path = "pod_state_tests.rs"]
mod tests;
