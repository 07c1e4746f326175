use super::*;
use crate::kubelet::pod_spec::PodSpecModel;

fn image(id: &str, size: u64) -> ImageInfo {
    ImageInfo { id: id.to_string(), tags: vec![format!("{id}:tag")], size_bytes: size }
}

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn policy() -> GcPolicy {
    GcPolicy { high_percent: 85, low_percent: 80, minimum_age: Duration::ZERO }
}

#[test]
fn nothing_is_removed_below_the_high_threshold() {
    let images = [image("a", 40), image("b", 44)];
    let removed = images_to_remove(&images, &HashSet::new(), &ImageUsage::default(), 100, &policy(), at(0));
    assert!(removed.is_empty(), "84% is below 85%");
    let images = [image("a", 40), image("b", 45)];
    let removed = images_to_remove(&images, &HashSet::new(), &ImageUsage::default(), 100, &policy(), at(0));
    assert_eq!(removed, ["a"], "85% reaches the threshold: collect until at most 80% (ids break ties)");
}

#[test]
fn usage_is_counted_from_free_space_as_the_kubelet_does() {
    // (used, capacity, at or above 85%, free space under 15%)
    let cases = [
        (840, 1000, false, false),
        // 16% free rounds down to 15%: the kubelet sees 85% used; the eviction manager, which
        // compares exact amounts, sees no pressure.
        (841, 1000, true, false),
        (850, 1000, true, false),
        (851, 1000, true, true),
        (1000, 1000, true, true),
        (0, 0, false, false),
    ];
    for (used, capacity, collect, pressure) in cases {
        assert_eq!(above_high_threshold(used, capacity, 85), collect, "{used}/{capacity} collect");
        assert_eq!(under_disk_pressure(used, capacity, 15), pressure, "{used}/{capacity} pressure");
    }
}

#[test]
fn under_disk_pressure_every_unused_image_goes() {
    let images = [image("in-use", 50), image("old", 10), image("older", 10), image("recent", 10), image("young", 10)];
    let mut usage = ImageUsage::default();
    usage.used("older", at(1));
    usage.used("old", at(2));
    usage.used("recent", at(3));
    usage.seen("young", at(99));
    let in_use: HashSet<String> = ["in-use".to_string()].into();
    let p = GcPolicy { minimum_age: Duration::from_secs(10), ..policy() };
    assert_eq!(unused_images(&images, &in_use, &usage, &p, at(100)), ["older", "old", "recent"], "not only to 80%");
}

#[test]
fn unused_images_go_least_recently_used_first_down_to_the_low_threshold() {
    let images = [image("in-use", 66), image("old", 8), image("older", 8), image("recent", 8)];
    let mut usage = ImageUsage::default();
    usage.used("older", at(1));
    usage.used("old", at(2));
    usage.used("recent", at(3));
    let in_use: HashSet<String> = ["in-use".to_string()].into();
    let removed = images_to_remove(&images, &in_use, &usage, 100, &policy(), at(10));
    assert_eq!(removed, ["older", "old"], "90 used: remove until at most 80, in-use image kept");
}

#[test]
fn images_in_use_are_never_removed_even_if_that_leaves_usage_high() {
    let images = [image("a", 50), image("b", 45)];
    let in_use: HashSet<String> = ["a".to_string(), "b".to_string()].into();
    assert!(images_to_remove(&images, &in_use, &ImageUsage::default(), 100, &policy(), at(0)).is_empty());
}

#[test]
fn young_images_are_kept() {
    let images = [image("new", 50), image("old", 45)];
    let mut usage = ImageUsage::default();
    usage.seen("old", at(0));
    usage.seen("new", at(100));
    let p = GcPolicy { minimum_age: Duration::from_secs(120), ..policy() };
    assert_eq!(images_to_remove(&images, &HashSet::new(), &usage, 100, &p, at(150)), ["old"]);
}

#[test]
fn images_of_every_container_of_a_pod_count_as_in_use() {
    let pod = serde_json::json!({"spec": {"initContainers": [{"name": "i", "image": "x"}], "containers": [{"name": "c", "image": "y"}, {"name": "d", "image": "z"}]}});
    let mut state = PodState::new(&PodSpecModel::parse(&pod), "10.0.0.1");
    state.init[0].image_id = Some("init@sha256:1".into());
    state.containers[0].image_id = Some("main@sha256:2".into());
    let used = images_in_use([&state]);
    assert_eq!(used, ["init@sha256:1".to_string(), "main@sha256:2".to_string()].into());
}

#[test]
fn image_volumes_count_as_in_use_while_the_runtime_has_the_pods_containers() {
    let pod = serde_json::json!({"spec": {
        "containers": [{"name": "keeper", "image": "kip", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "image": {"reference": "data:1"}}]}});
    let mut state = PodState::new(&PodSpecModel::parse(&pod), "10.0.0.1");
    assert!(images_in_use([&state]).is_empty(), "nothing pulled yet");
    state.containers[0].image_id = Some("kip@sha256:1".into());
    state.volume_images[0].1 = Some("data@sha256:2".into());
    assert_eq!(images_in_use([&state]), ["kip@sha256:1".to_string(), "data@sha256:2".to_string()].into());
    state.containers_removed = true;
    assert!(images_in_use([&state]).is_empty(), "a pod whose containers are gone holds nothing");
}

#[test]
fn node_status_lists_the_largest_fifty() {
    let images: Vec<ImageInfo> = (0..60).map(|i| image(&format!("img{i:02}"), i)).collect();
    let list = node_status_images(&images, 50);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 50);
    assert_eq!(list[0]["sizeBytes"], 59);
    assert_eq!(list[49]["sizeBytes"], 10);
    assert_eq!(list[0]["names"], serde_json::json!(["img59", "img59:tag"]));
}
