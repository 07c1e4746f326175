//! What kip tells the world about itself: structured logs, Prometheus metrics, and the health
//! endpoints that probes and operators read.

pub mod health;
pub mod logging;
pub mod metrics;
pub mod server;

pub use health::Health;
pub use metrics::Metrics;
