//! A pod's directory on the node: its emptyDir volumes and its container logs, created before
//! its sandbox and removed with it. An emptyDir is a plain directory (a `medium: Memory` one
//! too: no tmpfs is mounted) that anyone may write, as the kubelet makes it; with a pod
//! `fsGroup` it belongs to that group and new files inherit it (setgid).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::PodSpec;

use super::translate::empty_dir_path;

/// World-writable, as the kubelet creates emptyDir directories.
const EMPTY_DIR_MODE: u32 = 0o777;
/// With an fsGroup: group-owned and setgid, so files created inside belong to the group.
const FS_GROUP_MODE: u32 = 0o2777;

/// The pod's directory under the node's root directory.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Where the runtime writes the pod's container logs.
pub fn log_dir(pod_dir: &Path) -> PathBuf {
    pod_dir.join("logs")
}

/// A volume directory could not be made ready.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the emptyDir volume {volume:?} at {path}: {source}")]
pub struct VolumeError {
    volume: String,
    path: PathBuf,
    source: std::io::Error,
}

/// Creates the pod's emptyDir volumes (idempotent).
pub fn prepare(pod_dir: &Path, spec: &PodSpec) -> Result<(), VolumeError> {
    let fs_group = spec.security_context.as_ref().and_then(|c| c.fs_group);
    for volume in spec.volumes.iter().flatten().filter(|v| v.empty_dir.is_some()) {
        let path = empty_dir_path(pod_dir, &volume.name);
        let failed = |source| VolumeError { volume: volume.name.clone(), path: path.clone(), source };
        std::fs::create_dir_all(&path).map_err(failed)?;
        let mode = match fs_group {
            Some(group) => {
                let gid = u32::try_from(group).map_err(|_| {
                    failed(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("fsGroup {group} is not a gid"),
                    ))
                })?;
                std::os::unix::fs::chown(&path, None, Some(gid)).map_err(failed)?;
                FS_GROUP_MODE
            }
            None => EMPTY_DIR_MODE,
        };
        // Set explicitly: the process umask would otherwise trim the mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(failed)?;
    }
    Ok(())
}

/// Removes the pod's directory and everything in it; a missing directory is no error.
pub fn remove(pod_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(pod_dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use serde_json::json;

    use super::*;

    fn spec(value: serde_json::Value) -> PodSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn empty_dirs_are_world_writable_and_take_the_fs_group() {
        let root = tempfile::tempdir().unwrap();
        let dir = pod_dir(root.path(), "uid-1");
        let plain = spec(
            json!({"containers": [], "volumes": [{"name": "a", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/tmp"}}]}),
        );
        prepare(&dir, &plain).unwrap();
        let a = std::fs::metadata(empty_dir_path(&dir, "a")).unwrap();
        assert_eq!(a.permissions().mode() & 0o7777, EMPTY_DIR_MODE);
        assert!(!empty_dir_path(&dir, "h").exists(), "only emptyDir volumes get a directory");
        // Giving a directory to another group takes root; the files we create show who we are.
        if a.uid() != 0 {
            return;
        }

        let grouped = spec(json!({"containers": [], "securityContext": {"fsGroup": 65532},
            "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}]}));
        prepare(&dir, &grouped).unwrap();
        let kip = std::fs::metadata(empty_dir_path(&dir, "kip")).unwrap();
        assert_eq!(kip.permissions().mode() & 0o7777, FS_GROUP_MODE);
        assert_eq!(kip.gid(), 65532);
        prepare(&dir, &grouped).unwrap();

        remove(&dir).unwrap();
        assert!(!dir.exists());
        remove(&dir).unwrap();
    }
}
