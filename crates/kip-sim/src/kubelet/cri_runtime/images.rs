//! The CRI's images and errors in the kubelet's terms: an image's identity (`repo@sha256:...`,
//! what `imageID` and `status.images` show) and the pull errors a pod's status quotes.

use crate::cri::{self, CriError};
use crate::kubelet::runtime::{ImageInfo, RuntimeError};

/// The kubelet's view of a stored image. Its id is the first of its repository digests in
/// sorted order, so that an image pulled from several repositories has one id whichever call
/// reported it; an image with no digest (built locally) goes by the runtime's own id.
pub fn kubelet_image(image: &cri::ImageInfo) -> ImageInfo {
    let id = image.repo_digests.iter().min().cloned().unwrap_or_else(|| image.id.0.clone());
    ImageInfo { id, tags: image.repo_tags.clone(), size_bytes: image.size }
}

/// A failed pull, with the runtime's own words: `NotFound` when the registry has no such
/// image, any other failure (refused credentials, an unreachable registry) as a pull failure.
pub fn pull_error(error: CriError) -> RuntimeError {
    match error {
        CriError::Call { code: tonic::Code::NotFound, message, .. } => RuntimeError::ImageNotFound(message),
        CriError::Call { message, .. } => RuntimeError::PullFailed(message),
        other => RuntimeError::PullFailed(other.to_string()),
    }
}

/// Any other failed call: a missing container is told apart, since the kubelet treats it so.
pub fn container_error(error: CriError, container_id: &str) -> RuntimeError {
    if error.is_not_found() {
        RuntimeError::NoSuchContainer(container_id.to_string())
    } else {
        RuntimeError::Other(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digests: &[&str]) -> cri::ImageInfo {
        cri::ImageInfo {
            id: cri::ImageRef("sha256:c0".into()),
            repo_tags: vec!["r/b:1".into()],
            repo_digests: digests.iter().map(|d| d.to_string()).collect(),
            size: 42,
            uid: None,
            username: String::new(),
        }
    }

    #[test]
    fn an_image_goes_by_its_least_repository_digest_or_else_its_runtime_id() {
        let cases: [(&[&str], &str); 3] = [
            (&["r/b@sha256:2", "r/a@sha256:1"], "r/a@sha256:1"),
            (&["r/b@sha256:2"], "r/b@sha256:2"),
            (&[], "sha256:c0"),
        ];
        for (digests, id) in cases {
            let kubelet = kubelet_image(&image(digests));
            assert_eq!(kubelet.id, id, "{digests:?}");
            assert_eq!((kubelet.tags, kubelet.size_bytes), (vec!["r/b:1".to_string()], 42));
        }
    }

    #[test]
    fn pull_errors_keep_the_runtime_message_and_tell_not_found_apart() {
        let call = |code| CriError::Call {
            method: "PullImage",
            target: "r/x:1".into(),
            code,
            message: "failed to pull and unpack image \"r/x:1\"".into(),
        };
        let missing = pull_error(call(tonic::Code::NotFound));
        assert_eq!(missing.to_string(), "rpc error: code = NotFound desc = failed to pull and unpack image \"r/x:1\"");
        assert!(matches!(pull_error(call(tonic::Code::Unknown)), RuntimeError::PullFailed(_)));
        assert!(
            matches!(container_error(call(tonic::Code::NotFound), "c1"), RuntimeError::NoSuchContainer(id) if id == "c1")
        );
        assert!(matches!(container_error(call(tonic::Code::Internal), "c1"), RuntimeError::Other(_)));
    }
}
