//! The in-container init (`podinit [exec] -- CMD`): on the host ([`host`]) and as PID 1 of a
//! runc container ([`runc`]).

mod host;
mod runc;
