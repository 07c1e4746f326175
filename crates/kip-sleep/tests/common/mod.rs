//! Helpers for the tests that run the built `kip-sleep` executable.

#![allow(dead_code)] // each test crate uses its own subset

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Far beyond any duration a test expects, so that a slow machine cannot make a test fail;
/// reaching it means the process hangs.
pub const HANG_BOUND: Duration = Duration::from_secs(60);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kip-sleep")
}

/// A fresh, empty directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `kip-sleep` with `argv0` as its program name and `args`, to the end.
pub fn run_as(argv0: &str, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    Command::new(bin()).arg0(argv0).args(args).stdin(Stdio::null()).output().unwrap()
}

/// A running process that is killed if the test ends early, so no sleeper outlives a failure.
pub struct Running(pub Child);

impl Running {
    pub fn spawn(command: &mut Command) -> Running {
        Running(command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }

    pub fn sleep(duration: &str) -> Running {
        Running::spawn(Command::new(bin()).arg(duration))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn still_running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, failing the test if it does not come within [`HANG_BOUND`].
    pub fn wait_bounded(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < HANG_BOUND, "process {} still running after {HANG_BOUND:?}", self.pid());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(target_arch = "x86_64")]
const SYS_RT_SIGTIMEDWAIT: &str = "128";
#[cfg(target_arch = "aarch64")]
const SYS_RT_SIGTIMEDWAIT: &str = "137";

/// SIGINT and SIGTERM in /proc's signal mask notation.
const TERMINATION_MASK: u64 = (1 << 1) | (1 << 14);

/// Whether SIGTERM/SIGINT sent to `pid` now would be taken by the sleep: the process is
/// `kip-sleep` already (not a parent's fork that has yet to exec it, whose own signal mask
/// would mislead), and the signals are blocked (queued until the wait), or the wait is under
/// way. (During the wait the kernel shows them unblocked, hence the second check.)
fn takes_termination_signals(pid: u32) -> bool {
    let running_us = fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|exe| fs::canonicalize(bin()).is_ok_and(|ours| exe == ours));
    if !running_us {
        return false;
    }
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    let blocked = status
        .lines()
        .find_map(|line| line.strip_prefix("SigBlk:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0);
    if blocked & TERMINATION_MASK == TERMINATION_MASK {
        return true;
    }
    let in_wait_syscall = fs::read_to_string(format!("/proc/{pid}/syscall"))
        .is_ok_and(|line| line.split_whitespace().next() == Some(SYS_RT_SIGTIMEDWAIT));
    let in_wait_kernel = fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("sigtimedwait"));
    in_wait_syscall || in_wait_kernel
}

/// Waits until `pid` has set up its signal handling (see `takes_termination_signals`).
pub fn wait_until_sleeping(pid: u32) {
    let start = Instant::now();
    while !takes_termination_signals(pid) {
        assert!(start.elapsed() < HANG_BOUND, "process {pid} never started waiting for signals");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `signal` (a name such as `TERM`) to `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// The value of `field` (in kB) in /proc/`pid`/status.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find_map(|line| line.strip_prefix(field)).unwrap_or_else(|| panic!("no {field}"));
    line.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse().unwrap()
}
