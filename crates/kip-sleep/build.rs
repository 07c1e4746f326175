//! Links `kip-sleep` as a fully static executable without the C runtime: the binary brings its
//! own `_start`, so it runs in any image, `FROM scratch` included, with no dynamic loader.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        // main.rs stops the build with a clear message; these flags would only add noise.
        return;
    }
    for arg in [
        // No crt1.o/crti.o: `_start` is ours.
        "-nostartfiles",
        // No libc, libgcc or any other default library.
        "-nostdlib",
        "-static",
        // A position-independent executable would need a loader (or libc's start-up code) to
        // apply its relocations; a fixed-address one needs neither.
        "-no-pie",
        "-Wl,--gc-sections",
        "-Wl,--build-id=none",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
