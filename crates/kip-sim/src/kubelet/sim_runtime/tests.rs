use super::*;
use crate::cluster::counters::Counters;

fn runtime(catalog: Arc<ImageCatalog>, counters: &Counters) -> SimRuntime {
    let timings = SimTimings { start: Duration::ZERO, stop: Duration::ZERO, short_run: Duration::ZERO };
    SimRuntime::new("node-1", catalog, SimClock::new(1000.0), counters.node("node-1"), 1 << 30, timings)
}

#[tokio::test]
async fn pulls_download_only_new_content() {
    let catalog = Arc::new(ImageCatalog::new(1000, Duration::ZERO));
    let counters = Counters::default();
    let rt = runtime(catalog.clone(), &counters);
    catalog.publish_image("app:1", "aaaa", 100);
    let first = rt.pull_image("app:1", &[]).await.expect("pull");
    assert_eq!(first.id, "docker.io/library/app@sha256:aaaa");
    assert_eq!(first.tags, vec!["docker.io/library/app:1".to_string()]);
    rt.pull_image("app:1", &[]).await.expect("pull again");
    let c = counters.total();
    assert_eq!((c.manifest_requests, c.pulls, c.bytes_pulled), (2, 1, 100), "same digest: no second download");

    catalog.publish_image("app:1", "bbbb", 200);
    let moved = rt.pull_image("app:1", &[]).await.expect("new content");
    assert_eq!(moved.id, "docker.io/library/app@sha256:bbbb");
    let c = counters.total();
    assert_eq!((c.manifest_requests, c.pulls, c.bytes_pulled), (3, 2, 300));
    let images = rt.list_images().await;
    let old = images.iter().find(|i| i.id.ends_with("aaaa")).expect("old content stays");
    assert!(old.tags.is_empty(), "the tag moved to the new content");
    assert_eq!(rt.image_status("app:1").await.map(|i| i.id), Some(moved.id.clone()));
    assert_eq!(rt.image_status("app@sha256:aaaa").await.map(|i| i.size_bytes), Some(100));
}

#[tokio::test]
async fn registry_faults_become_cri_errors() {
    let catalog = Arc::new(ImageCatalog::new(1000, Duration::ZERO));
    let counters = Counters::default();
    let rt = runtime(catalog.clone(), &counters);
    catalog.set_image_missing("gone:1");
    catalog.set_image_unauthorized("private:1");
    let missing = rt.pull_image("gone:1", &[]).await.expect_err("missing");
    assert!(
        missing.to_string().starts_with("rpc error: code = NotFound desc = failed to pull and unpack image"),
        "{missing}"
    );
    let denied = rt.pull_image("private:1", &[]).await.expect_err("unauthorized");
    assert!(denied.to_string().contains("pull access denied"), "{denied}");
    assert_eq!(counters.total().pulls, 0);
    assert!(rt.list_images().await.is_empty());
}

#[tokio::test]
async fn containers_need_their_image_and_exit_as_planned() {
    let catalog = Arc::new(ImageCatalog::new(10, Duration::ZERO));
    let counters = Counters::default();
    let rt = runtime(catalog, &counters);
    let mut config = ContainerConfig {
        pod_uid: "u".into(),
        name: "c".into(),
        image_id: "docker.io/library/x@sha256:none".into(),
        command: vec!["sh".into(), "-c".into(), "exit 2".into()],
        ..Default::default()
    };
    assert!(matches!(rt.start_container(&config).await, Err(RuntimeError::NoSuchImage(_))));
    config.image_id = rt.pull_image("x:1", &[]).await.expect("pull").id;
    let id = rt.start_container(&config).await.expect("start");
    assert_eq!(rt.wait_container(&id).await, ContainerExit { exit_code: 2, reason: "Error".into() });
    let second = rt.start_container(&config).await.expect("start again");
    assert_eq!(rt.stop_container(&id, Duration::from_secs(1)).await, Ok(ContainerExit::with_code(0)), "SIGTERM obeyed");
    assert!(matches!(rt.stop_container(&id, Duration::ZERO).await, Err(RuntimeError::NoSuchContainer(_))));
    assert_eq!(rt.stop_container(&second, Duration::ZERO).await, Ok(ContainerExit::with_code(137)), "no grace: killed");
    rt.remove_image(&config.image_id).await.expect("remove");
    assert!(rt.remove_image(&config.image_id).await.is_err());
}

#[tokio::test]
async fn containers_need_every_image_they_mount() {
    let catalog = Arc::new(ImageCatalog::new(10, Duration::ZERO));
    let counters = Counters::default();
    let rt = runtime(catalog, &counters);
    let image_id = rt.pull_image("keeper:1", &[]).await.expect("pull").id;
    let mut config = ContainerConfig {
        pod_uid: "u".into(),
        name: "keeper".into(),
        image_id,
        image_mounts: vec!["docker.io/library/data@sha256:gone".into()],
        ..Default::default()
    };
    match rt.start_container(&config).await {
        Err(RuntimeError::NoSuchImage(id)) => assert_eq!(id, "docker.io/library/data@sha256:gone"),
        other => panic!("a missing mounted image must stop the start, got {other:?}"),
    }
    config.image_mounts = vec![rt.pull_image("data:1", &[]).await.expect("pull").id];
    assert!(rt.start_container(&config).await.is_ok());
}
