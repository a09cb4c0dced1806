//! The pod scenarios: real runc pods under `podinit supervise` (the harness is `crate::pod`), and
//! the harness's own checks ([`harness`]).

mod harness;
mod teardown;
