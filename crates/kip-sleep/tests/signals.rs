//! SIGTERM and SIGINT end a sleep at once with exit code 0, also when `kip-sleep` is PID 1,
//! where the kernel applies no default signal actions.

// A test that cannot set up or read a result fails loudly, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{HANG_BOUND, Running, bin, send_signal, wait_until_sleeping};

fn signal_ends_sleep_with_0(signal: &str) {
    let mut sleeper = Running::sleep("1h");
    wait_until_sleeping(sleeper.pid());
    send_signal(sleeper.pid(), signal);
    let status = sleeper.wait_bounded();
    assert_eq!(status.code(), Some(0), "after SIG{signal}: {status}");
}

#[test]
fn sigterm_ends_the_sleep_with_0() {
    signal_ends_sleep_with_0("TERM");
}

#[test]
fn sigint_ends_the_sleep_with_0() {
    signal_ends_sleep_with_0("INT");
}

#[test]
fn sigterm_as_early_as_it_is_blocked_ends_the_sleep() {
    // Several sleepers signalled as soon as their signals are blocked: whether a signal lands
    // before the wait starts (and is queued) or during it, each must end with 0.
    for _ in 0..5 {
        signal_ends_sleep_with_0("TERM");
    }
}

/// The child of `parent`, once it has one.
fn child_of(parent: u32) -> u32 {
    let start = Instant::now();
    loop {
        let children = fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(start.elapsed() < HANG_BOUND, "{parent} never started its child");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_ends_the_sleep_when_it_is_pid_1() {
    // A new PID namespace makes the sleeper its PID 1, as in a container.
    let probe = Command::new("unshare").args(["--pid", "--fork", "true"]).output();
    if !probe.as_ref().is_ok_and(|output| output.status.success()) {
        eprintln!("skipped: cannot create a PID namespace here ({probe:?})");
        return;
    }
    // --kill-child: should the test fail and kill unshare, the sleeper goes with it.
    let mut unshare = Running::spawn(Command::new("unshare").args(["--pid", "--fork", "--kill-child", bin(), "1h"]));
    let sleeper = child_of(unshare.pid());
    let ns_pid = fs::read_to_string(format!("/proc/{sleeper}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:").map(|pids| pids.split_whitespace().last().unwrap().to_owned()))
        .unwrap();
    assert_eq!(ns_pid, "1");
    wait_until_sleeping(sleeper);
    send_signal(sleeper, "TERM");
    // unshare reports its child's exit status.
    let status = unshare.wait_bounded();
    assert_eq!(status.code(), Some(0), "{status}");
}
