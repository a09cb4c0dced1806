//! Range checks on every number that comes from a client or from the journal (issue 15 finding
//! 7): serde checks types, these check values, and each error names the field at fault. A
//! message that fails is refused (control: an error reply; init: the connection is closed); a
//! journal record that fails is skipped on replay, logged.

use std::time::Duration;

use crate::engine::{self, Event, ExitStatus};
use crate::plan::declaration;
use crate::proto::{ControlRequest, InitMessage};

/// The largest signal number on Linux (SIGRTMAX).
pub const MAX_SIGNAL: i32 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {} is out of range (expected {})",
            self.field, self.value, self.expected
        )
    }
}

impl std::error::Error for RangeError {}

fn check<T: std::fmt::Display>(
    field: &'static str,
    value: T,
    ok: bool,
    expected: &'static str,
) -> Result<(), RangeError> {
    if ok {
        Ok(())
    } else {
        Err(RangeError {
            field,
            value: value.to_string(),
            expected,
        })
    }
}

pub fn pid(field: &'static str, pid: i32) -> Result<(), RangeError> {
    check(field, pid, pid > 0, "a pid, > 0")
}

pub fn signal(field: &'static str, signo: i32) -> Result<(), RangeError> {
    check(field, signo, (1..=MAX_SIGNAL).contains(&signo), "1..=64")
}

pub fn exit_status(status: ExitStatus) -> Result<(), RangeError> {
    match status {
        ExitStatus::Code(c) => check("status.code", c, (0..=255).contains(&c), "0..=255"),
        ExitStatus::Signal(s) => signal("status.signal", s),
    }
}

pub fn grace(field: &'static str, grace: Duration) -> Result<(), RangeError> {
    check(
        field,
        format_args!("{}s", grace.as_secs()),
        grace <= engine::MAX_GRACE,
        "at most a year of seconds",
    )
}

pub fn control(req: &ControlRequest) -> Result<(), RangeError> {
    match req {
        ControlRequest::Register {
            pid: p, pod_digest, ..
        } => {
            pid("pid", *p)?;
            match pod_digest {
                Some(d) if !declaration::is_digest(d) => Err(RangeError {
                    field: "pod_digest",
                    // A hostile one may be megabytes long: the start says enough.
                    value: format!("{:?}", d.chars().take(80).collect::<String>()),
                    expected: "sha256: and 64 lowercase hex digits",
                }),
                _ => Ok(()),
            }
        }
        ControlRequest::Stop {
            grace_seconds: Some(g),
            ..
        } => check(
            "grace_seconds",
            g,
            *g <= engine::MAX_GRACE.as_secs(),
            "at most a year of seconds",
        ),
        ControlRequest::Signal { signal: s, .. } => signal("signal", *s),
        _ => Ok(()),
    }
}

pub fn init(msg: &InitMessage) -> Result<(), RangeError> {
    match msg {
        InitMessage::Started { pid: p } => pid("pid", *p),
        InitMessage::Exited { status, .. } => exit_status(*status),
        InitMessage::AgentStop { signal: s } => signal("signal", *s),
        _ => Ok(()),
    }
}

/// An engine input read back from the journal.
pub fn event(event: &Event) -> Result<(), RangeError> {
    match event {
        Event::ProcessExited { status, .. } => exit_status(*status),
        Event::StopRequested { grace: Some(g) } => grace("grace", *g),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;

    #[rstest::rstest]
    #[case(r#"{"v":1,"op":"exited","status":{"code":256}}"#, "status.code")]
    #[case(r#"{"v":1,"op":"exited","status":{"code":-1}}"#, "status.code")]
    #[case(r#"{"v":1,"op":"exited","status":{"signal":0}}"#, "status.signal")]
    #[case(r#"{"v":1,"op":"exited","status":{"signal":65}}"#, "status.signal")]
    #[case(r#"{"v":1,"op":"agentStop","signal":-9}"#, "signal")]
    #[case(r#"{"v":1,"op":"started","pid":0}"#, "pid")]
    fn init_numbers_out_of_range_are_refused(#[case] line: &str, #[case] field: &str) {
        let msg: InitMessage = proto::decode(line.as_bytes()).expect("well-typed");
        assert_eq!(init(&msg).map_err(|e| e.field), Err(field));
    }

    #[rstest::rstest]
    #[case(
        r#"{"v":1,"op":"stop","grace_seconds":18446744073709551615}"#,
        "grace_seconds"
    )]
    #[case(r#"{"v":1,"op":"signal","container":"a","signal":0}"#, "signal")]
    #[case(r#"{"v":1,"op":"signal","container":"a","signal":65}"#, "signal")]
    #[case(
        r#"{"v":1,"op":"register","id":"a","pid":-1,"bundle":"/b","plan":{"name":"a"},"pod":{"kind":"unknown"}}"#,
        "pid"
    )]
    fn control_numbers_out_of_range_are_refused(#[case] line: &str, #[case] field: &str) {
        match proto::decode::<ControlRequest>(line.as_bytes()) {
            Ok(req) => assert_eq!(control(&req).map_err(|e| e.field), Err(field)),
            // A register whose plan does not parse never reaches the range check; the stop does.
            Err(e) => assert!(field == "pid", "{e}"),
        }
    }

    #[test]
    fn numbers_in_range_pass() {
        for line in [
            r#"{"v":1,"op":"exited","status":{"code":255}}"#,
            r#"{"v":1,"op":"exited","status":{"signal":64}}"#,
            r#"{"v":1,"op":"agentStop","signal":15}"#,
            r#"{"v":1,"op":"started","pid":1}"#,
        ] {
            let msg: InitMessage = proto::decode(line.as_bytes()).unwrap();
            assert_eq!(init(&msg), Ok(()), "{line}");
        }
        let stop: ControlRequest =
            proto::decode(br#"{"v":1,"op":"stop","grace_seconds":30}"#).unwrap();
        assert_eq!(control(&stop), Ok(()));
        assert_eq!(
            event(&Event::StopRequested {
                grace: Some(Duration::from_secs(u64::MAX))
            })
            .map_err(|e| e.field),
            Err("grace")
        );
    }
}
