//! The operator's health and metrics endpoints.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::operator::telemetry::{OperatorHealth, OperatorMetrics};
use crate::telemetry::server::router;

async fn get(app: Router, path: &str) -> (StatusCode, String) {
    let response = app.oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).to_string())
}

#[tokio::test]
async fn ready_when_the_api_answers_and_the_leader_has_its_list() {
    let health = OperatorHealth::default();
    let app = router(health.clone(), OperatorMetrics::new());
    let (status, body) = get(app.clone(), "/readyz").await;
    assert_eq!((status, body.contains("API")), (StatusCode::SERVICE_UNAVAILABLE, true), "{body}");
    health.set_api_reachable(true);
    assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK, "a standby is ready");
    health.set_leading(true);
    let (status, body) = get(app.clone(), "/readyz").await;
    assert_eq!((status, body.contains("not loaded")), (StatusCode::SERVICE_UNAVAILABLE, true), "{body}");
    health.set_cache_ready(true);
    assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK);
    health.set_leading(false);
    health.set_leading(true);
    assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE, "a new term loads again");
    assert_eq!(get(app, "/healthz").await, (StatusCode::OK, "ok".to_string()));
}

#[tokio::test]
async fn metrics_carry_the_prefix_and_bounded_labels() {
    let metrics = OperatorMetrics::new();
    metrics.count_reconcile(None);
    metrics.count_reconcile(Some("forbidden"));
    metrics.observe_duration(std::time::Instant::now());
    metrics.leader.set(1);
    let (status, text) = get(router(OperatorHealth::default(), metrics), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "kip_operator_reconciles_total{result=\"Ok\",category=\"none\"} 1",
        "kip_operator_reconciles_total{result=\"Error\",category=\"forbidden\"} 1",
        "kip_operator_reconcile_duration_seconds_count 1",
        "kip_operator_leader 1",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}
