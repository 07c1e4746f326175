//! The client's protocol logic against small scripted HTTP servers on 127.0.0.1: the GET
//! fallback, answers a healthy registry rarely gives (429, 5xx, bad digests, timeouts), and
//! the Bearer token flow's branches (anonymous tokens, reuse, expiry, refusal). Each server
//! plays a registry and its token endpoint and records what it was sent.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use base64::Engine as _;
use kip::registry::{
    BasicCredentials, Credentials, ErrorCategory, OCI_MANIFEST, RegistryClient, RegistryCredential, RegistryError,
    RegistryOptions, Resolved,
};
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
const PASSWORD: &str = "pr0tocol-Secret";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    authorization: String,
    accept: String,
    host: String,
}

fn seen_from(request: &Request) -> Seen {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Seen {
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        accept: header("accept"),
        host: header("host"),
    }
}

type Script = dyn Fn(&Seen, usize) -> Response + Send + Sync;

struct Server {
    host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves `script(request, index of the request)` on a free port.
    async fn start(script: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static) -> Server {
        let script: Arc<Script> = Arc::new(script);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let script = script.clone();
            let log = log.clone();
            async move {
                let entry = seen_from(&request);
                drop(request);
                let index = {
                    let mut log = log.lock();
                    log.push(entry.clone());
                    log.len() - 1
                };
                // Stands for a registry that accepted the connection and never answers.
                if entry.path.contains("/slow/") {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                script(&entry, index)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { host: address.to_string(), seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }

    fn client(&self) -> RegistryClient {
        client_with(&self.host, Duration::from_secs(10))
    }
}

fn client_with(host: &str, timeout: Duration) -> RegistryClient {
    let options = RegistryOptions {
        insecure_registries: [host.to_owned()].into(),
        request_timeout: timeout,
        ..RegistryOptions::default()
    };
    RegistryClient::new(options).unwrap_or_else(|e| panic!("{e}"))
}

fn respond(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_vec())).unwrap_or_else(|e| panic!("{e}"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Credentials for `host` as if read from a pull secret named `secret`.
fn credentials(entries: &[(&str, &str, &str)]) -> Credentials {
    let mut credentials = Credentials::anonymous();
    for (host, secret, password) in entries {
        let basic = Some(BasicCredentials::new("kip", *password));
        credentials.insert(host, RegistryCredential { source: format!("pull secret {secret:?}"), basic });
    }
    credentials
}

async fn resolve(client: &RegistryClient, image: &str, credentials: &Credentials) -> Result<Resolved, RegistryError> {
    client.resolve(image, credentials).await
}

#[tokio::test]
async fn falls_back_to_get_and_hashes_the_body_when_head_has_no_digest() {
    let server = Server::start(|seen, _| match seen.method {
        Method::HEAD => respond(200, &[("content-type", OCI_MANIFEST)], b""),
        _ => respond(200, &[("content-type", OCI_MANIFEST)], MANIFEST),
    })
    .await;
    let client = server.client();
    let resolved = resolve(&client, &format!("{}/app:v1", server.host), &Credentials::anonymous()).await;
    assert_eq!(resolved, Ok(Resolved { digest: sha256(MANIFEST), media_type: Some(OCI_MANIFEST.into()) }));
    let seen = server.seen();
    assert_eq!(seen.iter().map(|s| s.method.clone()).collect::<Vec<_>>(), [Method::HEAD, Method::GET]);
    assert!(seen.iter().all(|s| s.path == "/v2/app/manifests/v1"));
    for media_type in [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ] {
        assert!(seen.iter().all(|s| s.accept.contains(media_type)), "Accept lacks {media_type}");
    }
    assert_eq!(client.request_counts().manifest, 2);
}

#[tokio::test]
async fn manifest_answers_map_to_results_and_categories() {
    let digest = sha256(MANIFEST);
    let wrong = sha256(b"something else");
    let errors = br#"{"errors":[{"code":"UNAVAILABLE","message":"storage is down"}]}"#;
    // (HEAD answer, GET answer, expected digest or category, words the error must contain)
    type Answer = (u16, Vec<(&'static str, String)>, &'static [u8]);
    let cases: Vec<(Answer, Answer, Result<String, ErrorCategory>, &str)> = vec![
        ((405, vec![], b""), (200, vec![("docker-content-digest", digest.clone())], MANIFEST), Ok(digest.clone()), ""),
        (
            (200, vec![], b""),
            (200, vec![("docker-content-digest", wrong)], MANIFEST),
            Err(ErrorCategory::InvalidResponse),
            "hashes to",
        ),
        (
            (200, vec![("docker-content-digest", "md5:abc".into())], b""),
            (500, vec![], b""),
            Err(ErrorCategory::InvalidResponse),
            "md5",
        ),
        ((503, vec![], b""), (500, vec![], b""), Err(ErrorCategory::ServerError), "HTTP 503"),
        ((405, vec![], b""), (500, vec![], errors), Err(ErrorCategory::ServerError), "UNAVAILABLE: storage is down"),
        ((403, vec![], b""), (500, vec![], b""), Err(ErrorCategory::Unauthorized), "HTTP 403"),
        ((404, vec![], b""), (500, vec![], b""), Err(ErrorCategory::NotFound), "was not found"),
        ((400, vec![], b""), (500, vec![], b""), Err(ErrorCategory::InvalidResponse), "unexpected HTTP 400"),
        ((200, vec![], b""), (200, vec![], &[b'x'; 5 << 20]), Err(ErrorCategory::InvalidResponse), "larger than"),
    ];
    for (index, (head, get, expected, words)) in cases.into_iter().enumerate() {
        let server = Server::start(move |seen, _| {
            let (status, headers, body) = if seen.method == Method::HEAD { &head } else { &get };
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            respond(*status, &headers, body)
        })
        .await;
        let result = resolve(&server.client(), &format!("{}/app:v1", server.host), &Credentials::anonymous()).await;
        match (result, expected) {
            (Ok(resolved), Ok(digest)) => assert_eq!(resolved.digest, digest, "case {index}"),
            (Err(error), Err(category)) => {
                assert_eq!(error.category(), category, "case {index}: {error}");
                assert!(error.to_string().contains(words), "case {index}: {error} lacks {words:?}");
            }
            (result, expected) => panic!("case {index}: {result:?}, expected {expected:?}"),
        }
    }
}

#[tokio::test]
async fn a_429_holds_back_the_whole_registry_for_retry_after() {
    let server = Server::start(|_, _| respond(429, &[("retry-after", "120")], b"")).await;
    let client = server.client();
    let first = resolve(&client, &format!("{}/a:1", server.host), &Credentials::anonymous()).await;
    assert_eq!(first.as_ref().err().and_then(RegistryError::retry_after), Some(Duration::from_secs(120)));
    let second = resolve(&client, &format!("{}/b:1", server.host), &Credentials::anonymous()).await;
    let error = second.err().unwrap_or_else(|| panic!("resolved while rate limited"));
    assert_eq!(error.category(), ErrorCategory::RateLimited);
    assert!(error.retry_after().is_some_and(|wait| wait <= Duration::from_secs(120)));
    assert_eq!(server.seen().len(), 1, "no request while the registry asked to wait");
}

#[tokio::test]
async fn unreachable_registries_and_timeouts_are_unreachable() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().unwrap_or_else(|e| panic!("{e}")).to_string()
    };
    let client = client_with(&closed, Duration::from_secs(10));
    let error = resolve(&client, &format!("{closed}/app:1"), &Credentials::anonymous()).await.err();
    assert_eq!(error.as_ref().map(RegistryError::category), Some(ErrorCategory::Unreachable), "{error:?}");

    let server = Server::start(|_, _| respond(200, &[("docker-content-digest", &sha256(MANIFEST))], b"")).await;
    let impatient = client_with(&server.host, Duration::from_millis(300));
    let error = resolve(&impatient, &format!("{}/slow:1", server.host), &Credentials::anonymous()).await.err();
    let error = error.unwrap_or_else(|| panic!("a registry that never answers resolved"));
    assert_eq!(error.category(), ErrorCategory::Unreachable);
    assert!(error.to_string().contains("no answer in time"), "{error}");
}

/// A registry with token authentication and its token endpoint, in one server.
#[derive(Default)]
struct TokenRealm {
    host: String,
    issued: Vec<String>,
    revoked: usize,
    expires_in: u64,
    /// The `Authorization` the token endpoint demands; anonymous tokens when empty.
    required_authorization: String,
    refuse_every_token: bool,
}

async fn token_registry(configure: impl FnOnce(&mut TokenRealm)) -> (Server, Arc<Mutex<TokenRealm>>) {
    let realm = Arc::new(Mutex::new(TokenRealm { expires_in: 300, ..TokenRealm::default() }));
    configure(&mut realm.lock());
    let state = realm.clone();
    let server = Server::start(move |seen, _| {
        let mut realm = state.lock();
        if seen.path == "/token" {
            if seen.authorization != realm.required_authorization {
                return respond(401, &[], b"");
            }
            let token = format!("tok-{}", realm.issued.len());
            realm.issued.push(token.clone());
            let body = serde_json::json!({"token": token, "expires_in": realm.expires_in}).to_string();
            return respond(200, &[("content-type", "application/json")], body.as_bytes());
        }
        let valid =
            realm.issued.iter().skip(realm.revoked).any(|token| seen.authorization == format!("Bearer {token}"));
        if valid && !realm.refuse_every_token {
            return respond(200, &[("docker-content-digest", &sha256(MANIFEST))], b"");
        }
        let repository = seen.path.trim_start_matches("/v2/").split("/manifests/").next().unwrap_or_default();
        let challenge =
            format!(r#"Bearer realm="http://{}/token",service="svc",scope="repository:{repository}:pull""#, realm.host);
        respond(401, &[("www-authenticate", &challenge)], b"")
    })
    .await;
    realm.lock().host = server.host.clone();
    (server, realm)
}

fn requests(server: &Server, from: usize) -> Vec<String> {
    server.seen()[from..]
        .iter()
        .map(|s| format!("{} {} {}", s.method, s.path, s.authorization).trim().to_owned())
        .collect()
}

#[tokio::test]
async fn anonymous_bearer_tokens_are_fetched_once_and_reused() {
    let (server, _) = token_registry(|_| {}).await;
    let client = server.client();
    let image = format!("{}/team/app:v1", server.host);
    let first = resolve(&client, &image, &Credentials::anonymous()).await;
    assert_eq!(first.map(|r| r.digest), Ok(sha256(MANIFEST)));
    assert_eq!(
        requests(&server, 0),
        ["HEAD /v2/team/app/manifests/v1", "GET /token", "HEAD /v2/team/app/manifests/v1 Bearer tok-0"]
    );
    let token_request = &server.seen()[1];
    assert_eq!(token_request.query, "service=svc&scope=repository%3Ateam%2Fapp%3Apull");

    let again = resolve(&client, &image, &Credentials::anonymous()).await;
    assert_eq!(again.map(|r| r.digest), Ok(sha256(MANIFEST)));
    assert_eq!(requests(&server, 3), ["HEAD /v2/team/app/manifests/v1 Bearer tok-0"]);
    assert_eq!(client.request_counts().token, 1);
    let shown = format!("{client:?}");
    assert!(!shown.contains("tok-0") && shown.contains("cached_tokens: 1"), "{shown}");
}

#[tokio::test]
async fn a_refused_cached_token_is_replaced_once_and_an_expired_one_not_sent() {
    let (server, realm) = token_registry(|_| {}).await;
    let client = server.client();
    let image = format!("{}/app:v1", server.host);
    assert!(resolve(&client, &image, &Credentials::anonymous()).await.is_ok());

    realm.lock().revoked = 1;
    assert!(resolve(&client, &image, &Credentials::anonymous()).await.is_ok());
    assert_eq!(
        requests(&server, 3),
        ["HEAD /v2/app/manifests/v1 Bearer tok-0", "GET /token", "HEAD /v2/app/manifests/v1 Bearer tok-1"]
    );

    let (short_lived, _) = token_registry(|realm| realm.expires_in = 0).await;
    let client = short_lived.client();
    let image = format!("{}/app:v1", short_lived.host);
    assert!(resolve(&client, &image, &Credentials::anonymous()).await.is_ok());
    assert!(resolve(&client, &image, &Credentials::anonymous()).await.is_ok());
    assert_eq!(
        requests(&short_lived, 3),
        ["GET /token", "HEAD /v2/app/manifests/v1 Bearer tok-1"],
        "an expired token is replaced before use; the realm is already known"
    );
}

#[tokio::test]
async fn token_endpoints_get_the_pull_secret_and_each_matching_secret_is_tried() {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("kip:{PASSWORD}"));
    let (server, _) = token_registry(|realm| realm.required_authorization = format!("Basic {basic}")).await;
    let client = server.client();
    let image = format!("{}/private/app:v1", server.host);
    let host = server.host.clone();

    let wrong = credentials(&[(&host, "stale", "old-password")]);
    let error = resolve(&client, &image, &wrong).await.err().unwrap_or_else(|| panic!("wrong password accepted"));
    assert_eq!(error.category(), ErrorCategory::Unauthorized);
    let shown = format!("{error} {error:?} {client:?} {wrong:?}");
    assert!(shown.contains("pull secret \\\"stale\\\"") || shown.contains("pull secret \"stale\""), "{shown}");
    assert!(shown.contains("token endpoint"), "{shown}");
    assert!(!shown.contains("old-password"), "{shown}");

    // As the kubelet does: every matching entry in turn, the first that works wins.
    let both = credentials(&[(&host, "stale", "old-password"), (&host, "current", PASSWORD)]);
    let resolved = resolve(&client, &image, &both).await;
    assert_eq!(resolved.map(|r| r.digest), Ok(sha256(MANIFEST)));
    let token_requests: Vec<String> =
        server.seen().iter().filter(|s| s.path == "/token").map(|s| s.authorization.clone()).collect();
    assert_eq!(token_requests.last(), Some(&format!("Basic {basic}")));
    let shown = format!("{client:?} {both:?}");
    assert!(!shown.contains(PASSWORD) && !shown.contains(&basic), "{shown}");
}

#[tokio::test]
async fn refusals_after_authenticating_are_unauthorized() {
    let (server, _) = token_registry(|realm| realm.refuse_every_token = true).await;
    let client = server.client();
    let error = resolve(&client, &format!("{}/app:v1", server.host), &Credentials::anonymous()).await;
    let error = error.err().unwrap_or_else(|| panic!("resolved although every token is refused"));
    assert_eq!(error.category(), ErrorCategory::Unauthorized);
    assert!(error.to_string().contains("token just issued"), "{error}");
    assert_eq!(server.seen().len(), 3, "no second token for a token just issued");
    // The realm is known now: a token is fetched up front, and its refusal is final too.
    let error = resolve(&client, &format!("{}/other:v1", server.host), &Credentials::anonymous()).await;
    assert_eq!(error.map_err(|e| e.category()), Err(ErrorCategory::Unauthorized));
    assert_eq!(requests(&server, 3), ["GET /token", "HEAD /v2/other/manifests/v1 Bearer tok-1"]);

    let negotiate = Server::start(|_, _| respond(401, &[("www-authenticate", "Negotiate")], b"")).await;
    let error = resolve(&negotiate.client(), &format!("{}/app:v1", negotiate.host), &Credentials::anonymous()).await;
    let error = error.err().unwrap_or_else(|| panic!("resolved without authenticating"));
    assert_eq!(error.category(), ErrorCategory::Unauthorized);
    assert!(error.to_string().contains("negotiate"), "{error}");
}

#[tokio::test]
async fn a_token_that_cannot_be_sent_is_an_invalid_response() {
    let server = Server::start(|seen, _| match seen.path.as_str() {
        "/token" => respond(200, &[], br#"{"token": "line\nbreak"}"#),
        _ => respond(401, &[("www-authenticate", &format!(r#"Bearer realm="http://{}/token""#, seen.host))], b""),
    })
    .await;
    let error = resolve(&server.client(), &format!("{}/app:v1", server.host), &Credentials::anonymous()).await;
    let error = error.err().unwrap_or_else(|| panic!("resolved with an unusable token"));
    assert_eq!(error.category(), ErrorCategory::InvalidResponse, "{error}");
}
