//! Pushes a built [`OciImage`] to a registry over the OCI distribution API, plain HTTP on
//! loopback: each blob by a two-step upload (start, then one PUT of all bytes with its digest),
//! skipped when the registry has it; then the manifest under a tag. Pushing other content
//! under an existing tag moves the tag: the way to test a refresh.

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::images::RegistryAuth;
use super::oci::{Blob, OciImage};

/// A registry refused or broke off a push.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("cannot reach the registry {registry}: {detail}")]
    Connect { registry: String, detail: String },
    #[error("{step} at {registry}: HTTP {status}: {body}")]
    Refused { registry: String, step: String, status: u16, body: String },
    #[error("{step} at {registry}: the answer has no Location header")]
    NoLocation { registry: String, step: String },
}

/// A registry at `host:port` (plain HTTP), with the credentials to send, if any.
#[derive(Clone, Debug)]
pub struct Registry {
    host: String,
    authorization: Option<String>,
}

/// What a registry answered: status and body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Registry {
    pub fn new(host: impl Into<String>, auth: Option<&RegistryAuth>) -> Self {
        use base64::Engine;
        let authorization = auth.map(|auth| {
            let pair = format!("{}:{}", auth.username, auth.password);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        });
        Registry { host: host.into(), authorization }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Pushes `image` as `repository:tag` and returns its manifest digest.
    pub async fn push(&self, repository: &str, tag: &str, image: &OciImage) -> Result<String, PushError> {
        for blob in image.layers.iter().chain([&image.config]) {
            self.push_blob(repository, blob).await?;
        }
        let step = format!("put manifest {repository}:{tag}");
        let path = format!("/v2/{repository}/manifests/{tag}");
        let answer =
            self.send(Method::PUT, &path, Some(image.manifest.media_type), image.manifest.bytes.clone()).await?;
        self.expect(&answer, StatusCode::CREATED, &step)?;
        Ok(image.digest().to_owned())
    }

    /// The manifest digest `repository:tag` resolves to now, as a kip registry client asks it:
    /// HEAD with the OCI and Docker manifest types accepted.
    pub async fn resolve(&self, repository: &str, tag: &str) -> Result<String, PushError> {
        let step = format!("resolve {repository}:{tag}");
        let answer = self.send(Method::HEAD, &format!("/v2/{repository}/manifests/{tag}"), None, Bytes::new()).await?;
        self.expect(&answer, StatusCode::OK, &step)?;
        answer.headers.get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(|| {
            PushError::Refused {
                registry: self.host.clone(),
                step,
                status: answer.status.as_u16(),
                body: "no Docker-Content-Digest header".into(),
            }
        })
    }

    async fn push_blob(&self, repository: &str, blob: &Blob) -> Result<(), PushError> {
        let blob_path = format!("/v2/{repository}/blobs/{}", blob.digest);
        if self.send(Method::HEAD, &blob_path, None, Bytes::new()).await?.status == StatusCode::OK {
            return Ok(());
        }
        let step = format!("start upload of {} to {repository}", blob.digest);
        let started = self.send(Method::POST, &format!("/v2/{repository}/blobs/uploads/"), None, Bytes::new()).await?;
        self.expect(&started, StatusCode::ACCEPTED, &step)?;
        let location = started
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| PushError::NoLocation { registry: self.host.clone(), step: step.clone() })?;
        let upload = upload_target(&self.host, location, &blob.digest);
        let answer = self.send(Method::PUT, &upload, Some("application/octet-stream"), blob.bytes.clone()).await?;
        self.expect(&answer, StatusCode::CREATED, &format!("upload {} to {repository}", blob.digest))
    }

    fn expect(&self, answer: &Answer, status: StatusCode, step: &str) -> Result<(), PushError> {
        if answer.status == status {
            return Ok(());
        }
        Err(PushError::Refused {
            registry: self.host.clone(),
            step: step.to_owned(),
            status: answer.status.as_u16(),
            body: String::from_utf8_lossy(&answer.body).chars().take(500).collect(),
        })
    }

    /// One request on a fresh connection: pushes are few and small, a pool would buy nothing.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Answer, PushError> {
        let connect_error = |detail: String| PushError::Connect { registry: self.host.clone(), detail };
        let stream = tokio::net::TcpStream::connect(&self.host).await.map_err(|e| connect_error(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        let driver = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, &self.host)
            .header(
                header::ACCEPT,
                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json",
            )
            .header(header::CONTENT_LENGTH, body.len());
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = request.body(Full::new(body)).map_err(|e| connect_error(format!("bad request: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| connect_error(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| connect_error(e.to_string()))?.to_bytes();
        driver.abort();
        Ok(Answer { status: parts.status, headers: parts.headers, body })
    }
}

/// Where to PUT a blob's bytes: the upload's location, made relative to the host (registries
/// may answer an absolute URL), with the digest added to its query (which often carries state).
fn upload_target(host: &str, location: &str, digest: &str) -> String {
    let location = location.strip_prefix(&format!("http://{host}")).unwrap_or(location);
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_target_keeps_the_location_query_and_adds_the_digest() {
        let cases = [
            ("/v2/r/blobs/uploads/u1", "/v2/r/blobs/uploads/u1?digest=sha256:ab"),
            ("/v2/r/blobs/uploads/u1?_state=xyz", "/v2/r/blobs/uploads/u1?_state=xyz&digest=sha256:ab"),
            (
                "http://127.0.0.1:5000/v2/r/blobs/uploads/u1?_state=xyz",
                "/v2/r/blobs/uploads/u1?_state=xyz&digest=sha256:ab",
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(upload_target("127.0.0.1:5000", location, "sha256:ab"), expected, "{location}");
        }
    }

    #[test]
    fn credentials_go_as_a_basic_authorization_header() {
        let registry = Registry::new("127.0.0.1:5000", Some(&RegistryAuth::new("kip", "pw")));
        assert_eq!(registry.authorization.as_deref(), Some("Basic a2lwOnB3"));
        assert_eq!(Registry::new("127.0.0.1:5000", None).authorization, None);
    }
}
