//! The `kip` binary as users run it: exit codes, reports, and the process lifecycle of
//! `kip run` (refusing a bad configuration, cleaning up on SIGTERM).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const KIP: &str = env!("CARGO_BIN_EXE_kip");

fn kip(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(KIP).args(args).env_clear().envs(env.iter().copied()).output().expect("run kip")
}

#[test]
fn validate_reports_every_problem_and_exits_2() {
    let out = kip(
        &["validate"],
        &[("IMAGES", "java=;Bad_Name=x:1;a=b=c"), ("CACHING_INTERVAL_HOURS", "0"), ("NODE_SELECTOR", "{")],
    );
    assert_eq!(out.status.code(), Some(2));
    let report = String::from_utf8_lossy(&out.stdout);
    for fragment in [
        "IMAGES[entry 1",
        "IMAGES[entry 2",
        "IMAGES[entry 3",
        "CACHING_INTERVAL_HOURS",
        "NODE_SELECTOR",
        "DEPLOYMENT_NAME",
    ] {
        assert!(report.contains(fragment), "{fragment} missing from:\n{report}");
    }
}

#[test]
fn validate_summarizes_a_valid_configuration() {
    let out = kip(&["validate", "--nodes", "20"], &[("IMAGES", "a=x:1;b=y:2"), ("DEPLOYMENT_NAME", "kip")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("2 images"), "{summary}");
    assert!(summary.contains("20 nodes"), "{summary}");
}

#[test]
fn render_needs_no_cluster() {
    let out = kip(&["render"], &[("IMAGES", "a=x:1"), ("DEPLOYMENT_NAME", "kip"), ("KUBECONFIG", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(0));
    let yaml = String::from_utf8_lossy(&out.stdout);
    let ds: serde_json::Value = serde_saphyr::from_str(&yaml).expect("YAML");
    assert_eq!(ds["kind"], "DaemonSet");
    assert_eq!(ds["spec"]["template"]["spec"]["containers"][0]["name"], "a");
    assert!(ds["metadata"].get("ownerReferences").is_none(), "no owner uid is known without a cluster");
}

#[test]
fn render_and_validate_show_the_reservation_of_the_caching_mode() {
    let env = [("IMAGES", "a=x:1;b=y:2;c=z:3"), ("DEPLOYMENT_NAME", "kip"), ("CACHING_MODE", "init")];
    let out = kip(&["render", "--nodes", "1000"], &env);
    assert_eq!(out.status.code(), Some(0));
    let yaml = String::from_utf8_lossy(&out.stdout);
    let comments: Vec<&str> = yaml.lines().take_while(|l| l.starts_with('#')).collect();
    assert_eq!(
        comments,
        [
            "# caching mode init, per node: CPU 50m requested, 200m limit; memory 10Mi requested, 20Mi limit",
            "# 1000 nodes: CPU 50 requested, 200 limit; memory 10000Mi requested, 20000Mi limit",
        ]
    );
    let ds: serde_json::Value = serde_saphyr::from_str(&yaml).expect("still one YAML document");
    assert_eq!(ds["spec"]["template"]["spec"]["containers"][0]["name"], "kip-keeper");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: CACHING_MODE: init keeps each image"));

    let out = kip(&["validate", "--nodes", "1000"], &env);
    assert_eq!(out.status.code(), Some(0));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("1000 nodes: CPU 50 requested, 200 limit; memory 10000Mi requested"), "{summary}");
}

fn kubeconfig(sim: &kip_sim::Sim, dir: &std::path::Path) -> String {
    let path = dir.join("kubeconfig");
    sim.write_kubeconfig(&path).expect("kubeconfig");
    path.display().to_string()
}

#[tokio::test]
async fn run_refuses_an_invalid_configuration_and_touches_nothing() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let dir = tempdir();
    let config = kubeconfig(&sim, &dir);
    sim.reset_stats();
    let out = tokio::task::spawn_blocking(move || {
        kip(&["run"], &[("KUBECONFIG", &config), ("IMAGES", "java"), ("DEPLOYMENT_NAME", DEPLOYMENT)])
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("IMAGES"));
    assert_eq!(sim.stats().total, 0, "not a single API request");
}

async fn run_then_sigterm(extra: &[(&str, &str)]) -> (Option<i32>, bool) {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let dir = tempdir();
    let config = kubeconfig(&sim, &dir);
    let addr = free_addr().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("KUBECONFIG", &config),
        ("IMAGES", IMAGES),
        ("DEPLOYMENT_NAME", DEPLOYMENT),
        ("NAMESPACE", NAMESPACE),
        ("KIP_HTTP_ADDR", &addr),
        ("KIP_LEADER_ELECT", "false"),
    ];
    env.extend_from_slice(extra);
    let mut child = Command::new(KIP)
        .arg("run")
        .env_clear()
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kip run");
    eventually("kip run to apply the DaemonSet", Duration::from_secs(30), || async { daemonset(&client).await }).await;
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    (status.code(), daemonset(&client).await.is_some())
}

#[tokio::test]
async fn sigterm_deletes_the_daemonset_and_exits_0() {
    assert_eq!(run_then_sigterm(&[]).await, (Some(0), false));
}

#[tokio::test]
async fn sigterm_keeps_the_daemonset_when_asked() {
    assert_eq!(run_then_sigterm(&[("KIP_KEEP_DAEMONSET_ON_EXIT", "true")]).await, (Some(0), true));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kip-cli-test-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

#[test]
fn demo_caches_every_image_on_every_node_and_exits_0() {
    let out = kip(&["demo", "--nodes", "4", "--time-scale", "50", "--timeout", "120"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Every image is cached on every node"), "{stdout}");
    assert!(stdout.contains("4 of 4 selected nodes hold every image."), "{stdout}");
    let grid: Vec<&str> = stdout.lines().filter(|l| l.starts_with("node-")).collect();
    assert_eq!(grid.len(), 4, "{stdout}");
    assert!(grid.iter().all(|row| row.ends_with("3/3")), "{stdout}");
}
