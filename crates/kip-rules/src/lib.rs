//! Kubernetes validation rules that both kip (checking its configuration before it reaches a
//! cluster) and kip-sim (rejecting what a real API server rejects) need: object and container
//! names, label keys and values, and resource quantities.
//!
//! Messages follow the wording of the Kubernetes API server, so that a user sees the same
//! explanation whichever side catches the problem.

pub mod names;
pub mod quantity;

pub use names::{dns1123_label, dns1123_subdomain, label_value, qualified_name, suggest_dns1123_label};
pub use quantity::{Quantity, QuantityError};
