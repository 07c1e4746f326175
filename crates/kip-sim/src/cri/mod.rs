//! A real container runtime for kip-sim's kubelets: a client of the Kubernetes Container
//! Runtime Interface (CRI, `runtime.v1` over gRPC on a unix socket, as containerd serves it),
//! plus what tests need around it: test images built in-process and pushed to a registry, and a
//! harness that starts and stops a local registry and containerd (`scripts/real-runtime/`).
//!
//! The client's calls map one to one onto what a kubelet asks of its runtime: pull an image
//! (with credentials), image status and list (a node's `status.images`), remove an image, run a
//! host-network pod sandbox, create/start/stop/remove containers and read their status.

pub mod client;
pub mod error;
pub mod harness;
pub mod images;
pub mod oci;
pub mod pods;
pub mod proto;
pub mod push;
pub mod sandboxes;
pub mod spec;

pub use client::{CriClient, RuntimeVersion};
pub use error::CriError;
pub use images::{ImageFsUsage, ImageInfo, ImageRef, RegistryAuth};
pub use pods::{ContainerFilter, ContainerId, ContainerInfo, ContainerPhase, ContainerSummary, Sandbox, SandboxId};
pub use sandboxes::{SandboxFilter, SandboxState, SandboxSummary};
pub use spec::{ContainerSpec, HostMount, Resources, SandboxSpec, SeccompProfile};
