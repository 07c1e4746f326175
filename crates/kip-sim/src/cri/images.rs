//! The image half of the CRI client: pull (with registry credentials), status, list, remove,
//! and the image filesystem's usage; and the plain types those calls take and return.

use std::fmt;

use super::client::{CriClient, IMAGE_FS_INFO, IMAGE_STATUS, LIST_IMAGES, PULL_IMAGE, REMOVE_IMAGE};
use super::error::CriError;
use super::proto;

/// The runtime's id of a pulled image, as `PullImage` returns it (containerd: `sha256:` and the
/// digest of the image config). It names the image's content, not its tag: a tag pushed again
/// with other content pulls to another `ImageRef`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef(pub String);

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ImageRef {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Basic-auth credentials for a registry, as a kubelet takes them from an image pull secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl RegistryAuth {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        RegistryAuth { username: username.into(), password: password.into() }
    }
}

// The password stays out of logs and assertion messages.
impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// An image the runtime holds: what a node's `status.images` is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// The runtime's id (see [`ImageRef`]).
    pub id: ImageRef,
    /// `registry/name:tag` references that point at it.
    pub repo_tags: Vec<String>,
    /// `registry/name@sha256:...` references: the manifest digests it was pulled by.
    pub repo_digests: Vec<String>,
    /// Bytes, as the runtime counts them (containerd: compressed layers plus config and manifest).
    pub size: u64,
    /// The numeric user the image's config runs as, when it names one (no user means 0).
    pub uid: Option<i64>,
    /// The image's user when it is a name rather than a number.
    pub username: String,
}

impl ImageInfo {
    /// The names a node reports for this image: its digests first, then its tags, as a kubelet
    /// fills `status.images[].names`.
    pub fn names(&self) -> Vec<String> {
        self.repo_digests.iter().chain(&self.repo_tags).cloned().collect()
    }

    /// This image as an entry of a node's `status.images`.
    pub fn to_node_image(&self) -> k8s_openapi::api::core::v1::ContainerImage {
        k8s_openapi::api::core::v1::ContainerImage {
            names: Some(self.names()),
            size_bytes: Some(i64::try_from(self.size).unwrap_or(i64::MAX)),
        }
    }

    /// The manifest digest (`sha256:...`) it was pulled by from `repository`
    /// (`registry/name`), if any.
    pub fn digest_in(&self, repository: &str) -> Option<&str> {
        self.repo_digests
            .iter()
            .find_map(|reference| reference.strip_prefix(repository).and_then(|rest| rest.strip_prefix('@')))
    }

    fn from_proto(image: proto::Image) -> Self {
        ImageInfo {
            id: ImageRef(image.id),
            repo_tags: image.repo_tags,
            repo_digests: image.repo_digests,
            size: image.size,
            uid: image.uid.map(|uid| uid.value),
            username: image.username,
        }
    }
}

/// How much one filesystem holding images uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFsUsage {
    pub mountpoint: String,
    pub used_bytes: u64,
    pub inodes_used: u64,
}

fn image_spec(reference: &str) -> Option<proto::ImageSpec> {
    Some(proto::ImageSpec { image: reference.to_owned(), ..Default::default() })
}

impl CriClient {
    /// `ImageService/PullImage`: pulls `reference` (`registry/name:tag` or `registry/name@digest`),
    /// sending `auth` to the registry if given, and returns the pulled image's id.
    pub async fn pull_image(&self, reference: &str, auth: Option<&RegistryAuth>) -> Result<ImageRef, CriError> {
        let request = proto::PullImageRequest {
            image: image_spec(reference),
            auth: auth.map(|auth| proto::AuthConfig {
                username: auth.username.clone(),
                password: auth.password.clone(),
                ..Default::default()
            }),
        };
        let answer: proto::PullImageResponse = self.call(PULL_IMAGE, reference, request).await?;
        if answer.image_ref.is_empty() {
            return Err(CriError::IncompleteAnswer {
                method: PULL_IMAGE.name,
                target: reference.into(),
                field: "image_ref",
            });
        }
        Ok(ImageRef(answer.image_ref))
    }

    /// `ImageService/ImageStatus`: the image that `reference` (a reference or an id) names, or
    /// `None` if the runtime does not hold it.
    pub async fn image_status(&self, reference: &str) -> Result<Option<ImageInfo>, CriError> {
        let request = proto::ImageStatusRequest { image: image_spec(reference), verbose: false };
        let answer: proto::ImageStatusResponse = self.call(IMAGE_STATUS, reference, request).await?;
        Ok(answer.image.map(ImageInfo::from_proto))
    }

    /// `ImageService/ListImages`: every image the runtime holds.
    pub async fn list_images(&self) -> Result<Vec<ImageInfo>, CriError> {
        let answer: proto::ListImagesResponse =
            self.call(LIST_IMAGES, "all images", proto::ListImagesRequest { filter: None }).await?;
        Ok(answer.images.into_iter().map(ImageInfo::from_proto).collect())
    }

    /// `ImageService/RemoveImage`: removes the image `reference` (a reference or an id) names,
    /// with all its tags. Removing an absent image succeeds.
    pub async fn remove_image(&self, reference: &str) -> Result<(), CriError> {
        let request = proto::RemoveImageRequest { image: image_spec(reference) };
        let _: proto::RemoveImageResponse = self.call(REMOVE_IMAGE, reference, request).await?;
        Ok(())
    }

    /// `ImageService/ImageFsInfo`: usage of the filesystems that hold image layers.
    pub async fn image_fs_info(&self) -> Result<Vec<ImageFsUsage>, CriError> {
        let answer: proto::ImageFsInfoResponse =
            self.call(IMAGE_FS_INFO, "the image filesystem", proto::ImageFsInfoRequest {}).await?;
        Ok(answer
            .image_filesystems
            .into_iter()
            .map(|usage| ImageFsUsage {
                mountpoint: usage.fs_id.map(|id| id.mountpoint).unwrap_or_default(),
                used_bytes: usage.used_bytes.map(|v| v.value).unwrap_or_default(),
                inodes_used: usage.inodes_used.map(|v| v.value).unwrap_or_default(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageInfo {
        ImageInfo {
            id: ImageRef("sha256:c0".into()),
            repo_tags: vec!["127.0.0.1:5000/kip/data:1".into()],
            repo_digests: vec!["127.0.0.1:5000/kip/data@sha256:aa".into(), "127.0.0.1:5000/kip/other@sha256:bb".into()],
            size: 10,
            uid: None,
            username: String::new(),
        }
    }

    #[test]
    fn digest_in_matches_the_whole_repository_name() {
        let cases = [
            ("127.0.0.1:5000/kip/data", Some("sha256:aa")),
            ("127.0.0.1:5000/kip/other", Some("sha256:bb")),
            ("127.0.0.1:5000/kip/dat", None),
            ("127.0.0.1:5000/kip", None),
        ];
        for (repository, expected) in cases {
            assert_eq!(image().digest_in(repository), expected, "{repository}");
        }
    }

    #[test]
    fn names_list_digests_before_tags() {
        assert_eq!(
            image().names(),
            ["127.0.0.1:5000/kip/data@sha256:aa", "127.0.0.1:5000/kip/other@sha256:bb", "127.0.0.1:5000/kip/data:1"]
        );
    }

    #[test]
    fn a_node_lists_the_image_by_all_its_names_with_its_size() {
        let entry = image().to_node_image();
        assert_eq!(entry.names, Some(image().names()));
        assert_eq!(entry.size_bytes, Some(10));
    }

    #[test]
    fn credentials_do_not_show_the_password() {
        let text = format!("{:?}", RegistryAuth::new("puller", "s3cret"));
        assert!(text.contains("puller") && !text.contains("s3cret"), "{text}");
    }

    #[test]
    fn pull_request_carries_the_credentials_in_the_auth_fields() {
        use prost::Message;
        let request = proto::PullImageRequest {
            image: image_spec("r/x:1"),
            auth: Some(proto::AuthConfig { username: "u".into(), password: "p".into(), ..Default::default() }),
        };
        // Field 1 (image, length-delimited) holding field 1 "r/x:1"; field 2 (auth) holding
        // username (1) and password (2): the wire layout of the CRI message.
        let bytes = request.encode_to_vec();
        assert_eq!(bytes, [0x0a, 7, 0x0a, 5, b'r', b'/', b'x', b':', b'1', 0x12, 6, 0x0a, 1, b'u', 0x12, 1, b'p']);
    }
}
