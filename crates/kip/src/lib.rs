//! kip keeps a configured list of container images cached on every selected Kubernetes node.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod operator;
pub mod puller;
pub mod registry;
pub mod render;
pub mod status;
pub mod telemetry;
