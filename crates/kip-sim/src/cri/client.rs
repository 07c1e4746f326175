//! The connection to a CRI runtime over its unix socket, and the one generic unary call that
//! every method of [`CriClient`] goes through. The methods themselves live beside the types they
//! take and return: [`super::images`] and [`super::pods`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

use super::error::CriError;
use super::proto;

/// The CRI API version this client speaks.
pub const CRI_API_VERSION: &str = "v1";

/// How long a call may take unless set otherwise: long enough for a pull of a large image over a
/// slow link, short enough that a wedged runtime fails a test instead of hanging it.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the CRI `runtime.v1` RuntimeService and ImageService on one unix socket.
///
/// Cheap to clone: clones share one HTTP/2 connection.
#[derive(Clone, Debug)]
pub struct CriClient {
    channel: Channel,
    socket: PathBuf,
    call_timeout: Duration,
}

/// What the runtime says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// e.g. `containerd`.
    pub runtime_name: String,
    /// e.g. `1.6.20~ds1`.
    pub runtime_version: String,
    /// The CRI version it serves, e.g. `v1`.
    pub runtime_api_version: String,
}

impl CriClient {
    /// Connects to the runtime listening on `socket` (a unix socket path such as
    /// `/run/containerd/containerd.sock`). Fails if nothing accepts connections there.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Self, CriError> {
        let socket = socket.as_ref().to_path_buf();
        let connect_error = |detail: String| CriError::Connect { socket: socket.clone(), detail };
        let Some(path) = socket.to_str() else {
            return Err(connect_error("the path is not valid UTF-8".into()));
        };
        let endpoint = Endpoint::from_shared(format!("unix://{path}"))
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|e| connect_error(error_chain(&e)))?;
        Ok(CriClient { channel, socket, call_timeout: DEFAULT_CALL_TIMEOUT })
    }

    /// The same client with another per-call deadline.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `RuntimeService/Version`: the runtime's name and version and the CRI version it serves.
    pub async fn version(&self) -> Result<RuntimeVersion, CriError> {
        let request = proto::VersionRequest { version: CRI_API_VERSION.into() };
        let answer: proto::VersionResponse = self.call(RUNTIME_VERSION, "the runtime", request).await?;
        Ok(RuntimeVersion {
            runtime_name: answer.runtime_name,
            runtime_version: answer.runtime_version,
            runtime_api_version: answer.runtime_api_version,
        })
    }

    /// Sends one unary call. `target` names what the call is about (an image, a container) for
    /// the error message.
    pub(crate) async fn call<Req, Resp>(&self, method: Method, target: &str, request: Req) -> Result<Resp, CriError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| CriError::Call {
            method: method.name,
            target: target.to_owned(),
            code: tonic::Code::Unavailable,
            message: format!("connection to {} not ready: {}", self.socket.display(), error_chain(&e)),
        })?;
        let mut request = tonic::Request::new(request);
        request.set_timeout(self.call_timeout);
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let answer = grpc
            .unary(request, PathAndQuery::from_static(method.path), codec)
            .await
            .map_err(|status| CriError::call(method.name, target, &status))?;
        Ok(answer.into_inner())
    }
}

/// One RPC of the CRI API: its name for messages and its HTTP/2 path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Method {
    pub name: &'static str,
    pub path: &'static str,
}

macro_rules! cri_methods {
    ($($constant:ident = $service:literal / $name:literal;)*) => {
        $(pub(crate) const $constant: Method =
            Method { name: $name, path: concat!("/runtime.v1.", $service, "/", $name) };)*
    };
}

cri_methods! {
    RUNTIME_VERSION = "RuntimeService" / "Version";
    RUN_POD_SANDBOX = "RuntimeService" / "RunPodSandbox";
    STOP_POD_SANDBOX = "RuntimeService" / "StopPodSandbox";
    REMOVE_POD_SANDBOX = "RuntimeService" / "RemovePodSandbox";
    LIST_POD_SANDBOX = "RuntimeService" / "ListPodSandbox";
    CREATE_CONTAINER = "RuntimeService" / "CreateContainer";
    START_CONTAINER = "RuntimeService" / "StartContainer";
    STOP_CONTAINER = "RuntimeService" / "StopContainer";
    REMOVE_CONTAINER = "RuntimeService" / "RemoveContainer";
    CONTAINER_STATUS = "RuntimeService" / "ContainerStatus";
    LIST_CONTAINERS = "RuntimeService" / "ListContainers";
    PULL_IMAGE = "ImageService" / "PullImage";
    IMAGE_STATUS = "ImageService" / "ImageStatus";
    LIST_IMAGES = "ImageService" / "ListImages";
    REMOVE_IMAGE = "ImageService" / "RemoveImage";
    IMAGE_FS_INFO = "ImageService" / "ImageFsInfo";
}

/// An error with its sources, which for transport errors hold the useful part ("No such file
/// or directory", "Connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_paths_follow_the_grpc_service_naming() {
        assert_eq!(PULL_IMAGE.path, "/runtime.v1.ImageService/PullImage");
        assert_eq!(RUN_POD_SANDBOX.path, "/runtime.v1.RuntimeService/RunPodSandbox");
        assert_eq!(IMAGE_FS_INFO.name, "ImageFsInfo");
    }

    #[tokio::test]
    async fn connecting_to_a_missing_socket_names_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("absent.sock");
        let error = CriClient::connect(&socket).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&socket.display().to_string()), "{text}");
        assert!(matches!(error, CriError::Connect { .. }), "{error:?}");
    }
}
