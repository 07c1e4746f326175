//! Names for the error numbers a file copy or a wait can meet, so a failure reads
//! `EACCES (permission denied)` rather than a bare number. The values are those of Linux on
//! x86_64 and aarch64, which share the generic numbering.

use crate::out::{Sink, put_decimal};

/// A Linux error number, as a raw system call returns it (negated there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EINTR: Errno = Errno(4);
    pub const EAGAIN: Errno = Errno(11);

    /// The symbolic name and a short description, for the numbers listed here.
    pub fn describe(self) -> Option<(&'static str, &'static str)> {
        let described = match self.0 {
            1 => ("EPERM", "operation not permitted"),
            2 => ("ENOENT", "no such file or directory"),
            4 => ("EINTR", "interrupted system call"),
            5 => ("EIO", "input/output error"),
            6 => ("ENXIO", "no such device or address"),
            9 => ("EBADF", "bad file descriptor"),
            11 => ("EAGAIN", "resource temporarily unavailable"),
            12 => ("ENOMEM", "cannot allocate memory"),
            13 => ("EACCES", "permission denied"),
            14 => ("EFAULT", "bad address"),
            16 => ("EBUSY", "device or resource busy"),
            17 => ("EEXIST", "file exists"),
            18 => ("EXDEV", "invalid cross-device link"),
            19 => ("ENODEV", "no such device"),
            20 => ("ENOTDIR", "not a directory"),
            21 => ("EISDIR", "is a directory"),
            22 => ("EINVAL", "invalid argument"),
            23 => ("ENFILE", "too many open files in system"),
            24 => ("EMFILE", "too many open files"),
            26 => ("ETXTBSY", "text file busy"),
            27 => ("EFBIG", "file too large"),
            28 => ("ENOSPC", "no space left on device"),
            29 => ("ESPIPE", "illegal seek"),
            30 => ("EROFS", "read-only file system"),
            31 => ("EMLINK", "too many links"),
            36 => ("ENAMETOOLONG", "file name too long"),
            38 => ("ENOSYS", "function not implemented"),
            40 => ("ELOOP", "too many levels of symbolic links"),
            75 => ("EOVERFLOW", "value too large for defined data type"),
            95 => ("EOPNOTSUPP", "operation not supported"),
            116 => ("ESTALE", "stale file handle"),
            122 => ("EDQUOT", "disk quota exceeded"),
            _ => return None,
        };
        Some(described)
    }

    /// Writes `NAME (description)`, or `errno N` for a number not listed here.
    pub fn put(self, sink: &mut impl Sink) {
        match self.describe() {
            Some((name, description)) => {
                sink.put(name.as_bytes());
                sink.put(b" (");
                sink.put(description.as_bytes());
                sink.put(b")");
            }
            None => {
                sink.put(b"errno ");
                put_decimal(sink, u64::from(self.0.unsigned_abs()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_numbers_render() {
        for (errno, want) in [
            (Errno(2), "ENOENT (no such file or directory)"),
            (Errno(13), "EACCES (permission denied)"),
            (Errno(21), "EISDIR (is a directory)"),
            (Errno(26), "ETXTBSY (text file busy)"),
            (Errno(30), "EROFS (read-only file system)"),
            (Errno(123), "errno 123"),
        ] {
            let mut out = Vec::new();
            errno.put(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn names_are_unique() {
        let names: Vec<_> = (0..200).filter_map(|n| Errno(n).describe()).map(|(name, _)| name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
    }
}
