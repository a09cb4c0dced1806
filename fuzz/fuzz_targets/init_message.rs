//! What the supervisor decodes from a container's init (the containers' socket, any container).
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::proto::InitMessage;

fuzz_target!(|line: &[u8]| podinit_fuzz::protocol_round_trip::<InitMessage>(line));
