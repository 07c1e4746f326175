//! The pod worker: the life of one pod on its node, as a kubelet runs it. Sandbox first (pod
//! IP, start time), then the init containers one after another (each must exit 0), then the
//! containers, pulling each image before its start; containers that exit are restarted by the
//! pod's restart policy with crash-loop back-off. Deletion stops the containers within the
//! grace period, writes their final states and then removes the pod object; an eviction fails
//! the pod.
//!
//! All of the pod's state lives in its [`PodHandle`], so the worker's future can be dropped at
//! any await (a deletion arriving mid-pull) without losing anything.

mod start;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use super::Kubelets;
use super::backoff::Backoff;
use super::node::{NodeAgent, PodHandle};
use super::pod_spec::{PodSpecModel, RestartPolicy};
use super::pod_state::{ContainerState, PodState, Termination};
use super::runtime::{ContainerExit, PodSandboxConfig};
use super::status_writer::write_pod_status;
use crate::controllers::PODS;
use crate::store::DeleteOptions;

/// Which container of the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Init(usize),
    Main(usize),
}

pub(super) struct Worker {
    kubelets: Arc<Kubelets>,
    node: Arc<NodeAgent>,
    pod: Arc<PodHandle>,
    spec: PodSpecModel,
    /// The whole pod, for runtimes that run real containers (see
    /// [`super::runtime::ContainerRuntime::runs_containers`]).
    sandbox: Option<Arc<PodSandboxConfig>>,
    pulls: Backoff,
    crashes: Backoff,
    /// The last pull error per image, quoted by later back-off messages.
    pull_errors: std::collections::HashMap<String, String>,
    /// Every container started, for removal when the pod goes.
    started: Vec<String>,
}

enum Outcome {
    Finished,
    Stop,
    Kill,
    Fail,
    NodeGone,
}

pub(super) async fn run(
    kubelets: Arc<Kubelets>,
    node: Arc<NodeAgent>,
    pod: Arc<PodHandle>,
    spec: PodSpecModel,
    sandbox: Option<Arc<PodSandboxConfig>>,
) {
    let config = &kubelets.config;
    let mut worker = Worker {
        pulls: Backoff::new(config.image_pull_backoff.0, config.image_pull_backoff.1),
        crashes: Backoff::new(config.crash_loop_backoff.0, config.crash_loop_backoff.1),
        kubelets: kubelets.clone(),
        node: node.clone(),
        pod: pod.clone(),
        spec,
        sandbox,
        pull_errors: Default::default(),
        started: Vec::new(),
    };
    let (stop, kill, fail, gone) = (pod.stop.clone(), pod.kill.clone(), pod.fail.clone(), node.shutdown.clone());
    let mut outcome = tokio::select! {
        biased;
        _ = gone.cancelled() => Outcome::NodeGone,
        _ = kill.cancelled() => Outcome::Kill,
        _ = stop.cancelled() => Outcome::Stop,
        _ = fail.cancelled() => Outcome::Fail,
        _ = worker.lifecycle() => Outcome::Finished,
    };
    loop {
        outcome = match outcome {
            Outcome::Finished | Outcome::Fail => {
                if matches!(outcome, Outcome::Fail) {
                    worker.fail().await;
                }
                // A finished pod stays until someone deletes it.
                tokio::select! {
                    biased;
                    _ = gone.cancelled() => Outcome::NodeGone,
                    _ = kill.cancelled() => Outcome::Kill,
                    _ = stop.cancelled() => Outcome::Stop,
                }
            }
            Outcome::Stop => {
                tokio::select! {
                    biased;
                    _ = gone.cancelled() => Outcome::NodeGone,
                    _ = kill.cancelled() => Outcome::Kill,
                    _ = worker.terminate() => break,
                }
            }
            Outcome::Kill | Outcome::NodeGone => {
                worker.stop_containers(Duration::ZERO).await;
                break;
            }
        };
    }
    worker.release().await;
    pod.finished.store(true, Ordering::Release);
    node.pods.write().remove(&pod.uid);
}

impl Worker {
    /// Applies a change to the pod's state and queues a status write.
    fn update(&self, change: impl FnOnce(&mut PodState)) {
        let now = self.kubelets.clock.timestamp();
        {
            let mut state = self.pod.state.lock();
            change(&mut state);
            state.settle(&now);
        }
        self.kubelets.status.pod_changed(&self.pod);
    }

    fn container(state: &mut PodState, slot: Slot) -> &mut super::pod_state::ContainerStatus {
        match slot {
            Slot::Init(i) => &mut state.init[i],
            Slot::Main(i) => &mut state.containers[i],
        }
    }

    async fn sleep(&self, sim: Duration) {
        self.kubelets.clock.sleep(sim).await;
    }

    async fn lifecycle(&mut self) {
        self.node.wait_ready().await;
        if let Some(sandbox) = self.sandbox.clone() {
            while let Err(err) = self.node.runtime.run_pod_sandbox(&sandbox).await {
                // The kubelet's FailedCreatePodSandBox: the containers stay waiting to be created.
                tracing::warn!(pod = %self.pod.key.name, namespace = %self.pod.key.namespace, %err, "cannot create the pod sandbox");
                self.sleep(self.kubelets.config.sync_retry).await;
            }
        }
        let now = self.kubelets.clock.timestamp();
        let ip = if self.spec.host_network { self.node.ip.clone() } else { self.node.allocate_pod_ip() };
        self.update(|s| {
            s.start_time = Some(now);
            s.pod_ip = Some(ip);
            s.sandbox_ready = true;
        });
        for i in 0..self.spec.init.len() {
            if !self.run_init(i).await {
                return;
            }
        }
        self.run_containers().await;
    }

    /// Runs an init container until it exits 0. False when the pod failed instead.
    async fn run_init(&mut self, i: usize) -> bool {
        let slot = Slot::Init(i);
        loop {
            self.node.wait_ready().await;
            let Some(id) = self.attempt(slot).await else {
                self.sleep(self.kubelets.config.sync_retry).await;
                continue;
            };
            let exit = self.node.runtime.wait_container(&id).await;
            self.record_exit(slot, &id, &exit);
            if exit.exit_code == 0 {
                return true;
            }
            if self.spec.restart_policy == RestartPolicy::Never {
                return false;
            }
            if let Some(wait) = self.crash_wait(slot) {
                self.sleep(wait).await;
            }
        }
    }

    /// Runs the containers: starts each when due, restarts by policy, marks readiness. Returns
    /// when every container has stopped for good.
    async fn run_containers(&mut self) {
        let n = self.spec.containers.len();
        let clock = self.kubelets.clock.clone();
        let mut due: Vec<Option<Instant>> = vec![Some(Instant::now()); n];
        let mut ready_at: Vec<Option<Instant>> = vec![None; n];
        let runtime = self.node.runtime.clone();
        let mut exits = FuturesUnordered::new();
        loop {
            self.node.wait_ready().await;
            for i in 0..n {
                if due[i].is_none_or(|d| d > Instant::now()) {
                    continue;
                }
                due[i] = None;
                match self.attempt(Slot::Main(i)).await {
                    Some(id) => {
                        match self.spec.containers[i].readiness_delay {
                            Some(delay) if !delay.is_zero() => ready_at[i] = Some(clock.deadline(delay)),
                            _ => {}
                        }
                        let runtime = runtime.clone();
                        exits.push(async move {
                            let exit = runtime.wait_container(&id).await;
                            (i, id, exit)
                        });
                    }
                    None => due[i] = Some(clock.deadline(self.kubelets.config.sync_retry)),
                }
            }
            if self.pod.state.lock().phase() != "Pending" && due.iter().all(Option::is_none) && exits.is_empty() {
                return;
            }
            let next = due.iter().chain(&ready_at).flatten().min().copied();
            tokio::select! {
                Some((i, id, exit)) = exits.next(), if !exits.is_empty() => {
                    ready_at[i] = None;
                    self.record_exit(Slot::Main(i), &id, &exit);
                    let restart = match self.spec.restart_policy {
                        RestartPolicy::Always => true,
                        RestartPolicy::OnFailure => exit.exit_code != 0,
                        RestartPolicy::Never => false,
                    };
                    if restart {
                        due[i] = Some(clock.deadline(self.crash_wait(Slot::Main(i)).unwrap_or(Duration::ZERO)));
                    }
                }
                _ = sleep_until(next) => {
                    let now = Instant::now();
                    let became_ready: Vec<usize> =
                        (0..n).filter(|i| ready_at[*i].is_some_and(|at| at <= now)).collect();
                    for i in became_ready {
                        ready_at[i] = None;
                        self.update(|s| s.containers[i].ready = true);
                    }
                }
            }
        }
    }

    /// A container exited: record its termination.
    fn record_exit(&self, slot: Slot, id: &str, exit: &ContainerExit) {
        let finished_at = self.kubelets.clock.timestamp();
        self.update(|s| {
            let c = Self::container(s, slot);
            let started_at = match &c.state {
                ContainerState::Running { started_at } => started_at.clone(),
                _ => finished_at.clone(),
            };
            c.state = ContainerState::Terminated(Termination {
                exit_code: exit.exit_code,
                reason: exit.reason.clone(),
                started_at,
                finished_at,
                container_id: id.to_string(),
            });
            c.ready = false;
            c.started = false;
        });
    }

    /// How long a container that just exited must wait before its restart; while it waits it
    /// shows `CrashLoopBackOff`. The first restart is immediate, as with the kubelet.
    fn crash_wait(&mut self, slot: Slot) -> Option<Duration> {
        let name = self.name_of(slot).to_string();
        let now = self.kubelets.clock.now();
        let wait = self.crashes.remaining_since(&name, now, now);
        if let Some(wait) = wait {
            let message = format!(
                "back-off {}s restarting failed container={name} pod={}_{}({})",
                self.crashes.delay(&name).unwrap_or(wait).as_secs(),
                self.pod.key.name,
                self.pod.key.namespace,
                self.pod.uid
            );
            self.update(|s| {
                let c = Self::container(s, slot);
                if let ContainerState::Terminated(t) = &c.state {
                    c.last_termination = Some(t.clone());
                }
                c.state = ContainerState::Waiting { reason: "CrashLoopBackOff".into(), message: Some(message) };
            });
        }
        wait
    }

    fn name_of(&self, slot: Slot) -> &str {
        match slot {
            Slot::Init(i) => &self.spec.init[i].name,
            Slot::Main(i) => &self.spec.containers[i].name,
        }
    }

    /// Stops every running container, each within `grace`.
    async fn stop_containers(&mut self, grace: Duration) {
        let running: Vec<(Slot, String)> = {
            let state = self.pod.state.lock();
            let init = state.init.iter().enumerate().map(|(i, c)| (Slot::Init(i), c));
            let main = state.containers.iter().enumerate().map(|(i, c)| (Slot::Main(i), c));
            init.chain(main)
                .filter(|(_, c)| c.is_running())
                .filter_map(|(s, c)| c.container_id.clone().map(|id| (s, id)))
                .collect()
        };
        let runtime = self.node.runtime.clone();
        let exits = futures::future::join_all(running.iter().map(|(_, id)| runtime.stop_container(id, grace))).await;
        for ((slot, id), exit) in running.into_iter().zip(exits) {
            // A container the runtime no longer knows was killed with it.
            let exit = exit.unwrap_or_else(|_| ContainerExit::with_code(137));
            self.record_exit(slot, &id, &exit);
        }
    }

    /// Deletion: stop the containers within the grace period, then remove the pod object.
    async fn terminate(&mut self) {
        // A kubelet that does not work cannot stop anything: the pod stays Terminating.
        self.node.wait_ready().await;
        let grace = Duration::from_secs(self.pod.grace_seconds.load(Ordering::Relaxed).max(0).unsigned_abs());
        self.stop_containers(grace).await;
        // As the kubelet's status manager does: the final container states are written before
        // the pod object goes, so watchers see how each container ended.
        write_pod_status(&self.kubelets.store, &self.pod);
        // Nothing of the pod is left on the node when its object goes.
        self.release().await;
        let now = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(self.pod.uid.clone()),
            ..Default::default()
        };
        // Gone already, or replaced: either way nothing is left to delete.
        let _ = self.kubelets.store.delete(&PODS, &self.pod.key, &now);
    }

    /// Eviction: stop the containers and report the pod Failed.
    async fn fail(&mut self) {
        let grace = Duration::from_secs(self.pod.grace_seconds.load(Ordering::Relaxed).max(0).unsigned_abs());
        self.stop_containers(grace).await;
        let failure = self.pod.failure.lock().clone().unwrap_or_else(|| ("Evicted".into(), String::new()));
        self.update(|s| s.failed = Some(failure));
    }

    /// Removes the pod's containers and its sandbox (once).
    async fn release(&mut self) {
        for id in std::mem::take(&mut self.started) {
            self.node.runtime.remove_container(&id).await;
        }
        if self.sandbox.take().is_some() {
            self.node.runtime.remove_pod_sandbox(&self.pod.uid).await;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
