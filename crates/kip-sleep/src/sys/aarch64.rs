//! aarch64: the entry point and raw system calls (`svc #0`: number in x8, arguments in x0-x3,
//! the result comes back in x0; nothing else is clobbered).

use core::arch::{asm, naked_asm};

/// System call numbers (the generic table, include/uapi/asm-generic/unistd.h).
pub mod nr {
    pub const FCHMOD: usize = 52;
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const EXIT_GROUP: usize = 94;
    pub const CLOCK_GETTIME: usize = 113;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGTIMEDWAIT: usize = 137;
}

/// The process entry point. The kernel starts it with sp pointing at `argc` (16-byte aligned,
/// as the ABI wants for calls).
///
/// # Safety
/// Only the kernel calls this, once, at process start.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        // No caller frame: zero frame pointer and link register end backtraces here.
        "mov x29, xzr",
        "mov x30, xzr",
        "mov x0, sp",
        "bl {start}",
        "brk #0x1",
        start = sym super::start,
    )
}

/// # Safety
/// The caller vouches that the call with these arguments touches only memory it may touch.
#[inline(always)]
pub unsafe fn syscall1(number: usize, a1: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the memory the call touches; the asm clobbers only what
    // is declared.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a1 as isize => ret, options(nostack));
    }
    ret
}

/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall2(number: usize, a1: usize, a2: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a1 as isize => ret, in("x1") a2, options(nostack));
    }
    ret
}

/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall3(number: usize, a1: usize, a2: usize, a3: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a1 as isize => ret, in("x1") a2, in("x2") a3,
            options(nostack));
    }
    ret
}

/// # Safety
/// As for [`syscall1`].
#[inline(always)]
pub unsafe fn syscall4(number: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: isize;
    // SAFETY: as in `syscall1`.
    unsafe {
        asm!("svc #0", in("x8") number, inlateout("x0") a1 as isize => ret, in("x1") a2, in("x2") a3,
            in("x3") a4, options(nostack));
    }
    ret
}

pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group touches no memory and does not return.
    unsafe {
        asm!("svc #0", in("x8") nr::EXIT_GROUP, in("x0") code as isize, options(noreturn, nostack));
    }
}
