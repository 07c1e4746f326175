//! What the benchmarks share: the set of cached images they publish on the simulator's
//! registry, reading a process's memory and CPU time from `/proc`, and the coverage tracker
//! (how long each node went without a running caching pod).
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod coverage;

use std::sync::OnceLock;
use std::time::Duration;

use kip_sim::Sim;

pub const MIB: u64 = 1024 * 1024;

/// An integer or float setting from the environment, or its default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One image the benchmarks cache.
#[derive(Clone, Debug)]
pub struct BenchImage {
    /// The container name (the `IMAGES` entry's name).
    pub name: String,
    /// `HOST/workspace/image-NN:next` on the simulator's registry.
    pub reference: String,
    pub size_bytes: u64,
}

/// `count` images of workspace-like sizes, 100 MiB to about 1 GiB (100 + 45 x i MiB), published
/// as content `v1` on the simulator's registry.
pub fn publish_images(sim: &Sim, count: usize) -> Vec<BenchImage> {
    let host = sim.registry_host();
    let catalog = sim.cluster().expect("a cluster").catalog();
    (0..count)
        .map(|i| {
            let image = BenchImage {
                name: format!("image-{i:02}"),
                reference: format!("{host}/workspace/image-{i:02}:next"),
                size_bytes: (100 + 45 * i as u64) * MIB,
            };
            catalog.publish_content(&image.reference, "v1", image.size_bytes);
            image
        })
        .collect()
}

/// The `IMAGES` value for `images`.
pub fn images_var(images: &[BenchImage]) -> String {
    images.iter().map(|i| format!("{}={};", i.name, i.reference)).collect()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`); 0 when the process is gone.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of a process so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    // From there, field 3 (state) is the first; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let mut fields = rest.split_whitespace().skip(11);
    let ticks: u64 = fields.by_ref().take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The load average of the machine (1, 5 and 15 minutes), as `/proc/loadavg` says.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// `1,234,567`
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * MIB as f64))
}
