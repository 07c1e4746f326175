//! Test images built in-process, without Docker or a shell in the image: one gzip layer holding
//! the given files, an OCI image config and an OCI manifest, each with its sha256 digest, ready
//! to push. The bytes are reproducible (sorted entries, zero times and owners), so the same
//! content always has the same digest and new content always a new one.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Where the kip image stand-in holds its sleep binary.
pub const KIP_SLEEP_PATH: &str = "/usr/local/bin/kip-sleep";

/// A content-addressed blob of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub media_type: &'static str,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    pub bytes: Bytes,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Self {
        Blob { media_type, digest: sha256_digest(&bytes), bytes: Bytes::from(bytes) }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len() })
    }
}

/// A built single-platform image: manifest, config and layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciImage {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl OciImage {
    /// The manifest digest: what a registry and a runtime's `repo_digests` call this image.
    pub fn digest(&self) -> &str {
        &self.manifest.digest
    }

    /// The config digest: what containerd uses as the image id.
    pub fn config_digest(&self) -> &str {
        &self.config.digest
    }
}

/// Could not build an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image file path {path:?} must be absolute and name a file, e.g. /data/file.txt")]
    BadPath { path: String },
    #[error("cannot write the layer entry {path:?}: {source}")]
    Layer { path: String, source: std::io::Error },
}

/// A `FROM scratch` image being put together: files, entrypoint, cmd, labels.
#[derive(Clone, Debug, Default)]
pub struct ImageBuilder {
    files: BTreeMap<String, (Vec<u8>, u32)>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    labels: BTreeMap<String, String>,
}

impl ImageBuilder {
    /// An empty image: no files, no shell, no entrypoint.
    pub fn scratch() -> Self {
        Self::default()
    }

    /// An image holding only a data file: something to cache that has nothing to run.
    pub fn data_only(contents: impl Into<Vec<u8>>) -> Self {
        Self::scratch().file("/data/content.txt", contents, 0o644)
    }

    /// The kip image stand-in: the static `kip-sleep` at [`KIP_SLEEP_PATH`], as entrypoint.
    pub fn kip_stand_in(kip_sleep: impl Into<Vec<u8>>) -> Self {
        Self::scratch().file(KIP_SLEEP_PATH, kip_sleep, 0o755).entrypoint([KIP_SLEEP_PATH])
    }

    /// Adds (or replaces) a regular file at the absolute `path`, owned by root.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files.insert(path.to_owned(), (contents.into(), mode));
        self
    }

    pub fn entrypoint<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = argv.into_iter().map(Into::into).collect();
        self
    }

    pub fn cmd<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.cmd = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a config label; a label with a fresh value is the cheapest way to a new digest.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn build(&self) -> Result<OciImage, ImageError> {
        let tar = self.layer_tar()?;
        let diff_id = sha256_digest(&tar);
        let layer = Blob::new(
            LAYER_MEDIA_TYPE,
            gzip(&tar).map_err(|source| ImageError::Layer { path: "<gzip>".into(), source })?,
        );
        let mut runtime_config = serde_json::Map::new();
        if !self.entrypoint.is_empty() {
            runtime_config.insert("Entrypoint".into(), json!(self.entrypoint));
        }
        if !self.cmd.is_empty() {
            runtime_config.insert("Cmd".into(), json!(self.cmd));
        }
        if !self.labels.is_empty() {
            runtime_config.insert("Labels".into(), json!(self.labels));
        }
        let config = json!({
            "architecture": oci_architecture(),
            "os": "linux",
            "config": runtime_config,
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        });
        let config = Blob::new(CONFIG_MEDIA_TYPE, config.to_string().into_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        });
        let manifest = Blob::new(MANIFEST_MEDIA_TYPE, manifest.to_string().into_bytes());
        Ok(OciImage { manifest, config, layers: vec![layer] })
    }

    /// The layer as an uncompressed tar: each file with its parent directories before it.
    fn layer_tar(&self) -> Result<Vec<u8>, ImageError> {
        let mut directories = std::collections::BTreeSet::new();
        for path in self.files.keys() {
            let relative = path.strip_prefix('/').filter(|p| !p.is_empty() && !p.ends_with('/'));
            let Some(relative) = relative else {
                return Err(ImageError::BadPath { path: path.clone() });
            };
            let mut parent = std::path::Path::new(relative).parent();
            while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                directories.insert(format!("{}/", dir.display()));
                parent = dir.parent();
            }
        }
        let mut tar = tar::Builder::new(Vec::new());
        for dir in &directories {
            append(&mut tar, dir, tar::EntryType::Directory, 0o755, &[])?;
        }
        for (path, (contents, mode)) in &self.files {
            append(&mut tar, &path[1..], tar::EntryType::Regular, *mode, contents)?;
        }
        tar.into_inner().map_err(|source| ImageError::Layer { path: "<end of archive>".into(), source })
    }
}

fn append(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    mode: u32,
    contents: &[u8],
) -> Result<(), ImageError> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(contents.len() as u64);
    tar.append_data(&mut header, path, contents).map_err(|source| ImageError::Layer { path: path.to_owned(), source })
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    // flate2 writes no file name and a zero time: the output depends on the input alone.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The OCI name of the architecture this code runs on, which is the one the runtime pulls for.
fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn layer_entries(image: &OciImage) -> Vec<(String, u32, Vec<u8>)> {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&image.layers[0].bytes[..]).read_to_end(&mut tar).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().display().to_string();
                let mode = entry.header().mode().unwrap();
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).unwrap();
                (path, mode, contents)
            })
            .collect()
    }

    #[test]
    fn the_kip_stand_in_holds_the_binary_with_its_parents_and_runs_it() {
        let image = ImageBuilder::kip_stand_in(b"\x7fELF".to_vec()).build().unwrap();
        let entries: Vec<_> = layer_entries(&image).into_iter().map(|(p, m, c)| (p, m, c.len())).collect();
        assert_eq!(
            entries,
            [
                ("usr/".into(), 0o755, 0),
                ("usr/local/".into(), 0o755, 0),
                ("usr/local/bin/".into(), 0o755, 0),
                ("usr/local/bin/kip-sleep".into(), 0o755, 4),
            ]
        );
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
        assert_eq!(config["config"]["Entrypoint"], json!([KIP_SLEEP_PATH]));
        assert_eq!(config["os"], "linux");
    }

    #[test]
    fn digests_are_those_of_the_bytes_and_tie_the_blobs_together() {
        let image = ImageBuilder::data_only("hello").build().unwrap();
        for blob in [&image.manifest, &image.config, &image.layers[0]] {
            assert_eq!(blob.digest, sha256_digest(&blob.bytes));
        }
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest.bytes).unwrap();
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["digest"], image.config.digest);
        assert_eq!(manifest["config"]["size"], image.config.bytes.len());
        assert_eq!(manifest["layers"][0]["digest"], image.layers[0].digest);
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&image.layers[0].bytes[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256_digest(&tar), "diff id is the uncompressed layer's");
        assert_eq!(
            layer_entries(&image),
            [("data/".into(), 0o755, vec![]), ("data/content.txt".into(), 0o644, b"hello".to_vec())]
        );
    }

    #[test]
    fn same_content_same_digest_new_content_new_digest() {
        let first = ImageBuilder::data_only("v1").build().unwrap();
        assert_eq!(first.digest(), ImageBuilder::data_only("v1").build().unwrap().digest());
        assert_ne!(first.digest(), ImageBuilder::data_only("v2").build().unwrap().digest());
        assert_ne!(first.digest(), ImageBuilder::data_only("v1").label("rev", "2").build().unwrap().digest());
    }

    #[test]
    fn relative_or_directory_paths_are_refused() {
        for path in ["data.txt", "/", "/data/"] {
            let error = ImageBuilder::scratch().file(path, "x", 0o644).build().unwrap_err();
            assert!(matches!(&error, ImageError::BadPath { path: p } if p == path), "{path}: {error}");
        }
    }
}
