//! `kip-sleep`: sleeps for a Go-syntax duration and exits 0 at once on SIGTERM or SIGINT, or
//! copies itself somewhere (`--copy-to`), in a few kilobytes with no libc, so it runs in any
//! container image. The decisions are in the library; this file carries them out through the
//! raw system calls of [`sys`], the one module with `unsafe` code.

#![no_std]
#![no_main]

mod fd_sink;
mod sys;

use kip_sleep::cli::{self, Action, CopyStep, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use kip_sleep::deadline::{deadline_after, next_wait};
use kip_sleep::errno::Errno;
use kip_sleep::out::Sink;

use crate::fd_sink::FdSink;
use crate::sys::{Fd, Wake};

/// The program proper, called by the entry point with the process arguments.
fn main(argv: sys::Args) -> ! {
    // First of all, so that a SIGTERM arriving from here on waits in the queue for the sleep to
    // take it. Unblocked, it would kill the process by default action, or, when the process is
    // PID 1 of a container and so has no default actions, be dropped.
    let blocked = sys::block_termination_signals();

    let invocation = cli::decide(argv.iter());
    let code = match invocation.action {
        Action::Sleep(nanos) => match blocked.and_then(|()| sleep(nanos)) {
            Ok(()) => EXIT_OK,
            Err(errno) => {
                cli::put_wait_error(&mut FdSink::stderr(), errno);
                EXIT_FAILURE
            }
        },
        Action::ExitNow => EXIT_OK,
        Action::CopyTo(path) => match copy_self_to(path) {
            Ok(()) => EXIT_OK,
            Err((step, errno)) => {
                cli::put_copy_error(&mut FdSink::stderr(), path.to_bytes(), step, errno);
                EXIT_FAILURE
            }
        },
        Action::Help => {
            cli::put_help(&mut FdSink::stdout(), invocation.program);
            EXIT_OK
        }
        Action::Version => {
            cli::put_version(&mut FdSink::stdout());
            EXIT_OK
        }
        Action::Usage(problem) => {
            cli::put_usage_error(&mut FdSink::stderr(), invocation.program, &problem);
            EXIT_USAGE
        }
    };
    sys::exit(code)
}

/// Waits until `nanos` have passed on the monotonic clock or SIGTERM/SIGINT arrives.
fn sleep(nanos: u64) -> Result<(), Errno> {
    let deadline = deadline_after(sys::monotonic_now()?, nanos);
    while let Some(wait) = next_wait(sys::monotonic_now()?, deadline) {
        match sys::wait_for_termination_signal(&wait) {
            Ok(Wake::Signal) => return Ok(()),
            // A slice ended, or a stop/continue cut it short: measure again.
            Ok(Wake::TimedOut) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Copies the running executable to `path`, created or truncated, mode exactly 0755.
fn copy_self_to(path: &core::ffi::CStr) -> Result<(), (CopyStep, Errno)> {
    let source = Fd::open_read(cli::SELF_EXE).map_err(|e| (CopyStep::OpenSource, e))?;
    let target = Fd::create_truncate(path, 0o755).map_err(|e| (CopyStep::CreateTarget, e))?;
    // The mode given at creation passes through the umask and does not apply at all to a file
    // that already existed: set it outright.
    target.set_mode(0o755).map_err(|e| (CopyStep::SetMode, e))?;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = source.read(&mut buffer).map_err(|e| (CopyStep::Read, e))?;
        let Some(chunk) = buffer.get(..read).filter(|chunk| !chunk.is_empty()) else { break };
        target.write_all(chunk).map_err(|e| (CopyStep::Write, e))?;
    }
    // Closing reports write-back errors on some file systems (NFS, quotas).
    target.close().map_err(|e| (CopyStep::CloseTarget, e))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Formatting the panic message would pull in core::fmt; a fixed line says enough.
    let mut err = FdSink::stderr();
    err.put(b"kip-sleep: internal error\n");
    err.flush();
    sys::exit(EXIT_FAILURE)
}
