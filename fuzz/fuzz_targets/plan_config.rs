//! A bundle's whole `config.json` → its plan, as the createRuntime hook builds it. Errors name
//! the container and the declaration at fault; an accepted plan crosses the control socket
//! unchanged and keeps every number in range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(config) = serde_json::from_slice(input) {
        podinit_fuzz::classify(&config);
    }
});
