//! The only `unsafe` code of `kip-sleep`: the process entry point and the handful of Linux
//! system calls it needs, each wrapped in a safe function. The raw calls and `_start` are per
//! architecture (`x86_64.rs`, `aarch64.rs`); the numbers and structures shared by both are here.

use core::ffi::{CStr, c_char};

use kip_sleep::deadline::Timespec;
use kip_sleep::errno::Errno;

#[cfg(not(target_os = "linux"))]
compile_error!("kip-sleep speaks the Linux system call interface only");

#[cfg(target_arch = "aarch64")]
#[path = "aarch64.rs"]
mod arch;
#[cfg(target_arch = "x86_64")]
#[path = "x86_64.rs"]
mod arch;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("kip-sleep supports x86_64 and aarch64 only");

mod mem;

use arch::nr;

// Values shared by x86_64 and aarch64 (the generic Linux ABI).
const SIGINT: usize = 2;
const SIGTERM: usize = 15;
const SIG_BLOCK: usize = 0;
/// The kernel's signal set is 64 bits; rt_sig* calls insist on being told so.
const SIGSET_SIZE: usize = 8;
const CLOCK_MONOTONIC: usize = 1;
const AT_FDCWD: isize = -100;
const O_RDONLY: usize = 0;
const O_WRONLY: usize = 0o1;
const O_CREAT: usize = 0o100;
const O_TRUNC: usize = 0o1000;
const O_CLOEXEC: usize = 0o2000000;

/// The set {SIGINT, SIGTERM}: bit `n - 1` stands for signal `n`.
const TERMINATION_SIGNALS: u64 = (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1));

/// Turns a raw return value into a result: the kernel returns `-errno` for failures, which are
/// the values in `-4095..=-1`.
fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) { Err(Errno(-ret as i32)) } else { Ok(ret as usize) }
}

/// The process arguments, as the kernel laid them out on the initial stack.
pub struct Args {
    pointers: &'static [*const c_char],
}

impl Args {
    /// # Safety
    /// `stack` must be the stack pointer the kernel gave the process at entry: `argc`, then
    /// `argc` pointers to NUL-terminated strings.
    unsafe fn from_initial_stack(stack: *const usize) -> Args {
        // SAFETY: per the caller's contract, `stack` points at argc, followed by argc argument
        // pointers; the kernel keeps that memory for the life of the process and nothing
        // writes to it.
        let pointers = unsafe {
            let argc = *stack;
            core::slice::from_raw_parts(stack.add(1).cast::<*const c_char>(), argc)
        };
        Args { pointers }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static CStr> + '_ {
        self.pointers.iter().map(|&pointer| {
            // SAFETY: each of the first argc pointers is a NUL-terminated string that lives,
            // unchanged, as long as the process (see `from_initial_stack`).
            unsafe { CStr::from_ptr(pointer) }
        })
    }
}

/// Where `_start` lands, with the initial stack pointer.
///
/// # Safety
/// Only `_start` calls this, exactly once, with the stack pointer the kernel gave it.
unsafe extern "C" fn start(stack: *const usize) -> ! {
    // SAFETY: forwarded from our caller's contract.
    let args = unsafe { Args::from_initial_stack(stack) };
    crate::main(args)
}

/// Ends the process with `code`.
pub fn exit(code: i32) -> ! {
    arch::exit_group(code)
}

/// Blocks SIGTERM and SIGINT, so they queue up for [`wait_for_termination_signal`].
pub fn block_termination_signals() -> Result<(), Errno> {
    let set = TERMINATION_SIGNALS;
    // SAFETY: `set` is a valid 8-byte signal set for the duration of the call; the old set is
    // not asked for (null).
    let ret = unsafe { arch::syscall4(nr::RT_SIGPROCMASK, SIG_BLOCK, (&raw const set) as usize, 0, SIGSET_SIZE) };
    check(ret).map(drop)
}

/// The current time on `CLOCK_MONOTONIC`.
pub fn monotonic_now() -> Result<Timespec, Errno> {
    let mut now = Timespec::ZERO;
    // SAFETY: `now` has the layout of the kernel's 64-bit timespec and is writable.
    let ret = unsafe { arch::syscall2(nr::CLOCK_GETTIME, CLOCK_MONOTONIC, (&raw mut now) as usize) };
    check(ret).map(|_| now)
}

/// How a wait ended.
pub enum Wake {
    /// SIGTERM or SIGINT arrived (and was consumed).
    Signal,
    /// The timeout ran out.
    TimedOut,
}

/// Waits up to `timeout` for SIGTERM or SIGINT, which must be blocked.
pub fn wait_for_termination_signal(timeout: &Timespec) -> Result<Wake, Errno> {
    let set = TERMINATION_SIGNALS;
    // SAFETY: `set` and `timeout` are valid for the call (a signal set of SIGSET_SIZE bytes and
    // a 64-bit timespec); no siginfo is asked for (null).
    let ret = unsafe {
        arch::syscall4(
            nr::RT_SIGTIMEDWAIT,
            (&raw const set) as usize,
            0,
            core::ptr::from_ref(timeout) as usize,
            SIGSET_SIZE,
        )
    };
    match check(ret) {
        Ok(_) => Ok(Wake::Signal),
        Err(Errno::EAGAIN) => Ok(Wake::TimedOut),
        Err(errno) => Err(errno),
    }
}

/// Writes all of `bytes` to `fd`, going on after short writes and interruptions.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is readable for its whole length during the call.
        let ret = unsafe { arch::syscall3(nr::WRITE, fd as usize, bytes.as_ptr() as usize, bytes.len()) };
        match check(ret) {
            // The kernel never reports more than it was given.
            Ok(written) => bytes = bytes.get(written..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// An open file descriptor. Not closed on drop: the process ends right after using one, and
/// the one whose close matters is closed explicitly.
pub struct Fd(i32);

impl Fd {
    fn open(path: &CStr, flags: usize, mode: usize) -> Result<Fd, Errno> {
        // SAFETY: `path` is NUL-terminated and readable during the call.
        let ret = unsafe { arch::syscall4(nr::OPENAT, AT_FDCWD as usize, path.as_ptr() as usize, flags, mode) };
        // A descriptor is a small non-negative int.
        check(ret).map(|fd| Fd(fd as i32))
    }

    pub fn open_read(path: &CStr) -> Result<Fd, Errno> {
        Fd::open(path, O_RDONLY | O_CLOEXEC, 0)
    }

    /// Opens `path` for writing, creating it with `mode` (less the umask) or emptying it.
    pub fn create_truncate(path: &CStr, mode: usize) -> Result<Fd, Errno> {
        Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    }

    pub fn set_mode(&self, mode: usize) -> Result<(), Errno> {
        // SAFETY: no memory is passed.
        let ret = unsafe { arch::syscall2(nr::FCHMOD, self.0 as usize, mode) };
        check(ret).map(drop)
    }

    /// Reads what is available into `buffer`; 0 at the end of the file.
    pub fn read(&self, buffer: &mut [u8]) -> Result<usize, Errno> {
        loop {
            // SAFETY: `buffer` is writable for its whole length during the call.
            let ret = unsafe { arch::syscall3(nr::READ, self.0 as usize, buffer.as_mut_ptr() as usize, buffer.len()) };
            match check(ret) {
                Err(Errno::EINTR) => {}
                other => return other,
            }
        }
    }

    pub fn write_all(&self, bytes: &[u8]) -> Result<(), Errno> {
        write_all(self.0, bytes)
    }

    pub fn close(self) -> Result<(), Errno> {
        // SAFETY: no memory is passed; `self` is consumed, so the descriptor is not used again.
        let ret = unsafe { arch::syscall1(nr::CLOSE, self.0 as usize) };
        check(ret).map(drop)
    }
}
