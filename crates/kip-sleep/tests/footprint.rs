//! The executable runs anywhere and costs little: statically linked with no program
//! interpreter (so `FROM scratch` images can run it), under 64 KiB on disk, and under 200 KiB
//! resident while it sleeps; and it runs in a root that holds nothing else.

// A test that cannot set up or read a result fails loudly, which is what it should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::Command;

use common::{Running, bin, scratch_dir, send_signal, status_kib, wait_until_sleeping};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;

fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().unwrap())
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

/// The `p_type` of every program header of a little-endian ELF64 file.
fn program_header_types(elf: &[u8]) -> Vec<u32> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not ELF64");
    assert_eq!(elf[5], 1, "not little-endian");
    let phoff = usize::try_from(u64_at(elf, 0x20)).unwrap();
    let phentsize = usize::from(u16_at(elf, 0x36));
    let phnum = usize::from(u16_at(elf, 0x38));
    (0..phnum).map(|i| u32_at(elf, phoff + i * phentsize)).collect()
}

#[test]
fn executable_is_static_with_no_interpreter() {
    let elf = fs::read(bin()).unwrap();
    let types = program_header_types(&elf);
    assert!(!types.is_empty());
    assert!(!types.contains(&PT_INTERP), "has a program interpreter: {types:?}");
    assert!(!types.contains(&PT_DYNAMIC), "is dynamically linked: {types:?}");
    // A fixed-address executable: nothing needs relocating at start.
    assert_eq!(u16_at(&elf, 0x10), ET_EXEC);
}

#[test]
fn executable_is_under_64_kib() {
    let size = fs::metadata(bin()).unwrap().len();
    assert!(size < 64 * 1024, "{size} bytes");
}

#[test]
fn resident_memory_while_sleeping_is_under_200_kib() {
    let mut sleeper = Running::sleep("1h");
    wait_until_sleeping(sleeper.pid());
    let rss = status_kib(sleeper.pid(), "VmRSS");
    assert!(rss < 200, "VmRSS {rss} kB");
    send_signal(sleeper.pid(), "TERM");
    assert_eq!(sleeper.wait_bounded().code(), Some(0));
}

/// An empty root with only the executable in it, as in a `FROM scratch` image: no loader, no
/// libc, no /proc, no /dev.
#[test]
fn runs_in_an_otherwise_empty_root() {
    let root = scratch_dir("empty_root");
    fs::copy(bin(), root.join("kip-sleep")).unwrap();
    let run = |arg: &str| Command::new("chroot").arg(&root).args(["/kip-sleep", arg]).output();
    let probe = run("--version");
    if !probe.as_ref().is_ok_and(|output| output.status.success()) {
        eprintln!("skipped: cannot chroot here ({probe:?})");
        return;
    }
    assert_eq!(String::from_utf8(probe.unwrap().stdout).unwrap(), format!("kip-sleep {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(run("10ms").unwrap().status.code(), Some(0));
    let refused = run("10d").unwrap();
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .ends_with("Usage: /kip-sleep <duration>\nSee https://pkg.go.dev/time#ParseDuration\n")
    );
}
