//! What a container's init decodes from the supervisor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::proto::SupervisorMessage;

fuzz_target!(|line: &[u8]| podinit_fuzz::protocol_round_trip::<SupervisorMessage>(line));
