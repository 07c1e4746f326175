//! kip-sim: a simulated Kubernetes control plane on loopback.
//!
//! An API server that speaks the Kubernetes REST wire protocol (JSON over HTTP), with the
//! controllers and kubelets around it that kip's tests, demo and benchmarks need. Real clients
//! (kube-rs, kubectl) talk to it as to a cluster. It is a test and demo harness: production is
//! always a real cluster.

// ApiError carries a whole Status; errors are the cold path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod admission;
pub mod cluster;
pub mod controllers;
pub mod cri;
pub mod error;
pub mod faults;
pub mod kubeconfig;
pub mod kubelet;
pub mod machinery;
pub mod patch;
pub mod resources;
pub mod server;
pub mod sim;
pub mod store;

pub use error::{ApiError, Cause};
pub use faults::{Fault, FaultConfig, FaultRule, Faults};
pub use resources::{GroupResource, ResourceType};
pub use server::{ApiServer, ServerOptions, StatsSnapshot};
pub use sim::{Sim, SimArgs, SimOptions, run_sim_command};
pub use store::{ObjectKey, Store, StoreOptions};
