//! `--copy-to PATH`: a byte-identical, working copy with mode 0755 whatever the umask, and
//! clear failures.

// A test that cannot set up or read a result fails loudly, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{bin, run_as, scratch_dir};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Runs `kip-sleep --copy-to target` under umask 077, which would leave a plain create at 0700.
fn copy_under_strict_umask(target: &Path) -> std::process::Output {
    Command::new("sh").args(["-c", r#"umask 077 && exec "$0" --copy-to "$1""#, bin()]).arg(target).output().unwrap()
}

#[test]
fn copy_is_identical_with_mode_0755_and_works() {
    let dir = scratch_dir("copy_is_identical");
    let target = dir.join("sleep");
    let output = copy_under_strict_umask(&target);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty() && output.stderr.is_empty(), "{output:?}");
    assert_eq!(fs::read(&target).unwrap(), fs::read(bin()).unwrap());
    assert_eq!(mode(&target), 0o755);

    let slept = Command::new(&target).arg("10ms").output().unwrap();
    assert_eq!(slept.status.code(), Some(0));
    let refused = Command::new(&target).arg("10d").output().unwrap();
    assert_eq!(refused.status.code(), Some(255));
}

#[test]
fn copy_replaces_an_existing_file_and_its_mode() {
    let dir = scratch_dir("copy_replaces");
    let target = dir.join("sleep");
    let original = fs::read(bin()).unwrap();
    // Longer than the executable, so a missing truncate would leave a tail behind.
    fs::write(&target, vec![b'x'; original.len() * 2]).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();

    let output = copy_under_strict_umask(&target);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(fs::read(&target).unwrap(), original);
    assert_eq!(mode(&target), 0o755);
}

#[test]
fn copy_failures_name_the_path_and_the_error() {
    let dir = scratch_dir("copy_failures");
    let missing_dir = dir.join("missing").join("sleep");
    let cases = [
        (missing_dir.to_str().unwrap().to_owned(), "ENOENT (no such file or directory)"),
        (dir.to_str().unwrap().to_owned(), "EISDIR (is a directory)"),
    ];
    for (target, error) in cases {
        let output = run_as("sleep", &["--copy-to", &target]);
        assert_eq!(output.status.code(), Some(1), "{target}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("kip-sleep: --copy-to: cannot create {target}: {error}\n")
        );
        assert!(output.stdout.is_empty());
    }
}
