//! Starts and stops the real runtime stack of `scripts/real-runtime/` (an open registry, a
//! registry with basic auth, containerd with CRI) for one test, in a fresh directory, and stops
//! it again when dropped. The scripts are the one place that knows how; this is their Rust face.
//!
//! Tests that need it are gated by `KIP_REAL_RUNTIME=1` (they need root and Debian packages):
//! unset, they say they were skipped; set, anything missing is a failure.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::client::CriClient;
use super::error::CriError;
use super::images::RegistryAuth;
use super::push::Registry;

/// The switch: `1` runs the real-runtime tests, `0` or unset skips them.
pub const ENABLE_VAR: &str = "KIP_REAL_RUNTIME";

/// Why the stack could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{ENABLE_VAR} must be 1 (run the real-runtime tests) or 0/unset (skip them), found {value:?}")]
    BadSwitch { value: String },
    #[error("cannot create a runtime directory under {base}: {source}")]
    Directory { base: PathBuf, source: std::io::Error },
    #[error("cannot run {script}: {source}")]
    Spawn { script: PathBuf, source: std::io::Error },
    #[error("{script} failed ({status}):\n{stderr}\nlogs are in {logs}")]
    Script { script: PathBuf, status: ExitStatus, stderr: String, logs: PathBuf },
    #[error("{script} printed no {key}= line; it printed:\n{stdout}")]
    MissingKey { script: PathBuf, key: &'static str, stdout: String },
}

/// A running registry pair and containerd, private to one test.
#[derive(Debug)]
pub struct RealRuntime {
    /// Removed on drop once the services are stopped; kept if stopping failed, for its logs.
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    registry: String,
    auth_registry: String,
    auth: RegistryAuth,
    cri_socket: PathBuf,
    pause_image: String,
    kip_sleep_binary: PathBuf,
    running: bool,
}

/// Whether the real-runtime tests are switched on.
pub fn enabled() -> Result<bool, HarnessError> {
    switch(std::env::var(ENABLE_VAR).ok().as_deref())
}

fn switch(value: Option<&str>) -> Result<bool, HarnessError> {
    match value.unwrap_or_default() {
        "1" => Ok(true),
        "" | "0" => Ok(false),
        // A typo must not turn the tests off silently.
        other => Err(HarnessError::BadSwitch { value: other.to_owned() }),
    }
}

/// Where the scripts are: `scripts/real-runtime` of the source tree this crate is built from.
pub fn scripts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/real-runtime");
    dir.canonicalize().unwrap_or(dir)
}

/// The parent of the per-test directories; `down.sh --all` looks here for leftovers.
pub fn base_dir() -> PathBuf {
    std::env::temp_dir().join("kip-real-runtime-tests")
}

impl RealRuntime {
    /// Starts the stack if [`ENABLE_VAR`] is `1`; otherwise says on stderr (past the test
    /// harness's output capture) that `test` was skipped, and returns `None`.
    pub fn start_if_enabled(test: &str) -> Result<Option<Self>, HarnessError> {
        if enabled()? {
            return Self::start().map(Some);
        }
        // Written to the stream itself: print macros would be captured and never shown.
        let _ = writeln!(
            std::io::stderr(),
            "skipped {test}: set {ENABLE_VAR}=1 to run it against containerd and a local registry \
             (needs root; scripts/real-runtime/install.sh installs the packages)"
        );
        Ok(None)
    }

    /// Starts the stack in a new directory under [`base_dir`] with `up.sh`.
    pub fn start() -> Result<Self, HarnessError> {
        let base = base_dir();
        let dir = std::fs::create_dir_all(&base)
            .and_then(|()| tempfile::Builder::new().prefix("rt-").tempdir_in(&base))
            .map_err(|source| HarnessError::Directory { base: base.clone(), source })?;
        let path = dir.path().to_path_buf();
        let script = scripts_dir().join("up.sh");
        let stdout = run_script(&script, &path)?;
        let values: HashMap<&str, &str> = stdout.lines().filter_map(|line| line.split_once('=')).collect();
        let value = |key: &'static str| {
            values.get(key).map(|v| (*v).to_owned()).ok_or_else(|| HarnessError::MissingKey {
                script: script.clone(),
                key,
                stdout: stdout.clone(),
            })
        };
        let mut runtime = RealRuntime {
            dir: Some(dir),
            path,
            registry: String::new(),
            auth_registry: String::new(),
            auth: RegistryAuth::new("", ""),
            cri_socket: PathBuf::new(),
            pause_image: String::new(),
            kip_sleep_binary: PathBuf::new(),
            // From here on, a failure must still stop what up.sh started: Drop does.
            running: true,
        };
        runtime.registry = value("KIP_REGISTRY")?;
        runtime.auth_registry = value("KIP_AUTH_REGISTRY")?;
        runtime.auth = RegistryAuth::new(value("KIP_AUTH_USER")?, value("KIP_AUTH_PASSWORD")?);
        runtime.cri_socket = value("KIP_CRI_SOCKET")?.into();
        runtime.pause_image = value("KIP_PAUSE_IMAGE")?;
        runtime.kip_sleep_binary = value("KIP_SLEEP_BIN")?.into();
        Ok(runtime)
    }

    /// `127.0.0.1:PORT` of the registry without auth: the prefix of image references.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `http://127.0.0.1:PORT` of the registry without auth.
    pub fn registry_url(&self) -> String {
        format!("http://{}", self.registry)
    }

    /// `127.0.0.1:PORT` of the registry that demands [`Self::auth`].
    pub fn auth_registry(&self) -> &str {
        &self.auth_registry
    }

    /// `http://127.0.0.1:PORT` of the registry that demands [`Self::auth`].
    pub fn auth_registry_url(&self) -> String {
        format!("http://{}", self.auth_registry)
    }

    /// The credentials the auth registry accepts.
    pub fn auth(&self) -> &RegistryAuth {
        &self.auth
    }

    /// containerd's socket, serving the CRI.
    pub fn cri_socket(&self) -> &Path {
        &self.cri_socket
    }

    /// The sandbox image containerd runs for every pod.
    pub fn pause_image(&self) -> &str {
        &self.pause_image
    }

    /// The static `kip-sleep` the sandbox image was built from, for the kip image stand-in.
    pub fn kip_sleep_binary(&self) -> &Path {
        &self.kip_sleep_binary
    }

    /// The directory holding the services' state and logs (`logs/`).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// A pusher for the open registry.
    pub fn open_registry(&self) -> Registry {
        Registry::new(&self.registry, None)
    }

    /// A pusher for the auth registry, with its credentials.
    pub fn authenticated_registry(&self) -> Registry {
        Registry::new(&self.auth_registry, Some(&self.auth))
    }

    /// A CRI client connected to this containerd.
    pub async fn client(&self) -> Result<CriClient, CriError> {
        CriClient::connect(&self.cri_socket).await
    }

    /// Stops every container and service with `down.sh`; the directory goes on drop.
    pub fn stop(&mut self) -> Result<(), HarnessError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        run_script(&scripts_dir().join("down.sh"), &self.path).map(drop)
    }
}

impl Drop for RealRuntime {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            // Keep the directory: its logs say what went wrong, and down.sh --all can retry.
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                let _ =
                    writeln!(std::io::stderr(), "stopping the real runtime failed; kept {}: {error}", kept.display());
            }
        }
    }
}

/// Runs `script DIR` and returns its stdout.
fn run_script(script: &Path, dir: &Path) -> Result<String, HarnessError> {
    let output = Command::new("bash")
        .arg(script)
        .arg(dir)
        .output()
        .map_err(|source| HarnessError::Spawn { script: script.to_path_buf(), source })?;
    if !output.status.success() {
        return Err(HarnessError::Script {
            script: script.to_path_buf(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            logs: dir.join("logs"),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_switches_the_tests_on_and_anything_unclear_is_an_error() {
        assert!(switch(Some("1")).unwrap());
        for off in [None, Some(""), Some("0")] {
            assert!(!switch(off).unwrap(), "{off:?}");
        }
        for unclear in ["yes", "true", " 1"] {
            assert!(matches!(switch(Some(unclear)), Err(HarnessError::BadSwitch { .. })), "{unclear}");
        }
    }

    #[test]
    fn the_scripts_are_where_the_harness_looks() {
        for script in ["up.sh", "down.sh", "install.sh", "common.sh"] {
            assert!(scripts_dir().join(script).is_file(), "{script}");
        }
    }

    #[test]
    fn a_failing_script_reports_its_stderr_and_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fail.sh");
        std::fs::write(&script, "echo 'missing programs: runc' >&2; exit 3\n").unwrap();
        let error = run_script(&script, dir.path()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("missing programs: runc"), "{text}");
        assert!(text.contains(&dir.path().join("logs").display().to_string()), "{text}");
    }
}
