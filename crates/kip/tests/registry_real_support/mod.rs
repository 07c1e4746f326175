//! Test fixture: `docker-registry` instances on free 127.0.0.1 ports sharing one storage
//! directory, images pushed with the distribution upload API, and pull secrets.

#![allow(dead_code)]

mod token_server;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kip::registry::{Credentials, DOCKER_CONFIG_JSON_KEY, DOCKER_CONFIG_JSON_TYPE, DOCKER_MANIFEST, OCI_MANIFEST};
use serde_json::json;
use sha2::{Digest as _, Sha256};

pub use token_server::TokenServer;

pub const USER: &str = "kip";
pub const PASSWORD: &str = "Corr3ct-h0rse-battery";

pub enum Protection {
    Htpasswd,
    Token,
}

/// One running `docker-registry`, stopped (by its PID) when dropped.
pub struct Registry {
    pub host: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct TokenAuth {
    pub registry: Registry,
    pub server: TokenServer,
}

pub struct Fixture {
    /// Unauthenticated instance the tests push through.
    pub open: Registry,
    pub htpasswd: Option<Registry>,
    pub token: Option<TokenAuth>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

/// Requires `binary` on PATH, failing the test when it is missing.
pub fn require(binary: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("KIP_REAL_REGISTRY=1 but {binary} is not installed (Debian: apt-get install docker-registry apache2-utils openssl)"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}"));
    listener.local_addr().map(|address| address.port()).unwrap_or_else(|e| panic!("{e}"))
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

impl Fixture {
    /// Starts the open instance and the protected ones asked for; `None` (and a note) when
    /// `KIP_REAL_REGISTRY` is not `1`.
    pub async fn start(protections: &[Protection]) -> Option<Fixture> {
        if std::env::var("KIP_REAL_REGISTRY").as_deref() != Ok("1") {
            eprintln!("skipped: set KIP_REAL_REGISTRY=1 to run against a real docker-registry");
            return None;
        }
        // Plain HTTP only here, but reqwest still wants a TLS provider to build a client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary = require("docker-registry");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let storage = dir.path().join("storage");
        let open = start_registry(&binary, dir.path(), "open", &storage, "").await;
        let mut fixture = Fixture { open, htpasswd: None, token: None, http: reqwest::Client::new(), dir };
        for protection in protections {
            match protection {
                Protection::Htpasswd => {
                    let htpasswd = fixture.dir.path().join("htpasswd");
                    let line = run(Command::new(require("htpasswd")).args(["-nbB", USER, PASSWORD]));
                    std::fs::write(&htpasswd, line).unwrap_or_else(|e| panic!("{e}"));
                    let auth = format!("auth:\n  htpasswd:\n    realm: kip-test\n    path: {}\n", htpasswd.display());
                    fixture.htpasswd =
                        Some(start_registry(&binary, fixture.dir.path(), "htpasswd", &storage, &auth).await);
                }
                Protection::Token => {
                    let server = TokenServer::start(fixture.dir.path(), USER, PASSWORD).await;
                    let auth = format!(
                        "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                        server.realm,
                        token_server::SERVICE,
                        token_server::ISSUER,
                        server.certificate.display()
                    );
                    let registry = start_registry(&binary, fixture.dir.path(), "token", &storage, &auth).await;
                    fixture.token = Some(TokenAuth { registry, server });
                }
            }
        }
        Some(fixture)
    }

    /// Pushes a small image under `repository:tag` through the open instance and returns the
    /// digest of what the tag now points to. For an index or manifest list, a platform
    /// manifest is pushed first and referenced.
    pub async fn push_manifest(&self, repository: &str, tag: &str, media_type: &str, content: &str) -> String {
        let docker = media_type.contains("docker");
        let (config_type, layer_type) = if docker {
            ("application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip")
        } else {
            ("application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar")
        };
        let layer = format!("layer of {content}").into_bytes();
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
            "config": {"Labels": {"content": content}},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let manifest_type = if docker { DOCKER_MANIFEST } else { OCI_MANIFEST };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": self.push_blob(repository, &config).await, "size": config.len()},
            "layers": [{"mediaType": layer_type, "digest": self.push_blob(repository, &layer).await, "size": layer.len()}],
        });
        if media_type == manifest_type {
            return self.put_manifest(repository, tag, media_type, &manifest).await;
        }
        let platform_bytes = serde_json::to_vec(&manifest).unwrap_or_else(|e| panic!("{e}"));
        let platform_digest = self.put_manifest(repository, &sha256(&platform_bytes), manifest_type, &manifest).await;
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [{
                "mediaType": manifest_type,
                "digest": platform_digest,
                "size": platform_bytes.len(),
                "platform": {"architecture": "amd64", "os": "linux"},
            }],
        });
        self.put_manifest(repository, tag, media_type, &index).await
    }

    async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &serde_json::Value,
    ) -> String {
        let bytes = serde_json::to_vec(manifest).unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}/v2/{repository}/manifests/{reference}", self.open.host);
        let response = self.http.put(&url).header("content-type", media_type).body(bytes.clone()).send().await;
        let response = response.unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        let status = response.status();
        let declared = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(status.as_u16(), 201, "PUT {url}: {}", response.text().await.unwrap_or_default());
        assert_eq!(declared.as_deref(), Some(sha256(&bytes).as_str()));
        sha256(&bytes)
    }

    async fn push_blob(&self, repository: &str, blob: &[u8]) -> String {
        let digest = sha256(blob);
        let start = format!("http://{}/v2/{repository}/blobs/uploads/", self.open.host);
        let response = self.http.post(&start).send().await.unwrap_or_else(|e| panic!("POST {start}: {e}"));
        assert_eq!(response.status().as_u16(), 202, "POST {start}");
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let location =
            if location.starts_with('/') { format!("http://{}{location}", self.open.host) } else { location };
        let separator = if location.contains('?') { '&' } else { '?' };
        let finish = format!("{location}{separator}digest={digest}");
        let response = self
            .http
            .put(&finish)
            .header("content-type", "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT blob: {e}"));
        assert_eq!(response.status().as_u16(), 201, "PUT blob {digest}");
        digest
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

async fn start_registry(binary: &Path, dir: &Path, name: &str, storage: &Path, auth: &str) -> Registry {
    let host = format!("127.0.0.1:{}", free_port());
    let config = dir.join(format!("{name}.yml"));
    let yaml = format!(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: kip-test-secret\n{auth}",
        storage.display()
    );
    std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("{e}"));
    let log = dir.join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let log_err = log_file.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let mut registry = Registry { host, child, log };
    wait_until_serving(&mut registry).await;
    registry
}

async fn wait_until_serving(registry: &mut Registry) {
    let url = format!("http://{}/v2/", registry.host);
    for _ in 0..200 {
        if let Ok(Some(status)) = registry.child.try_wait() {
            let log = std::fs::read_to_string(&registry.log).unwrap_or_default();
            panic!("docker-registry exited with {status}:\n{log}");
        }
        if reqwest::get(&url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(&registry.log).unwrap_or_default();
    panic!("docker-registry did not answer on {url} within 10s:\n{log}");
}

/// Credentials as the puller reads them: from a `kubernetes.io/dockerconfigjson` secret.
pub fn credentials_from_secret(registry: &str, username: &str, password: &str) -> Credentials {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let config = json!({"auths": {registry: {"auth": auth}}}).to_string();
    let secret = Secret {
        metadata: ObjectMeta { name: Some("regcred".into()), ..Default::default() },
        type_: Some(DOCKER_CONFIG_JSON_TYPE.into()),
        data: Some(BTreeMap::from([(DOCKER_CONFIG_JSON_KEY.to_owned(), ByteString(config.into_bytes()))])),
        ..Default::default()
    };
    let (credentials, problems) = Credentials::from_pull_secrets(&[secret]);
    assert!(problems.is_empty(), "{problems:?}");
    credentials
}

/// Fails if `shown` holds the secret, plainly or inside a Basic header's base64.
pub fn assert_no_secret(shown: &str, secret: &str) {
    assert!(!shown.contains(secret), "the secret leaked into: {shown}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{secret}"));
    assert!(!shown.contains(&encoded), "the encoded secret leaked into: {shown}");
}
