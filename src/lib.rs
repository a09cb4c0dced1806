//! podinit: Kubernetes sidecar semantics at the OCI runtime layer.
//!
//! The sans-IO core is the `podinit-core` crate (`core/`), re-exported here: [`plan`]
//! (declarations → per-container plan), [`engine`] (events and time in, actions out), [`proto`]
//! (the socket's messages), [`signal`] and [`status`] (the status document). Everything else is
//! a thin driver around them. The in-container init's own core (`init::core`) stays here: it
//! logs through this crate's logger and takes the driver's wait-status and leftover types.

pub use podinit_core::{engine, framing, plan, proto, ranges, signal, status};

pub mod claim;
pub mod cli;
pub mod client;
pub mod explain;
pub mod front;
#[cfg(test)]
mod fuzz_tests;
pub mod hook;
pub mod hook_cli;
pub mod init;
pub mod inject;
pub mod inject_claim;
pub mod k8s_status;
pub mod log;
pub mod oci_state;
pub mod operator;
pub mod run;
pub mod supervisor;
pub mod sys;
pub mod vm;
