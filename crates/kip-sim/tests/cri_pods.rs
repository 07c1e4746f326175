//! A kip caching pod run for real by containerd through the CRI, as a kubelet would run it: a
//! host-network sandbox; the init container copies the static `kip-sleep` from the kip image
//! stand-in into the pod's emptyDir (a host directory); a container of a `FROM scratch` image
//! with no shell runs `/kip/sleep 720h` from it, and stops on SIGTERM with exit code 0.
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`.

// Test helpers outside #[test] functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use kip_sim::cri::harness::RealRuntime;
use kip_sim::cri::oci::{ImageBuilder, KIP_SLEEP_PATH};
use kip_sim::cri::{
    ContainerFilter, ContainerPhase, ContainerSpec, CriError, HostMount, Resources, SandboxSpec, SeccompProfile,
};

/// The uid and gid the DaemonSet's init container runs as, and the pod's fsGroup.
const NONROOT: i64 = 65532;
const WAIT: Duration = Duration::from_secs(60);

/// The stack for one test, or `None` (and a note) if the real-runtime tests are off. A stack
/// that cannot start fails the test with the scripts' own words.
fn start(test: &str) -> Option<RealRuntime> {
    RealRuntime::start_if_enabled(test).unwrap_or_else(|error| panic!("{error}"))
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The emptyDir `kip` as a kubelet prepares it for `fsGroup: 65532`: group-owned, setgid.
fn empty_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(0), Some(NONROOT as u32)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o2775)).unwrap();
}

/// The container settings every container of the DaemonSet has.
fn locked_down(name: &str, image: &str, volume: &Path) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        image: image.into(),
        mounts: vec![HostMount { host_path: volume.to_path_buf(), container_path: "/kip".into(), read_only: false }],
        supplemental_groups: vec![NONROOT],
        read_only_root_fs: true,
        drop_capabilities: vec!["ALL".into()],
        no_new_privileges: true,
        seccomp: SeccompProfile::RuntimeDefault,
        resources: Resources {
            cpu_request_millis: Some(50),
            cpu_limit_millis: Some(200),
            memory_limit_bytes: Some(20 << 20),
        },
        ..Default::default()
    }
}

fn sandbox_spec(runtime: &RealRuntime, uid: &str) -> SandboxSpec {
    SandboxSpec {
        name: format!("kubernetes-image-puller-{uid}"),
        namespace: "k8s-image-puller".into(),
        uid: uid.into(),
        log_directory: Some(runtime.dir().join("pods").join(uid)),
        labels: BTreeMap::from([("app.kubernetes.io/name".into(), "image-puller".into())]),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_caching_pod_copies_sleep_runs_it_from_a_scratch_image_and_stops_on_sigterm() {
    let test = "the_caching_pod_copies_sleep_runs_it_from_a_scratch_image_and_stops_on_sigterm";
    let Some(runtime) = start(test) else {
        return;
    };
    let kip_sleep = std::fs::read(runtime.kip_sleep_binary()).unwrap();
    let registry = runtime.open_registry();
    registry.push("kip/puller", "next", &ImageBuilder::kip_stand_in(kip_sleep.clone()).build().unwrap()).await.unwrap();
    let cached = ImageBuilder::data_only("an image with nothing to run").build().unwrap();
    let cached_digest = registry.push("kip/cached", "1", &cached).await.unwrap();
    let kip_image = format!("{}/kip/puller:next", runtime.registry());
    let cached_image = format!("{}/kip/cached:1", runtime.registry());
    let cri = runtime.client().await.unwrap();

    for image in [&kip_image, &cached_image] {
        let started = Instant::now();
        cri.pull_image(image, None).await.unwrap();
        note(&format!("pull {image}: {:?}", started.elapsed()));
    }
    let volume = runtime.dir().join("volumes/uid-1/kip");
    empty_dir(&volume);
    let started = Instant::now();
    let sandbox = cri.run_pod_sandbox(&sandbox_spec(&runtime, "uid-1")).await.unwrap();
    note(&format!("run sandbox: {:?}", started.elapsed()));

    // The init container, as non-root, copies the binary into the shared volume.
    let init = ContainerSpec {
        command: vec![KIP_SLEEP_PATH.into()],
        args: vec!["--copy-to".into(), "/kip/sleep".into()],
        run_as_user: Some(NONROOT),
        run_as_group: Some(NONROOT),
        ..locked_down("copy-sleep", &kip_image, &volume)
    };
    let init_id = cri.run_container(&sandbox, &init).await.unwrap();
    let copied = cri.wait_for_phase(&init_id, ContainerPhase::Exited, WAIT).await.unwrap();
    assert_eq!((copied.exit_code, copied.reason.as_str()), (0, "Completed"), "{copied:?}");
    let sleep = volume.join("sleep");
    assert_eq!(std::fs::read(&sleep).unwrap(), kip_sleep, "the copy is the binary itself");
    assert_eq!(std::fs::metadata(&sleep).unwrap().permissions().mode() & 0o7777, 0o755);

    // The caching container: a scratch image with no shell runs the copied sleep.
    let caching = ContainerSpec {
        command: vec!["/kip/sleep".into()],
        args: vec!["720h".into()],
        ..locked_down("cached", &cached_image, &volume)
    };
    let started = Instant::now();
    let caching_id = cri.run_container(&sandbox, &caching).await.unwrap();
    let running = cri.wait_for_phase(&caching_id, ContainerPhase::Running, WAIT).await.unwrap();
    note(&format!("create + start of the caching container until running: {:?}", started.elapsed()));
    assert_eq!(running.name, "cached");
    assert_eq!(running.image_ref, format!("{}/kip/cached@{cached_digest}", runtime.registry()));
    assert!(running.started_at.is_some());

    let this_pod = ContainerFilter { sandbox_id: Some(sandbox.id.clone()), ..Default::default() };
    let mut in_pod: Vec<_> =
        cri.list_containers(&this_pod).await.unwrap().into_iter().map(|c| (c.name, c.phase)).collect();
    in_pod.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(in_pod, [("cached".into(), ContainerPhase::Running), ("copy-sleep".into(), ContainerPhase::Exited)]);
    let running_only = ContainerFilter { phase: Some(ContainerPhase::Running), ..Default::default() };
    let running_ids: Vec<_> = cri.list_containers(&running_only).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(running_ids, std::slice::from_ref(&caching_id));

    // A long grace period: exit code 0 shows that SIGTERM ended it, not the SIGKILL after it.
    let started = Instant::now();
    cri.stop_container(&caching_id, Duration::from_secs(30)).await.unwrap();
    note(&format!("stop of the caching container (SIGTERM): {:?}", started.elapsed()));
    let stopped = cri.container_status(&caching_id).await.unwrap();
    assert_eq!((stopped.phase, stopped.exit_code, stopped.reason.as_str()), (ContainerPhase::Exited, 0, "Completed"));

    for id in [&caching_id, &init_id] {
        cri.remove_container(id).await.unwrap();
        let error = cri.container_status(id).await.unwrap_err();
        assert!(error.is_not_found(), "{error}");
    }
    cri.stop_pod_sandbox(&sandbox.id).await.unwrap();
    cri.remove_pod_sandbox(&sandbox.id).await.unwrap();
    cri.remove_pod_sandbox(&sandbox.id).await.unwrap();
    assert_eq!(cri.list_containers(&this_pod).await.unwrap(), []);
}

#[tokio::test]
async fn a_command_the_image_lacks_fails_the_start_with_the_runtime_reason() {
    let Some(runtime) = start("a_command_the_image_lacks_fails_the_start_with_the_runtime_reason") else {
        return;
    };
    runtime.open_registry().push("kip/cached", "1", &ImageBuilder::data_only("x").build().unwrap()).await.unwrap();
    let image = format!("{}/kip/cached:1", runtime.registry());
    let cri = runtime.client().await.unwrap();
    cri.pull_image(&image, None).await.unwrap();
    let volume = runtime.dir().join("volumes/uid-2/kip");
    empty_dir(&volume);
    let sandbox = cri.run_pod_sandbox(&sandbox_spec(&runtime, "uid-2")).await.unwrap();

    // The init container never ran: /kip is empty, and a scratch image has no sleep of its own.
    let spec = ContainerSpec {
        command: vec!["/kip/sleep".into()],
        args: vec!["720h".into()],
        ..locked_down("cached", &image, &volume)
    };
    let error = cri.run_container(&sandbox, &spec).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CriError::Call { method: "StartContainer", .. }), "{error:?}");
    assert!(text.contains("/kip/sleep") && text.contains("no such file or directory"), "{text}");
}
