//! A token server for the registry's token authentication: checks Basic credentials and
//! issues ES256 JWTs granting pull on the requested repository, signed with a key whose
//! self-signed certificate the registry trusts (`rootcertbundle`) and carried in `x5c`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::{require, run};

pub const SERVICE: &str = "kip-test-registry";
pub const ISSUER: &str = "kip-test-issuer";

pub struct TokenServer {
    pub realm: String,
    pub certificate: PathBuf,
    state: Arc<Issuer>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Issuer {
    key: EcdsaKeyPair,
    certificate_der: Vec<u8>,
    expected_authorization: String,
    issued: AtomicU64,
}

impl TokenServer {
    pub async fn start(dir: &Path, username: &str, password: &str) -> TokenServer {
        let key_path = dir.join("token-key.pem");
        let certificate = dir.join("token-cert.pem");
        run(Command::new(require("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=kip-test-token-issuer",
                "-keyout",
            ])
            .arg(&key_path)
            .arg("-out")
            .arg(&certificate));
        let key_der = pem_body(&key_path, "PRIVATE KEY");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key_der, &SystemRandom::new())
            .unwrap_or_else(|e| panic!("token signing key: {e}"));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let state = Arc::new(Issuer {
            key,
            certificate_der: pem_body(&certificate, "CERTIFICATE"),
            expected_authorization: format!("Basic {basic}"),
            issued: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let app = axum::Router::new().route("/token", axum::routing::get(issue)).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenServer { realm: format!("http://{address}/token"), certificate, state, task }
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> u64 {
        self.state.issued.load(Ordering::Relaxed)
    }
}

fn pem_body(path: &Path, label: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body: String = text
        .split(&begin)
        .nth(1)
        .and_then(|rest| rest.split(&end).next())
        .unwrap_or_else(|| panic!("{} has no {label}", path.display()))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_else(|e| panic!("{e}"))
}

async fn issue(
    State(issuer): State<Arc<Issuer>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if authorization != issuer.expected_authorization {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    if query.get("service").map(String::as_str) != Some(SERVICE) {
        return (StatusCode::BAD_REQUEST, "wrong service").into_response();
    }
    // scope = repository:<name>:<actions>
    let Some(repository) = query
        .get("scope")
        .and_then(|scope| scope.strip_prefix("repository:"))
        .and_then(|rest| rest.rsplit_once(':'))
        .map(|(name, _)| name.to_owned())
    else {
        return (StatusCode::BAD_REQUEST, "no repository scope").into_response();
    };
    let serial = issuer.issued.fetch_add(1, Ordering::Relaxed);
    let now = jiff::Timestamp::now().as_second();
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [base64::engine::general_purpose::STANDARD.encode(&issuer.certificate_der)]});
    let claims = json!({
        "iss": ISSUER,
        "sub": "kip",
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{serial}"),
        "access": [{"type": "repository", "name": repository, "actions": ["pull"]}],
    });
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!("{}.{}", url.encode(header.to_string()), url.encode(claims.to_string()));
    let signature = match issuer.key.sign(&SystemRandom::new(), signing_input.as_bytes()) {
        Ok(signature) => signature,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "signing failed").into_response(),
    };
    let token = format!("{signing_input}.{}", url.encode(signature.as_ref()));
    axum::Json(json!({"token": token, "expires_in": 300})).into_response()
}
