//! What the supervisor decodes from hooks and the CLI (the control socket): `register` carries
//! a whole pod's plans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::proto::ControlRequest;

fuzz_target!(|line: &[u8]| podinit_fuzz::protocol_round_trip::<ControlRequest>(line));
