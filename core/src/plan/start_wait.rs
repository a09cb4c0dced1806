//! The start-wait deadline (issue 11 item 6, beyond the kubelet, opt-in): how long a container
//! may be held at its start gate, and what happens then. `io.podinit.start-timeout` (`3s`,
//! `500ms`, `2m`, `1m30s`, or whole seconds) and `io.podinit.on-start-timeout` (`fail` the pod,
//! `start` anyway, `wait` on: the default, and what happens without a timeout), each read from
//! the container's annotations first, then from the Pod's `metadata.annotations` in the pod
//! spec annotation (one value for every container of the pod).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::k8s::PodSpec;
use super::keys::{ON_START_TIMEOUT, START_TIMEOUT};
use super::{MAX_SECONDS, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnStartTimeout {
    /// The pod fails (`StartTimeout`): teardown with grace, as any failed pod.
    Fail,
    /// The gate opens for this container whatever still holds it.
    Start,
    /// Nothing changes; the status says the deadline passed and what the gate waits for.
    Wait,
}

impl OnStartTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnStartTimeout::Fail => "fail",
            OnStartTimeout::Start => "start",
            OnStartTimeout::Wait => "wait",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTimeout {
    /// From the container's registration (when its gate starts holding it).
    pub millis: u64,
    pub on_timeout: OnStartTimeout,
    /// Where the timeout and the outcome came from, for explain.
    pub source: String,
}

impl StartTimeout {
    /// `3s, then fail the pod`.
    pub fn describe(&self) -> String {
        let then = match self.on_timeout {
            OnStartTimeout::Fail => "fail the pod (StartTimeout)",
            OnStartTimeout::Start => "start anyway",
            OnStartTimeout::Wait => "keep waiting (the status says so)",
        };
        format!("{}, then {then}", format_millis(self.millis))
    }
}

/// Why a start-wait value was refused; the caller names the container and the annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartWaitError {
    NotDuration { raw: String },
    OutOfRange { raw: String },
    Zero { raw: String },
    NotOutcome { raw: String },
}

impl StartWaitError {
    pub fn kind(&self) -> super::PlanErrorKind {
        match self {
            StartWaitError::OutOfRange { .. } => super::PlanErrorKind::OutOfRange,
            _ => super::PlanErrorKind::InvalidValue,
        }
    }
}

impl std::fmt::Display for StartWaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartWaitError::NotDuration { raw } => write!(
                f,
                "expected a duration such as 3s, 500ms, 2m or 1m30s (or whole seconds), got {raw:?}"
            ),
            StartWaitError::OutOfRange { raw } => {
                write!(f, "{raw:?} is out of range (at most {MAX_SECONDS}s)")
            }
            StartWaitError::Zero { raw } => write!(f, "{raw:?}: the timeout must be more than 0"),
            StartWaitError::NotOutcome { raw } => {
                write!(f, "expected fail, start or wait, got {raw:?}")
            }
        }
    }
}

impl std::error::Error for StartWaitError {}

/// `3000` → `3s`, `1500` → `1500ms`.
pub fn format_millis(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A duration as Go's `time.ParseDuration` writes the common ones (`3s`, `500ms`, `2m`, `1h`,
/// `1m30s`), or whole seconds; more than 0 and at most a year.
pub fn parse_duration(raw: &str) -> Result<u64, StartWaitError> {
    let t = raw.trim();
    let bad = || StartWaitError::NotDuration { raw: raw.into() };
    let out_of_range = || StartWaitError::OutOfRange { raw: raw.into() };
    if t.is_empty() {
        return Err(bad());
    }
    let max_ms = MAX_SECONDS as u64 * 1000;
    let total = if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(out_of_range)?
    } else {
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| out_of_range())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let per = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(per)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(out_of_range)?;
        }
        total
    };
    if total == 0 {
        return Err(StartWaitError::Zero { raw: raw.into() });
    }
    if total > max_ms {
        return Err(out_of_range());
    }
    Ok(total)
}

pub fn parse_outcome(raw: &str) -> Result<OnStartTimeout, StartWaitError> {
    match raw.trim() {
        "fail" => Ok(OnStartTimeout::Fail),
        "start" => Ok(OnStartTimeout::Start),
        "wait" => Ok(OnStartTimeout::Wait),
        _ => Err(StartWaitError::NotOutcome { raw: raw.into() }),
    }
}

/// The container's start-wait deadline, if one is declared. Errors are `(source, message)`.
pub fn read(
    container: &BTreeMap<String, String>,
    spec: Option<&PodSpec>,
    notes: &mut Vec<String>,
) -> Result<Option<StartTimeout>, (Source, StartWaitError)> {
    let (timeout_key, outcome_key) = (START_TIMEOUT, ON_START_TIMEOUT);
    let lookup =
        |key: &str| super::pod_level::lookup(key, container.get(key).map(String::as_str), spec);
    let timeout = lookup(timeout_key);
    let outcome = lookup(outcome_key);
    let on_timeout = match &outcome {
        Some((raw, src)) => parse_outcome(raw).map_err(|m| (src.clone(), m))?,
        None => OnStartTimeout::Wait,
    };
    let Some((raw, src)) = timeout else {
        if let Some((_, src)) = outcome {
            notes.push(format!(
                "{src} has no effect without {timeout_key}: the gate waits as long as it takes"
            ));
        }
        return Ok(None);
    };
    let millis = parse_duration(raw).map_err(|m| (src.clone(), m))?;
    let source = match outcome {
        Some((_, osrc)) => format!("{src}; {osrc}"),
        None => format!("{src}; {outcome_key} not set: wait"),
    };
    Ok(Some(StartTimeout {
        millis,
        on_timeout,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::seconds("3s", Ok(3000))]
    #[case::millis("500ms", Ok(500))]
    #[case::minutes("2m", Ok(120_000))]
    #[case::hours("1h", Ok(3_600_000))]
    #[case::combined("1m30s", Ok(90_000))]
    #[case::bare_seconds("7", Ok(7000))]
    #[case::spaces_trimmed(" 3s ", Ok(3000))]
    #[case::a_year("8760h", Ok(MAX_SECONDS as u64 * 1000))]
    #[case::empty("", Err("expected a duration"))]
    #[case::unit_only("s", Err("expected a duration"))]
    #[case::negative("-3s", Err("expected a duration"))]
    #[case::fraction("1.5s", Err("expected a duration"))]
    #[case::unknown_unit("3d", Err("expected a duration"))]
    #[case::upper_case("3S", Err("expected a duration"))]
    #[case::space_inside("3 s", Err("expected a duration"))]
    #[case::zero("0s", Err("more than 0"))]
    #[case::zero_bare("0", Err("more than 0"))]
    #[case::past_a_year("8761h", Err("out of range"))]
    #[case::overflow("99999999999999999999s", Err("out of range"))]
    #[case::overflow_multiply("18446744073709551615h", Err("out of range"))]
    #[case::overflow_bare("18446744073709551615", Err("out of range"))]
    #[case::not_utf8_digits("３s", Err("expected a duration"))]
    fn durations(#[case] raw: &str, #[case] want: Result<u64, &str>) {
        match (parse_duration(raw), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, w, "{raw:?}"),
            (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{raw:?}: {e}"),
            (got, w) => panic!("{raw:?}: got {got:?}, want {w:?}"),
        }
    }

    #[rstest]
    #[case::fail("fail", Ok(OnStartTimeout::Fail))]
    #[case::start("start", Ok(OnStartTimeout::Start))]
    #[case::wait("wait", Ok(OnStartTimeout::Wait))]
    #[case::case_matters("Fail", Err(()))]
    #[case::empty("", Err(()))]
    #[case::other("restart", Err(()))]
    fn outcomes(#[case] raw: &str, #[case] want: Result<OnStartTimeout, ()>) {
        assert_eq!(parse_outcome(raw).map_err(|_| ()), want);
    }
}
