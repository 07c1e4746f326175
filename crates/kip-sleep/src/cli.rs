//! The command line: what the arguments ask for, the exit codes, and the exact text of every
//! message.
//!
//! `kip-sleep DURATION` behaves like the Go image puller's `sleep`, including its messages and
//! its exit code 255 for bad input. `--copy-to PATH`, `--help` and `--version` are additions;
//! Go's `sleep` rejects each of them as an invalid duration, so no valid use changes meaning.

use core::ffi::CStr;

use crate::duration::{DurationError, parse_duration};
use crate::errno::Errno;
use crate::out::Sink;

/// Slept the whole duration, woke on SIGTERM or SIGINT, or did what was asked.
pub const EXIT_OK: i32 = 0;
/// A copy or a wait failed.
pub const EXIT_FAILURE: i32 = 1;
/// Wrong arguments or a bad duration: Go's `os.Exit(-1)`, which the system reports as 255.
pub const EXIT_USAGE: i32 = 255;

/// Where the executable copies itself from.
pub const SELF_EXE: &CStr = c"/proc/self/exe";

/// What the arguments ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Sleep this many nanoseconds (more than zero).
    Sleep(u64),
    /// A zero or negative duration: exit at once, as Go's `time.Sleep` returns at once.
    ExitNow,
    /// Copy the running executable to this path, mode 0755.
    CopyTo(&'a CStr),
    Help,
    Version,
    /// Print the problem and the usage on stderr, exit [`EXIT_USAGE`].
    Usage(Problem<'a>),
}

/// Why the arguments were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem<'a> {
    /// Not exactly one operand.
    ArgumentCount,
    BadDuration(DurationError<'a>),
    /// `--copy-to` without exactly one path after it.
    CopyToNeedsPath,
}

/// The arguments, decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation<'a> {
    /// How the program was called, for the usage line (empty if the system gave no `argv[0]`).
    pub program: &'a [u8],
    pub action: Action<'a>,
}

/// Decides what `argv` (program name first) asks for.
pub fn decide<'a>(mut argv: impl ExactSizeIterator<Item = &'a CStr>) -> Invocation<'a> {
    let program = argv.next().map_or(&b""[..], CStr::to_bytes);
    let operands = argv.len();
    let first = argv.next();
    let second = argv.next();
    let action = match (first, second) {
        (Some(flag), Some(path)) if flag == c"--copy-to" && operands == 2 => Action::CopyTo(path),
        (Some(flag), _) if flag == c"--copy-to" => Action::Usage(Problem::CopyToNeedsPath),
        (Some(flag), None) if flag == c"--help" => Action::Help,
        (Some(flag), None) if flag == c"--version" => Action::Version,
        (Some(duration), None) => match parse_duration(duration.to_bytes()) {
            Ok(nanos) if nanos > 0 => Action::Sleep(nanos.unsigned_abs()),
            Ok(_) => Action::ExitNow,
            Err(error) => Action::Usage(Problem::BadDuration(error)),
        },
        _ => Action::Usage(Problem::ArgumentCount),
    };
    Invocation { program, action }
}

/// Writes the stderr text for a refused command line. For a wrong argument count and a bad
/// duration it is, byte for byte, what the Go `sleep` prints.
pub fn put_usage_error(sink: &mut impl Sink, program: &[u8], problem: &Problem<'_>) {
    match problem {
        Problem::ArgumentCount => put_usage(sink, program),
        Problem::BadDuration(error) => {
            sink.put(b"Invalid duration: ");
            error.put_message(sink);
            sink.put(b"\n");
            put_usage(sink, program);
        }
        Problem::CopyToNeedsPath => {
            sink.put(b"Usage: ");
            sink.put(program);
            sink.put(b" --copy-to <path>\n");
        }
    }
}

fn put_usage(sink: &mut impl Sink, program: &[u8]) {
    sink.put(b"Usage: ");
    sink.put(program);
    sink.put(b" <duration>\nSee https://pkg.go.dev/time#ParseDuration\n");
}

/// Writes the `--help` text (for stdout).
pub fn put_help(sink: &mut impl Sink, program: &[u8]) {
    sink.put(b"Usage: ");
    sink.put(program);
    sink.put(b" <duration>\n       ");
    sink.put(program);
    sink.put(b" --copy-to <path>\n       ");
    sink.put(program);
    sink.put(
        b" --help | --version\n\
          \n\
          Sleeps for <duration>, written as Go's time.ParseDuration reads it: numbers with\n\
          optional fractions and units ns, us, ms, s, m, h, e.g. 720h, 1h30m, 1.5s, 300ms.\n\
          A zero or negative duration returns at once. SIGTERM and SIGINT end the sleep\n\
          with exit code 0, also as PID 1.\n\
          --copy-to copies this executable to <path> with mode 0755.\n\
          Exit codes: 0 done, 1 copy failed, 255 bad arguments.\n\
          See https://pkg.go.dev/time#ParseDuration\n",
    );
}

/// Writes the `--version` line (for stdout).
pub fn put_version(sink: &mut impl Sink) {
    sink.put(b"kip-sleep ");
    sink.put(env!("CARGO_PKG_VERSION").as_bytes());
    sink.put(b"\n");
}

/// A step of `--copy-to` that can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStep {
    OpenSource,
    CreateTarget,
    SetMode,
    Read,
    Write,
    CloseTarget,
}

/// Writes the stderr line for a failed `--copy-to`, naming the file, the step and the error.
pub fn put_copy_error(sink: &mut impl Sink, target: &[u8], step: CopyStep, errno: Errno) {
    let (what, file) = match step {
        CopyStep::OpenSource => (&b"cannot open "[..], SELF_EXE.to_bytes()),
        CopyStep::CreateTarget => (&b"cannot create "[..], target),
        CopyStep::SetMode => (&b"cannot set mode 0755 on "[..], target),
        CopyStep::Read => (&b"cannot read "[..], SELF_EXE.to_bytes()),
        CopyStep::Write => (&b"cannot write "[..], target),
        CopyStep::CloseTarget => (&b"cannot finish writing "[..], target),
    };
    sink.put(b"kip-sleep: --copy-to: ");
    sink.put(what);
    sink.put(file);
    sink.put(b": ");
    errno.put(sink);
    sink.put(b"\n");
}

/// Writes the stderr line for a wait that the system refused (not expected to happen).
pub fn put_wait_error(sink: &mut impl Sink, errno: Errno) {
    sink.put(b"kip-sleep: waiting failed: ");
    errno.put(sink);
    sink.put(b"\n");
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
