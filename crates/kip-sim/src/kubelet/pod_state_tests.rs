use super::*;
use serde_json::json;

fn state(pod: Value) -> PodState {
    PodState::new(&PodSpecModel::parse(&pod), "10.64.0.1")
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap()
}

fn running(c: &mut ContainerStatus, ready: bool) {
    c.state = ContainerState::Running { started_at: "t1".into() };
    c.ready = ready;
    c.started = true;
}

fn terminated(code: i32) -> ContainerState {
    ContainerState::Terminated(Termination {
        exit_code: code,
        reason: if code == 0 { "Completed".into() } else { "Error".into() },
        started_at: "t1".into(),
        finished_at: "t2".into(),
        container_id: "c".into(),
    })
}

#[test]
fn a_new_pod_waits_with_the_kubelet_default_reasons() {
    let mut s = state(
        json!({"spec": {"initContainers": [{"name": "i", "image": "x"}], "containers": [{"name": "c", "image": "y"}]}}),
    );
    s.settle("t0");
    let status = s.render();
    assert_eq!(status["phase"], "Pending");
    assert_eq!(status["initContainerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");
    assert_eq!(status["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");
    assert_eq!(condition(&status, "Initialized")["message"], "containers with incomplete status: [i]");
    assert_eq!(condition(&status, "PodScheduled")["status"], "True");
    let kinds: Vec<&str> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
    let plain = state(json!({"spec": {"containers": [{"name": "c", "image": "y"}]}}));
    assert_eq!(
        plain.containers[0].state,
        ContainerState::Waiting { reason: "ContainerCreating".into(), message: None }
    );
}

#[test]
fn phases_follow_container_states_and_restart_policy() {
    type Setup = fn(&mut PodState);
    let cases: [(&str, &str, Setup, &str); 7] = [
        ("Always", "all running", |s| s.containers.iter_mut().for_each(|c| running(c, true)), "Running"),
        ("Always", "one still waiting", |s| running(&mut s.containers[0], true), "Pending"),
        ("Always", "all exited", |s| s.containers.iter_mut().for_each(|c| c.state = terminated(0)), "Running"),
        ("Never", "all exited 0", |s| s.containers.iter_mut().for_each(|c| c.state = terminated(0)), "Succeeded"),
        (
            "Never",
            "one failed",
            |s| {
                s.containers[0].state = terminated(0);
                s.containers[1].state = terminated(1);
            },
            "Failed",
        ),
        (
            "OnFailure",
            "one failed",
            |s| {
                s.containers[0].state = terminated(0);
                s.containers[1].state = terminated(1);
            },
            "Running",
        ),
        (
            "Always",
            "crash looping",
            |s| {
                running(&mut s.containers[0], true);
                s.containers[1].last_termination = Some(Termination {
                    exit_code: 1,
                    reason: "Error".into(),
                    started_at: "a".into(),
                    finished_at: "b".into(),
                    container_id: "c".into(),
                });
                s.containers[1].state = ContainerState::Waiting { reason: "CrashLoopBackOff".into(), message: None };
            },
            "Running",
        ),
    ];
    for (policy, name, setup, expected) in cases {
        let mut s = state(
            json!({"spec": {"restartPolicy": policy, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}}),
        );
        setup(&mut s);
        s.settle("t");
        assert_eq!(s.phase(), expected, "{policy}: {name}");
    }
}

#[test]
fn ready_conditions_move_only_on_change() {
    let mut s = state(json!({"spec": {"containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "x"}]}}));
    s.sandbox_ready = true;
    s.settle("t0");
    assert_eq!(condition(&s.render(), "Ready")["message"], "containers with unready status: [b a]");
    s.containers.iter_mut().for_each(|c| running(c, true));
    s.settle("t1");
    s.settle("t2");
    let status = s.render();
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "Ready")["lastTransitionTime"], "t1");
    assert_eq!(condition(&status, "PodReadyToStartContainers")["lastTransitionTime"], "t0");
    assert_eq!(status["containerStatuses"][0]["name"], "a", "container statuses are sorted by name");
    s.node_not_ready = true;
    s.settle("t3");
    let status = s.render();
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert_eq!(condition(&status, "Ready")["reason"], "NodeNotReady");
    assert_eq!(condition(&status, "ContainersReady")["status"], "True");
}

#[test]
fn pulled_containers_report_runtime_names() {
    let mut s = state(json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}));
    s.pod_ip = Some("100.64.0.2".into());
    s.start_time = Some("t0".into());
    let c = &mut s.containers[0];
    c.image = Some("docker.io/library/nginx:latest".into());
    c.image_id = Some("docker.io/library/nginx@sha256:abc".into());
    c.container_id = Some("0123".into());
    running(c, true);
    s.settle("t1");
    let status = s.render();
    let c = &status["containerStatuses"][0];
    assert_eq!(c["imageID"], "docker.io/library/nginx@sha256:abc");
    assert_eq!(c["containerID"], "containerd://0123");
    assert_eq!(c["state"]["running"]["startedAt"], "t1");
    assert_eq!(status["podIPs"][0]["ip"], "100.64.0.2");
    assert_eq!(status["qosClass"], "BestEffort");
    assert_eq!(s.image_ids().collect::<Vec<_>>(), vec!["docker.io/library/nginx@sha256:abc"]);
}
