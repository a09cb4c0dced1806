//! podinit's sans-IO core: decisions and state machines that take data and time in and give data
//! out, with no system call, no clock of their own and no file or socket. The `podinit` crate
//! around it is the driver that does the I/O.
//!
//! The build enforces it: no I/O dependencies (serde, serde_json and sha2 only), no `unsafe`,
//! and `clippy.toml` refuses std's files, sockets, processes, clock and environment.

#![forbid(unsafe_code)]

pub mod engine;
pub mod framing;
pub mod plan;
pub mod proto;
pub mod ranges;
pub mod rng;
pub mod signal;
pub mod status;
