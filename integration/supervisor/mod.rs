//! `podinit supervise`: its sockets and protocol ([`socket`]), a restart that keeps its promises
//! ([`restart`]), state-dir faults ([`faults`]), registration claims ([`claims`]) and several
//! pods on one supervisor ([`multi_pod`]).

mod claims;
mod faults;
mod multi_pod;
mod restart;
mod socket;
