//! Everything `kip-sleep` decides without touching the system: Go's duration grammar, the
//! command line, the exact text of every message, and the arithmetic of a long wait.
//!
//! The binary (`main.rs`) only carries these decisions out with raw system calls. Keeping them
//! here, in safe code that builds both `no_std` (for the binary) and with `std` (under
//! `cargo test`), lets every rule be unit-tested as plain Rust.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod cli;
pub mod deadline;
pub mod duration;
pub mod errno;
pub mod out;
