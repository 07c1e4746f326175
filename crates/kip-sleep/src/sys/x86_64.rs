//! x86_64: the entry point and raw system calls (`syscall`: number in rax, arguments in rdi,
//! rsi, rdx, r10; rcx and r11 are clobbered; the result comes back in rax).

use core::arch::{asm, naked_asm};

/// System call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const FCHMOD: usize = 91;
    pub const RT_SIGTIMEDWAIT: usize = 128;
    pub const CLOCK_GETTIME: usize = 228;
    pub const EXIT_GROUP: usize = 231;
    pub const OPENAT: usize = 257;
}

/// The process entry point. The kernel starts it with rsp pointing at `argc` (16-byte aligned)
/// and no return address.
///
/// # Safety
/// Only the kernel calls this, once, at process start.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        // No caller frame: a zero frame pointer ends backtraces here.
        "xor ebp, ebp",
        "mov rdi, rsp",
        // The ABI wants rsp 16-byte aligned at a call.
        "and rsp, -16",
        "call {start}",
        "ud2",
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
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a1,
            lateout("rcx") _, lateout("r11") _, options(nostack));
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
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a1, in("rsi") a2,
            lateout("rcx") _, lateout("r11") _, options(nostack));
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
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a1, in("rsi") a2, in("rdx") a3,
            lateout("rcx") _, lateout("r11") _, options(nostack));
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
        asm!("syscall", inlateout("rax") number as isize => ret, in("rdi") a1, in("rsi") a2, in("rdx") a3,
            in("r10") a4, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group touches no memory and does not return.
    unsafe {
        asm!("syscall", in("rax") nr::EXIT_GROUP, in("rdi") code as isize, options(noreturn, nostack));
    }
}
