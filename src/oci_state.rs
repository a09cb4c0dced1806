//! The OCI state a runtime writes to a hook's stdin, parsed leniently: crun's startContainer sends
//! `"status":"starting"`, `"pid":0` and `"bundle":"/"` (SPEC section 4), runc adds `paused`, and
//! the spec allows extra properties. Only `id` is required; everything else is optional.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciState {
    pub id: String,
    /// Whatever the runtime said, unvalidated (`creating`, `created`, `starting`, `running`, …).
    pub status: String,
    /// `None` when absent or 0 (crun's container-namespace hooks).
    pub pid: Option<i32>,
    /// `None` when absent, empty or `/` (crun's startContainer, where it is meaningless).
    pub bundle: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OCI state on stdin: {}", self.0)
    }
}

impl std::error::Error for StateError {}

/// The runtime writes a few hundred bytes; anything near this is not a state document.
pub const MAX_STATE_BYTES: usize = 1 << 20;

pub fn parse(input: &[u8]) -> Result<OciState, StateError> {
    if input.len() > MAX_STATE_BYTES {
        return Err(StateError(format!(
            "{} bytes is more than the {MAX_STATE_BYTES} accepted",
            input.len()
        )));
    }
    let v: Value =
        serde_json::from_slice(input).map_err(|e| StateError(format!("not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| StateError("not a JSON object".into()))?;
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StateError("missing or empty \"id\"".into()))?
        .to_owned();
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let pid = obj
        .get("pid")
        .and_then(Value::as_i64)
        .filter(|p| *p > 0 && *p <= i64::from(i32::MAX))
        .map(|p| p as i32);
    let bundle = obj
        .get("bundle")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty() && *b != "/")
        .map(str::to_owned);
    let annotations = obj
        .get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(OciState {
        id,
        status,
        pid,
        bundle,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn runc_create_runtime() {
        let s = parse(br#"{"ociVersion":"1.0.2-dev","id":"app","status":"creating","pid":4242,"bundle":"/b/app","annotations":{"k":"v"}}"#)
            .unwrap();
        assert_eq!(
            (s.id.as_str(), s.status.as_str(), s.pid, s.bundle.as_deref()),
            ("app", "creating", Some(4242), Some("/b/app"))
        );
        assert_eq!(s.annotations.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn crun_start_container_is_accepted() {
        let s = parse(br#"{"ociVersion":"1.0","id":"c1","pid":0,"root":"/run/crun/c1","bundle":"/","status":"starting"}"#).unwrap();
        assert_eq!(
            (s.status.as_str(), s.pid, s.bundle),
            ("starting", None, None)
        );
    }

    #[rstest]
    #[case::empty(b"".as_slice())]
    #[case::garbage(b"\xff\xfe garbage".as_slice())]
    #[case::array(b"[]".as_slice())]
    #[case::no_id(br#"{"status":"created"}"#.as_slice())]
    #[case::id_number(br#"{"id":7}"#.as_slice())]
    #[case::truncated(br#"{"id":"x","status":"#.as_slice())]
    fn hostile_input_is_an_error(#[case] input: &[u8]) {
        assert!(parse(input).is_err());
    }

    #[test]
    fn odd_types_are_dropped_not_fatal() {
        let s =
            parse(br#"{"id":"x","pid":"12","status":5,"bundle":[],"annotations":{"a":1,"b":"c"}}"#)
                .unwrap();
        assert_eq!(
            (s.pid, s.status.as_str(), s.bundle, s.annotations.len()),
            (None, "", None, 1)
        );
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = vec![b' '; MAX_STATE_BYTES + 1];
        assert!(parse(&big).is_err());
    }
}
