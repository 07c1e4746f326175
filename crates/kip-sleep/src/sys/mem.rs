//! The memory functions the compiler calls on its own (`memcpy` for a slice copy, `bcmp` for a
//! slice comparison, `memset` for a zeroed buffer, `strlen` for a C string). Without libc, and
//! with the sysroot's compiler-builtins not providing them for a `-gnu` target, the binary
//! supplies them.
//!
//! The loops use volatile accesses on purpose: a plain byte loop is exactly what the optimizer
//! turns back into a call to `memcpy` or `memset`, which here would be a call to itself.
//! Speed does not matter: the buffers are a few hundred bytes, copied a few times per run.

use core::ffi::c_int;

/// # Safety
/// `dest` and `src` are valid for `n` bytes and do not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: both ranges are valid for n bytes (caller's contract), and i < n.
        unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dest
}

/// # Safety
/// `dest` and `src` are valid for `n` bytes; they may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if dest.cast_const() < src {
        for i in 0..n {
            // SAFETY: as in memcpy; copying upwards never overwrites a byte before reading it
            // when dest is below src.
            unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
        }
    } else {
        for i in (0..n).rev() {
            // SAFETY: as above, copying downwards when dest is at or above src.
            unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
        }
    }
    dest
}

/// # Safety
/// `dest` is valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: c_int, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: dest is valid for n bytes (caller's contract), and i < n. C's memset stores
        // the value converted to unsigned char.
        unsafe { dest.add(i).write_volatile(value as u8) };
    }
    dest
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    for i in 0..n {
        // SAFETY: both are valid for n bytes (caller's contract), and i < n.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return c_int::from(x) - c_int::from(y);
        }
    }
    0
}

/// # Safety
/// As for [`memcmp`]; only zero versus non-zero is meaningful.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> c_int {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut len = 0;
    // SAFETY: every byte up to and including the NUL is readable (caller's contract).
    while unsafe { s.add(len).read_volatile() } != 0 {
        len += 1;
    }
    len
}
