//! Errors: sorted by what to do about them.

use std::time::Duration;

use kube::core::Status;

use crate::operator::error::{Error, retry_delay};

fn api(code: u16) -> Error {
    Error::api(
        "applying ConfigMap k8s-image-puller",
        kube::Error::Api(Box::new(Status::failure("x", "Reason").with_code(code))),
    )
}

#[test]
fn categories_decide_the_retry() {
    let cases = [
        (api(403), "forbidden", false),
        (api(422), "rejected", false),
        (api(409), "conflict", true),
        (api(429), "throttled", true),
        (api(500), "api", true),
        (Error::Incomplete("x".into(), "uid"), "incomplete", false),
    ];
    for (error, category, transient) in cases {
        assert_eq!((error.category(), error.is_transient()), (category, transient), "{error}");
    }
    assert!(api(403).to_string().starts_with("applying ConfigMap k8s-image-puller failed: "));
}

#[test]
fn transient_errors_back_off_to_a_minute() {
    let delays: Vec<u64> = (1..=8).map(|n| retry_delay(n, true).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(retry_delay(u32::MAX, true), Duration::from_secs(60));
    assert_eq!(retry_delay(1, false), Duration::from_secs(300));
}
