//! Listening: the accept loop and HTTP/1.1 connections, graceful shutdown, and the restart
//! fault (stop listening, drop every connection, listen again on the same address with the
//! state kept).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ServerOptions, ServerState, handle};
use crate::faults::Faults;
use crate::store::Store;

/// How long in-flight requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(2);

/// One listening period: cancelled to stop accepting and drop its connections.
struct Incarnation {
    stop: CancellationToken,
    accept: JoinHandle<()>,
}

/// A running API server.
pub struct ApiServer {
    state: Arc<ServerState>,
    incarnation: tokio::sync::Mutex<Option<Incarnation>>,
    shutdown: CancellationToken,
    runtime: tokio::runtime::Handle,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // Connections the restart dropped linger in TIME_WAIT on this port.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

impl ApiServer {
    /// Binds and starts serving on the current tokio runtime. `shutdown` stops everything.
    pub async fn start(
        store: Arc<Store>,
        faults: Arc<Faults>,
        options: ServerOptions,
        shutdown: CancellationToken,
    ) -> io::Result<Arc<ApiServer>> {
        let listener = bind(options.listen)?;
        let address = listener.local_addr()?;
        let state = Arc::new(ServerState::new(store, faults, options, address, shutdown.clone()));
        let server = Arc::new(ApiServer {
            incarnation: tokio::sync::Mutex::new(Some(spawn_incarnation(listener, state.clone(), &shutdown))),
            state,
            shutdown,
            runtime: tokio::runtime::Handle::current(),
            supervisor: Mutex::new(None),
        });
        let supervisor =
            tokio::spawn(supervise(Arc::downgrade(&server), server.state.faults.clone(), server.shutdown.clone()));
        *server.supervisor.lock() = Some(supervisor);
        tracing::info!(%address, "kip-sim API server listening");
        Ok(server)
    }

    pub fn address(&self) -> SocketAddr {
        self.state.address
    }

    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Stops listening, drops every connection (open watches included), then listens again on
    /// the same address. The store is untouched. Callable from any runtime.
    pub async fn restart(self: &Arc<Self>) -> io::Result<()> {
        let server = self.clone();
        let task = self.runtime.spawn(async move {
            let mut slot = server.incarnation.lock().await;
            if let Some(old) = slot.take() {
                old.stop.cancel();
                // The listener is closed once the accept loop has returned.
                let _ = old.accept.await;
            }
            if server.shutdown.is_cancelled() {
                return Ok(());
            }
            let listener = bind(server.state.address)?;
            *slot = Some(spawn_incarnation(listener, server.state.clone(), &server.shutdown));
            tracing::info!(address = %server.state.address, "kip-sim API server restarted");
            Ok(())
        });
        task.await.map_err(io::Error::other)?
    }

    /// Stops accepting; open connections finish their requests for a short while, watches end.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let incarnation = self.incarnation.lock().await.take();
        if let Some(incarnation) = incarnation {
            let _ = incarnation.accept.await;
        }
        let supervisor = self.supervisor.lock().take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
    }
}

/// Restarts the server when `/_sim/faults` asks for it.
async fn supervise(server: std::sync::Weak<ApiServer>, faults: Arc<Faults>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = faults.restart_requested() => {}
        }
        // Let the answer to the request that asked for it leave first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(server) = server.upgrade() else { return };
        if let Err(e) = server.restart().await {
            tracing::error!(error = %e, "restarting the kip-sim API server failed");
        }
    }
}

fn spawn_incarnation(listener: TcpListener, state: Arc<ServerState>, shutdown: &CancellationToken) -> Incarnation {
    let stop = shutdown.child_token();
    let accept = tokio::spawn(accept_loop(listener, state, stop.clone()));
    Incarnation { stop, accept }
}

async fn accept_loop(listener: TcpListener, state: Arc<ServerState>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, state.clone(), stop.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<ServerState>, stop: CancellationToken) {
    let shutdown = state.shutdown.clone();
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(state.clone(), request.map(Body::new)).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.cancelled() => {}
    }
    // A restart drops the connection at once; a shutdown lets the request in flight finish.
    if !shutdown.is_cancelled() {
        return;
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(GRACE, connection).await;
}
