//! The built executable's command line: exit codes and the exact text for bad input, which is
//! what the Go image puller's `sleep` prints, and the durations that return.

// A test that cannot set up or read a result fails loudly, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Running, bin, run_as};

const USAGE: &str = "Usage: sleep <duration>\nSee https://pkg.go.dev/time#ParseDuration\n";

#[test]
fn wrong_argument_counts_print_the_go_usage_and_exit_255() {
    for args in [&[][..], &["1s", "2s"][..], &["1s", "2s", "3s"][..]] {
        let output = run_as("sleep", args);
        assert_eq!(output.status.code(), Some(255), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), USAGE, "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn usage_names_the_program_as_called() {
    let output = run_as("/kip/sleep", &[]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Usage: /kip/sleep <duration>\nSee https://pkg.go.dev/time#ParseDuration\n"
    );
}

#[test]
fn bad_durations_print_the_go_error_then_the_usage_and_exit_255() {
    let cases = [
        ("10d", r#"time: unknown unit "d" in duration "10d""#),
        ("5", r#"time: missing unit in duration "5""#),
        ("", r#"time: invalid duration """#),
        ("-", r#"time: invalid duration "-""#),
        (".s", r#"time: invalid duration ".s""#),
        ("1h-1m", r#"time: unknown unit "h-" in duration "1h-1m""#),
        ("--bogus", r#"time: invalid duration "--bogus""#),
        ("9223372036854775808ns", r#"time: invalid duration "9223372036854775808ns""#),
        ("12µ", r#"time: unknown unit "\xc2\xb5" in duration "12\xc2\xb5""#),
    ];
    for (arg, error) in cases {
        let output = run_as("sleep", &[arg]);
        assert_eq!(output.status.code(), Some(255), "{arg:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), format!("Invalid duration: {error}\n{USAGE}"), "{arg:?}");
        assert!(output.stdout.is_empty(), "{arg:?}");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_escaped_as_go_does() {
    let output = Command::new(bin()).arg(OsStr::from_bytes(b"1\xffs")).output().unwrap();
    assert_eq!(output.status.code(), Some(255));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("Invalid duration: time: unknown unit \"\\xffs\" in duration \"1\\xffs\"\n"),
        "{stderr}"
    );
}

#[test]
fn zero_and_negative_durations_exit_0_silently() {
    for arg in ["0", "+0", "-0", "0s", "0h0m", "-5s", "-720h", "0.1ns", "-9223372036854775808ns"] {
        let output = run_as("sleep", &[arg]);
        assert_eq!(output.status.code(), Some(0), "{arg:?}");
        assert!(output.stdout.is_empty() && output.stderr.is_empty(), "{arg:?}");
    }
}

#[test]
fn a_short_sleep_returns_0_and_not_before_its_time() {
    let start = Instant::now();
    let output = run_as("sleep", &["300ms"]);
    let elapsed = start.elapsed();
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    // Only the lower bound: an upper one would depend on the machine's load.
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

#[test]
fn a_sleep_runs_for_its_duration_then_ends() {
    let start = Instant::now();
    let mut sleeper = Running::sleep("1.5s");
    std::thread::sleep(Duration::from_millis(100));
    assert!(sleeper.still_running());
    let status = sleeper.wait_bounded();
    assert_eq!(status.code(), Some(0));
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn help_and_version_print_to_stdout() {
    let help = run_as("sleep", &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.starts_with("Usage: sleep <duration>\n       sleep --copy-to <path>\n"), "{text}");
    assert!(help.stderr.is_empty());

    let version = run_as("sleep", &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(String::from_utf8(version.stdout).unwrap(), format!("kip-sleep {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn copy_to_without_a_path_is_a_usage_error() {
    for args in [&["--copy-to"][..], &["--copy-to", "a", "b"][..]] {
        let output = run_as("sleep", args);
        assert_eq!(output.status.code(), Some(255), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "Usage: sleep --copy-to <path>\n", "{args:?}");
    }
}
