//! Tests for the command line: decisions and the exact message texts.

use super::*;
use crate::duration::DurationErrorKind;

fn decide_args<'a>(argv: &[&'a CStr]) -> Invocation<'a> {
    decide(argv.iter().copied())
}

fn usage_error(program: &[u8], problem: &Problem<'_>) -> String {
    let mut out = Vec::new();
    put_usage_error(&mut out, program, problem);
    String::from_utf8(out).unwrap()
}

#[test]
fn actions_follow_the_arguments() {
    let cases: &[(&[&CStr], Action<'_>)] = &[
        (&[c"sleep", c"720h"], Action::Sleep(720 * 3_600 * 1_000_000_000)),
        (&[c"sleep", c"1ns"], Action::Sleep(1)),
        (&[c"sleep", c"-9223372036854775808ns"], Action::ExitNow),
        (&[c"sleep", c"0"], Action::ExitNow),
        (&[c"sleep", c"0s"], Action::ExitNow),
        (&[c"sleep", c"-5s"], Action::ExitNow),
        // truncates to zero nanoseconds
        (&[c"sleep", c"0.1ns"], Action::ExitNow),
        (&[c"sleep", c"--copy-to", c"/kip/sleep"], Action::CopyTo(c"/kip/sleep")),
        (&[c"sleep", c"--copy-to", c""], Action::CopyTo(c"")),
        (&[c"sleep", c"--help"], Action::Help),
        (&[c"sleep", c"--version"], Action::Version),
        (&[c"sleep"], Action::Usage(Problem::ArgumentCount)),
        (&[], Action::Usage(Problem::ArgumentCount)),
        (&[c"sleep", c"1s", c"2s"], Action::Usage(Problem::ArgumentCount)),
        (&[c"sleep", c"--help", c"x"], Action::Usage(Problem::ArgumentCount)),
        (&[c"sleep", c"1s", c"--copy-to"], Action::Usage(Problem::ArgumentCount)),
        (&[c"sleep", c"--copy-to"], Action::Usage(Problem::CopyToNeedsPath)),
        (&[c"sleep", c"--copy-to", c"a", c"b"], Action::Usage(Problem::CopyToNeedsPath)),
        (
            &[c"sleep", c"-h"],
            Action::Usage(Problem::BadDuration(DurationError { input: b"-h", kind: DurationErrorKind::Invalid })),
        ),
    ];
    for (argv, want) in cases {
        assert_eq!(decide_args(argv).action, *want, "{argv:?}");
    }
}

#[test]
fn program_name_is_argv0() {
    assert_eq!(decide_args(&[c"/kip/sleep", c"1s"]).program, b"/kip/sleep");
    assert_eq!(decide_args(&[]).program, b"");
}

/// The texts of the Go `sleep`'s own tests: its `Fprintf`s with `os.Args[0]` and the error
/// from `time.ParseDuration`.
#[test]
fn usage_errors_match_the_go_sleep() {
    assert_eq!(
        usage_error(b"too many args", &Problem::ArgumentCount),
        "Usage: too many args <duration>\nSee https://pkg.go.dev/time#ParseDuration\n"
    );
    let Action::Usage(problem) = decide_args(&[c"invalid day duration", c"10d"]).action else {
        panic!("10d was accepted");
    };
    assert_eq!(
        usage_error(b"invalid day duration", &problem),
        "Invalid duration: time: unknown unit \"d\" in duration \"10d\"\n\
         Usage: invalid day duration <duration>\n\
         See https://pkg.go.dev/time#ParseDuration\n"
    );
}

#[test]
fn copy_to_without_path_shows_its_own_usage() {
    assert_eq!(usage_error(b"/kip/sleep", &Problem::CopyToNeedsPath), "Usage: /kip/sleep --copy-to <path>\n");
}

#[test]
fn copy_errors_name_file_step_and_errno() {
    let cases = [
        (CopyStep::OpenSource, Errno(2), "cannot open /proc/self/exe: ENOENT (no such file or directory)"),
        (CopyStep::CreateTarget, Errno(13), "cannot create /kip/sleep: EACCES (permission denied)"),
        (CopyStep::SetMode, Errno(1), "cannot set mode 0755 on /kip/sleep: EPERM (operation not permitted)"),
        (CopyStep::Read, Errno(5), "cannot read /proc/self/exe: EIO (input/output error)"),
        (CopyStep::Write, Errno(28), "cannot write /kip/sleep: ENOSPC (no space left on device)"),
        (CopyStep::CloseTarget, Errno(122), "cannot finish writing /kip/sleep: EDQUOT (disk quota exceeded)"),
    ];
    for (step, errno, want) in cases {
        let mut out = Vec::new();
        put_copy_error(&mut out, b"/kip/sleep", step, errno);
        assert_eq!(String::from_utf8(out).unwrap(), format!("kip-sleep: --copy-to: {want}\n"), "{step:?}");
    }
}

#[test]
fn help_and_version_texts() {
    let mut help = Vec::new();
    put_help(&mut help, b"/kip/sleep");
    let help = String::from_utf8(help).unwrap();
    assert!(help.starts_with("Usage: /kip/sleep <duration>\n       /kip/sleep --copy-to <path>\n"), "{help}");
    assert!(help.contains("\nExit codes: 0 done, 1 copy failed, 255 bad arguments.\n"), "{help}");

    let mut version = Vec::new();
    put_version(&mut version);
    assert_eq!(String::from_utf8(version).unwrap(), format!("kip-sleep {}\n", env!("CARGO_PKG_VERSION")));
}
