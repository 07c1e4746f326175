//! Aggregating "nodes became fully cached" into few events.

use super::*;

fn report(selected: usize, cached: &[&str]) -> CacheReport {
    CacheReport {
        nodes: (1..=selected).map(|i| format!("node-{i}")).collect(),
        images: Vec::new(),
        fully_cached: cached.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn the_first_report_announces_what_is_cached_already() {
    let mut announcer = Announcer::default();
    let now = Instant::now();
    assert_eq!(announcer.observe(&report(2, &[]), now), None, "nothing cached: no news");
    let note = announcer.observe(&report(2, &["node-1"]), now).expect("an event");
    assert_eq!(note, "1 node holds every cached image now: node-1 (1 of 2 selected nodes are fully cached)");
    let mut restarted = Announcer::default();
    let note = restarted.observe(&report(2, &["node-1", "node-2"]), now).expect("one event for both");
    assert!(note.starts_with("2 nodes hold every cached image now: node-1, node-2"), "{note}");
}

#[test]
fn news_within_the_spacing_waits_and_is_sent_together() {
    let mut announcer = Announcer::default();
    let start = Instant::now();
    announcer.observe(&report(8, &[]), start);
    assert!(announcer.observe(&report(8, &["node-1"]), start).is_some());
    let soon = start + Duration::from_secs(1);
    assert_eq!(announcer.observe(&report(8, &["node-1", "node-2"]), soon), None, "rate-limited");
    let all: Vec<String> = (1..=8).map(|i| format!("node-{i}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(announcer.observe(&report(8, &all), soon), None);
    let later = start + EVENT_SPACING;
    let note = announcer.observe(&report(8, &all), later).expect("one event for the seven");
    assert_eq!(
        note,
        "7 nodes hold every cached image now: node-2, node-3, node-4, node-5, node-6 and 2 more \
         (8 of 8 selected nodes are fully cached)"
    );
    assert_eq!(announcer.observe(&report(8, &all), later + EVENT_SPACING), None, "nothing new");
}

#[test]
fn a_node_that_lost_an_image_again_is_not_announced() {
    let mut announcer = Announcer::default();
    let start = Instant::now();
    announcer.observe(&report(2, &[]), start);
    announcer.observe(&report(2, &["node-1"]), start);
    announcer.observe(&report(2, &["node-1", "node-2"]), start);
    let later = start + EVENT_SPACING;
    assert_eq!(announcer.observe(&report(2, &["node-1"]), later), None, "node-2 is no longer fully cached");
}

#[test]
fn only_a_refusal_means_forbidden() {
    let status = |code: u16| kube::core::Status::failure("no", "Forbidden").with_code(code);
    let api = |code: u16| kube::Error::Api(Box::new(status(code)));
    assert!(forbidden(&watcher::Error::InitialListFailed(api(403))));
    assert!(forbidden(&watcher::Error::WatchStartFailed(api(403))));
    assert!(forbidden(&watcher::Error::WatchError(Box::new(status(403)))));
    assert!(!forbidden(&watcher::Error::InitialListFailed(api(500))));
    assert!(!forbidden(&watcher::Error::WatchError(Box::new(status(410)))));
    assert!(!forbidden(&watcher::Error::NoResourceVersion));
}
