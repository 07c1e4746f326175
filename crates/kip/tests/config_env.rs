//! `Config::from_env` over a real process environment. The environment is per process, so each
//! case runs the reader in a child process (this test binary again) with an environment built
//! for it, rather than changing the environment of the tests running in parallel here.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

/// Run only as a child by the tests below: prints what `from_env` made of its environment.
#[test]
#[ignore = "run in a child process by the from_env tests"]
fn print_config_from_env() {
    match kip::config::Config::from_env() {
        Ok(config) => println!("valid: {:?}", config.images.iter().map(|i| &i.name).collect::<Vec<_>>()),
        Err(errors) => println!("{errors}"),
    }
}

fn from_env_in_child(vars: &[(&str, &OsStr)]) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|error| panic!("the test binary: {error}"));
    let output = Command::new(exe)
        .args(["--ignored", "--exact", "print_config_from_env", "--nocapture", "--test-threads=1"])
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("the child does not run: {error}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn from_env_reads_the_process_environment() {
    let stdout = from_env_in_child(&[
        ("IMAGES", OsStr::new("theia=quay.io/eclipse/che-theia:next;\n  exec=quay.io/eclipse/che-machine-exec:next;")),
        ("DEPLOYMENT_NAME", OsStr::new("kubernetes-image-puller")),
        ("HOME", OsStr::new("/root")),
    ]);
    assert!(stdout.contains(r#"valid: ["theia", "exec"]"#), "{stdout}");
}

#[test]
fn from_env_reports_problems_and_non_utf8_values() {
    let stdout = from_env_in_child(&[
        ("IMAGES", OsStr::from_bytes(b"theia=quay.io/\xffeclipse")),
        ("CACHING_INTERVAL_HOURS", OsStr::new("0")),
        ("IMAGE", OsStr::new("x")),
    ]);
    for line in [
        "invalid configuration: 3 errors, 1 warning",
        "error: IMAGES: is not valid UTF-8",
        "error: DEPLOYMENT_NAME: is not set",
        "error: CACHING_INTERVAL_HOURS: \"0\" is zero",
        "warning: IMAGE: kip does not read this variable; did you mean IMAGES?",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("IMAGES: is not set"), "an unreadable value is reported once:\n{stdout}");
}
