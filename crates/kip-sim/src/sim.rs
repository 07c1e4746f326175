//! The in-process handle: starts a store and an API server on a runtime of their own (so tests
//! with any runtime, or none, can use it), creates the namespaces every cluster has, and hands
//! out the URL, a kube-rs client, a kubeconfig, the faults and the request counts. Also the
//! `kip sim` command that runs one until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, ClusterConfig};
use crate::faults::Faults;
use crate::kubeconfig;
use crate::resources::GroupResource;
use crate::server::{ApiServer, ServerOptions, StatsSnapshot};
use crate::store::{Store, StoreOptions};

/// The namespaces a new cluster has.
pub const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Where the API server listens; port 0 lets the OS choose.
    pub listen: SocketAddr,
    /// Serve the OpenShift API groups (kip detects OpenShift by `route.openshift.io`).
    pub openshift: bool,
    /// Events kept for watches that resume; older resourceVersions get 410 Expired.
    pub watch_history: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// How long a list's continue token stays valid.
    pub continue_ttl: Duration,
    /// Nodes of the simulated cluster, `node-1` to `node-N`, with default settings.
    pub nodes: usize,
    /// The whole cluster's settings (nodes, time scale, images, kubelets); replaces `nodes`.
    pub cluster: Option<ClusterConfig>,
    /// Run the cluster (nodes, kubelets, DaemonSet and Deployment controllers). Off, only the
    /// API server and its machinery run, which suits tests of the API itself.
    pub controllers: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        let server = ServerOptions::default();
        SimOptions {
            listen: server.listen,
            openshift: false,
            watch_history: StoreOptions::default().history_limit,
            bookmark_interval: server.bookmark_interval,
            continue_ttl: server.continue_ttl,
            nodes: 3,
            cluster: None,
            controllers: true,
        }
    }
}

/// A running simulator. Dropping it shuts it down.
pub struct Sim {
    store: Arc<Store>,
    cluster: Option<Cluster>,
    server: Arc<ApiServer>,
    url: String,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Started {
    store: Arc<Store>,
    cluster: Option<Cluster>,
    server: Arc<ApiServer>,
}

fn create_system_namespaces(store: &Store) -> anyhow::Result<()> {
    for name in SYSTEM_NAMESPACES {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        store
            .create(&GroupResource::core("namespaces"), namespace)
            .with_context(|| format!("creating the namespace {name}"))?;
    }
    Ok(())
}

/// Runs on the simulator's runtime: everything that makes up the simulated cluster.
async fn start_cluster(options: SimOptions, shutdown: CancellationToken) -> anyhow::Result<Started> {
    let store = Arc::new(Store::new(StoreOptions {
        history_limit: options.watch_history,
        openshift: options.openshift,
        ..StoreOptions::default()
    }));
    create_system_namespaces(&store)?;
    let faults = Arc::new(Faults::default());
    let server_options = ServerOptions {
        listen: options.listen,
        bookmark_interval: options.bookmark_interval,
        continue_ttl: options.continue_ttl,
    };
    let server = ApiServer::start(store.clone(), faults, server_options, shutdown.clone())
        .await
        .with_context(|| format!("starting the kip-sim API server on {}", options.listen))?;

    // The control plane around the API server, on this runtime, stopping with `shutdown`: the
    // machinery (garbage collector, namespace lifecycle, CRD establishment) and the cluster
    // (nodes, kubelets, DaemonSet and Deployment controllers).
    crate::machinery::spawn(store.clone(), shutdown.clone());
    let cluster = options.controllers.then(|| {
        let config = options.cluster.unwrap_or_else(|| ClusterConfig::with_nodes(options.nodes));
        crate::cluster::spawn(store.clone(), config, shutdown.clone())
    });
    if let Some(cluster) = &cluster {
        let _ = server.state().cluster.set(cluster.clone());
        server.state().serve_registry(cluster.catalog_handle());
    }

    Ok(Started { store, cluster, server })
}

impl Sim {
    /// Starts a simulator on a runtime of its own and returns once it is serving.
    pub fn start(options: SimOptions) -> anyhow::Result<Sim> {
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<Started>>();
        let stop = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("kip-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("kip-sim-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e).context("building the kip-sim runtime")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let server = match start_cluster(options, stop.clone()).await {
                        Ok(started) => {
                            let server = started.server.clone();
                            let _ = ready_tx.send(Ok(started));
                            server
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    stop.cancelled().await;
                    server.shutdown().await;
                });
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .context("starting the kip-sim thread")?;
        let started = ready_rx.recv().context("the kip-sim thread ended before serving")??;
        let url = format!("http://{}", started.server.address());
        Ok(Sim {
            store: started.store,
            cluster: started.cluster,
            server: started.server,
            url,
            shutdown,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The simulated nodes, kubelets and image catalog: switches and counters (`None` when
    /// started without controllers).
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// A kube-rs client for this simulator, default namespace `default`. Call it inside a tokio
    /// runtime (the client's own tasks run there).
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        let uri: http::Uri = self.url.parse().with_context(|| format!("parsing the simulator URL {}", self.url))?;
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        kube::Client::try_from(config).context("building a kube client for the simulator")
    }

    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::kubeconfig_yaml(&self.url)
    }

    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        kubeconfig::write_kubeconfig(path, &self.url)
            .with_context(|| format!("writing the kubeconfig to {}", path.display()))
    }

    pub fn faults(&self) -> &Faults {
        &self.server.state().faults
    }

    /// The registry address for image references (`127.0.0.1:PORT`): the API server's port
    /// also serves the cluster's image catalog over the OCI distribution API.
    pub fn registry_host(&self) -> String {
        self.server.address().to_string()
    }

    /// Requests served so far, by verb and resource.
    pub fn stats(&self) -> StatsSnapshot {
        self.server.state().stats.snapshot()
    }

    pub fn reset_stats(&self) {
        self.server.state().stats.reset();
    }

    /// Stops listening, drops every connection, and listens again on the same port; the
    /// stored state is kept.
    pub async fn restart_api_server(&self) -> anyhow::Result<()> {
        self.server.restart().await.context("restarting the kip-sim API server")
    }

    /// Stops the simulator: open requests get a moment to finish, watches end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kip sim`: runs a simulated cluster until SIGINT or SIGTERM.
#[derive(Clone, Debug, clap::Args)]
pub struct SimArgs {
    /// Number of simulated nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Address to listen on (default: 127.0.0.1 with a port chosen by the OS).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where to write the kubeconfig for kubectl and kube clients.
    #[arg(long, default_value = "kip-sim.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Serve the OpenShift API groups, so clients detect OpenShift.
    #[arg(long)]
    pub openshift: bool,
}

/// Starts the simulator, writes the kubeconfig, prints `kip-sim ready: URL` and serves until
/// SIGINT or SIGTERM.
pub async fn run_sim_command(args: SimArgs) -> anyhow::Result<()> {
    let defaults = SimOptions::default();
    let options = SimOptions {
        listen: args.listen.unwrap_or(defaults.listen),
        openshift: args.openshift,
        nodes: args.nodes,
        ..defaults
    };
    let sim = tokio::task::spawn_blocking(move || Sim::start(options)).await??;
    sim.write_kubeconfig(&args.kubeconfig)?;
    println!("kip-sim ready: {}", sim.url());
    wait_for_signal().await?;
    tokio::task::spawn_blocking(move || sim.shutdown()).await?;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
