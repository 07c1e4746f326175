//! One resource per namespace: which one is in force.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::operator::singleton::primary;

fn meta(name: &str, created: &str, deleting: bool) -> ObjectMeta {
    let time = |text: &str| Time(text.parse::<Timestamp>().expect("timestamp"));
    ObjectMeta {
        name: Some(name.to_string()),
        creation_timestamp: Some(time(created)),
        deletion_timestamp: deleting.then(|| time("2026-01-02T00:00:00Z")),
        ..ObjectMeta::default()
    }
}

#[test]
fn the_oldest_live_resource_is_in_force() {
    let cases: [(&str, Vec<ObjectMeta>, Option<&str>); 5] = [
        ("none", vec![], None),
        ("alone", vec![meta("a", "2026-01-01T10:00:00Z", false)], Some("a")),
        (
            "older wins whatever the name",
            vec![meta("a", "2026-01-01T10:00:05Z", false), meta("z", "2026-01-01T10:00:00Z", false)],
            Some("z"),
        ),
        (
            "same second: the name decides",
            vec![meta("b", "2026-01-01T10:00:00Z", false), meta("a", "2026-01-01T10:00:00Z", false)],
            Some("a"),
        ),
        (
            "one being deleted hands over",
            vec![meta("old", "2026-01-01T09:00:00Z", true), meta("new", "2026-01-01T10:00:00Z", false)],
            Some("new"),
        ),
    ];
    for (case, metas, expected) in cases {
        assert_eq!(primary(metas.iter()), expected, "{case}");
    }
}
