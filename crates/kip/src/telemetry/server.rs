//! The HTTP endpoints: `/healthz` (the process serves), `/readyz` (see [`Health`]) and
//! `/metrics` (OpenMetrics text).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use super::{Health, Metrics};

#[derive(Clone)]
struct Endpoints {
    health: Health,
    metrics: Metrics,
}

pub fn router(health: Health, metrics: Metrics) -> Router {
    router_with(health, metrics, Router::new())
}

/// [`router`] plus the caller's own routes (the puller's `POST /refresh`).
pub fn router_with(health: Health, metrics: Metrics, extra: Router) -> Router {
    extra.merge(common_routes(health, metrics))
}

fn common_routes(health: Health, metrics: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Endpoints { health, metrics })
}

async fn readyz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    match endpoints.health.not_ready_reason() {
        None => (StatusCode::OK, "ok".to_string()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")),
    }
}

async fn metrics_text(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], endpoints.metrics.encode())
}

/// Serves until `shutdown` fires. Returns the bound address through `bound` (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    serve_with(addr, router(health, metrics), shutdown).await
}

/// Serves `app` (see [`router_with`]) until `shutdown` fires.
pub async fn serve_with(
    addr: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_text(app: Router, path: &str) -> (StatusCode, String) {
        let response = app.oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    #[tokio::test]
    async fn readyz_follows_health() {
        let health = Health::new();
        let app = router(health.clone(), Metrics::new());
        let (status, body) = get_text(app.clone(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("API"), "{body}");
        health.set_api_reachable(true);
        health.set_config_valid(true);
        health.set_daemonset_applied(true);
        assert_eq!(get_text(app.clone(), "/readyz").await.0, StatusCode::OK);
        assert_eq!(get_text(app, "/healthz").await, (StatusCode::OK, "ok".to_string()));
    }

    #[tokio::test]
    async fn metrics_are_served() {
        let metrics = Metrics::new();
        metrics.images_configured.set(2);
        let (status, body) = get_text(router(Health::new(), metrics), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("kip_images_configured 2"));
    }
}
