//! A buffered [`Sink`] over a file descriptor, for messages on stdout and stderr: a message is
//! assembled and written in as few `write` calls as possible, so lines from concurrent writers
//! do not interleave mid-line.

use kip_sleep::out::Sink;

use crate::sys;

const CAPACITY: usize = 512;

pub struct FdSink {
    fd: i32,
    buffer: [u8; CAPACITY],
    len: usize,
}

impl FdSink {
    pub fn stdout() -> FdSink {
        FdSink { fd: 1, buffer: [0; CAPACITY], len: 0 }
    }

    pub fn stderr() -> FdSink {
        FdSink { fd: 2, buffer: [0; CAPACITY], len: 0 }
    }

    /// Writes out what is buffered. A failure is ignored: there is nowhere left to report it.
    pub fn flush(&mut self) {
        let _ = sys::write_all(self.fd, &self.buffer[..self.len]);
        self.len = 0;
    }
}

impl Sink for FdSink {
    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() > CAPACITY - self.len {
            self.flush();
        }
        if bytes.len() > CAPACITY {
            let _ = sys::write_all(self.fd, bytes);
            return;
        }
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl Drop for FdSink {
    fn drop(&mut self) {
        self.flush();
    }
}
