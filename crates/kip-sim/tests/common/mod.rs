//! Helpers shared by the integration tests: a started simulator, clients, raw HTTP requests.
#![allow(dead_code)]
// Test helpers: a failure here is a test failure.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;

use http::{HeaderMap, Method, StatusCode};
use k8s_openapi::api::core::v1::ConfigMap;
use kip_sim::{Sim, SimOptions};
use kube::api::ObjectMeta;
use serde_json::Value;

/// The API server alone (no nodes, kubelets or workload controllers writing behind the tests).
pub fn start() -> Sim {
    start_with(|_| {})
}

pub fn start_with(change: impl FnOnce(&mut SimOptions)) -> Sim {
    let mut options = SimOptions { controllers: false, ..SimOptions::default() };
    change(&mut options);
    Sim::start(options).expect("the simulator starts")
}

/// A client that does not retry 429/503/504, to see the server's answers as they are.
pub fn client_without_retries(sim: &Sim) -> kube::Client {
    let mut config = kube::Config::new(sim.url().parse().expect("url"));
    config.default_namespace = "default".into();
    config.default_retry = false;
    kube::Client::try_from(config).expect("client")
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The lines of a watch stream, each parsed.
    pub fn events(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("event is not JSON ({e}): {l}")))
            .collect()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A raw request through a non-retrying client; the whole body is read.
pub async fn raw(client: &kube::Client, method: Method, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let response = send(client, method, path, headers, body).await;
    let (parts, body) = response.into_parts();
    Answer { status: parts.status, headers: parts.headers, body: body.collect_bytes().await.expect("body") }
}

pub async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response<kube::client::Body> {
    let mut request = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(kube::client::Body::from(body.to_vec())).expect("request");
    client.send(request).await.expect("the request is answered")
}

pub async fn get(client: &kube::Client, path: &str) -> Answer {
    raw(client, Method::GET, path, &[], b"").await
}

pub fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
                .filter(|l| !l.is_empty()),
            ..ObjectMeta::default()
        },
        data: Some([("key".to_string(), "value".to_string())].into()),
        ..ConfigMap::default()
    }
}

/// The status code and reason of a kube-rs API error.
pub fn api_error(err: kube::Error) -> (u16, String, Box<kube::core::Status>) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone(), status),
        other => panic!("expected an API error, got {other:?}"),
    }
}
