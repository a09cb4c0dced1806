//! The OCI state a runtime writes to a hook's stdin. An accepted state keeps the documented
//! normal form (non-empty id, pid > 0, bundle neither empty nor `/`) and reads back the same
//! from its own JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::oci_state;
use serde_json::json;

fuzz_target!(|input: &[u8]| match oci_state::parse(input) {
    Ok(s) => {
        assert!(!s.id.is_empty());
        assert!(s.pid.is_none_or(|p| p > 0), "{s:?}");
        assert!(
            s.bundle
                .as_deref()
                .is_none_or(|b| !b.is_empty() && b != "/"),
            "{s:?}"
        );
        let again = json!({
            "id": s.id, "status": s.status, "pid": s.pid.unwrap_or(0),
            "bundle": s.bundle.clone().unwrap_or_default(), "annotations": s.annotations,
        });
        assert_eq!(oci_state::parse(again.to_string().as_bytes()), Ok(s));
    }
    Err(e) => assert!(e.to_string().starts_with("OCI state on stdin: ") && !e.0.is_empty()),
});
