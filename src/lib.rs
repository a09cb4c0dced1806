//! podinit: Kubernetes sidecar semantics at the OCI runtime layer.
//!
//! The sans-IO core is [`plan`] (declarations → per-container plan) and [`engine`] (events and
//! time in, actions out). Everything else is a thin driver around them.

pub use podinit_core::{engine, plan, proto, ranges, signal, status};

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
