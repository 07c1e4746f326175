//! Errors of the CRI client: what was asked, of which socket or object, and what the runtime
//! answered, so that a failed pull or start reads as a sentence in a test log or a pod event.

use std::path::PathBuf;
use std::time::Duration;

use super::pods::ContainerPhase;

/// A failure to reach the runtime or a call the runtime refused.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The socket path could not be turned into an endpoint or the connection failed.
    #[error("cannot connect to the CRI socket {socket}: {detail} (is containerd running with this grpc.address?)")]
    Connect { socket: PathBuf, detail: String },
    /// The runtime answered a call with a gRPC error.
    #[error("CRI {method} of {target} failed: {code:?}: {message}")]
    Call { method: &'static str, target: String, code: tonic::Code, message: String },
    /// The runtime answered, but without a field the API says it must fill.
    #[error("CRI {method} of {target} answered without {field}")]
    IncompleteAnswer { method: &'static str, target: String, field: &'static str },
    /// The host directory for a sandbox's container logs could not be created.
    #[error("cannot create the log directory {path} of pod sandbox {sandbox}: {source}")]
    LogDirectory { sandbox: String, path: PathBuf, source: std::io::Error },
    /// A container did not reach the awaited state in time.
    #[error("container {container_id} is still {state} after {waited:?}, awaited: {awaited}")]
    WaitTimedOut { container_id: String, state: String, awaited: ContainerPhase, waited: Duration },
}

impl CriError {
    /// The gRPC code of a refused call, if this is one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            CriError::Call { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the runtime said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    pub(crate) fn call(method: &'static str, target: &str, status: &tonic::Status) -> Self {
        CriError::Call { method, target: target.to_owned(), code: status.code(), message: status.message().to_owned() }
    }
}
