//! Parsers for the scalar values of annotations and env vars. Strict on purpose: a typo in a
//! sidecar declaration must be an error, not a silently different pod.

use std::fmt;

use super::PlanErrorKind;
use crate::signal::Signal;

/// Why a scalar was refused. The caller adds the container and the declaration ([`super::PlanError`]);
/// [`ValueError::kind`] says which kind of plan error it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    NotBool {
        raw: String,
    },
    NotInt {
        raw: String,
        min: i64,
        max: i64,
    },
    IntOutOfRange {
        n: i64,
        min: i64,
        max: i64,
    },
    /// Not whole seconds; `overflow`: digits too many for any integer (out of range, not a typo).
    NotWholeSeconds {
        raw: String,
        overflow: bool,
    },
    SecondsOutOfRange {
        n: i64,
    },
    NotSignalNumber {
        n: i32,
    },
    UnknownSignal {
        raw: String,
    },
}

impl ValueError {
    pub fn kind(&self) -> PlanErrorKind {
        match self {
            ValueError::IntOutOfRange { .. }
            | ValueError::SecondsOutOfRange { .. }
            | ValueError::NotWholeSeconds { overflow: true, .. } => PlanErrorKind::OutOfRange,
            _ => PlanErrorKind::InvalidValue,
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NotBool { raw } => write!(f, "expected true or false, got {raw:?}"),
            ValueError::NotInt { raw, min, max } => {
                write!(f, "expected an integer from {min} to {max}, got {raw:?}")
            }
            ValueError::IntOutOfRange { n, min, max } => {
                write!(f, "{n} is out of range ({min} to {max})")
            }
            ValueError::NotWholeSeconds { raw, .. } => {
                write!(f, "expected whole seconds, got {raw:?}")
            }
            ValueError::SecondsOutOfRange { n } => {
                write!(f, "{n} seconds is out of range (0 to {MAX_SECONDS})")
            }
            ValueError::NotSignalNumber { n } => write!(f, "{n} is not a signal number"),
            ValueError::UnknownSignal { raw } => write!(
                f,
                "unknown signal {raw:?} (expected a name like SIGTERM or a number)"
            ),
        }
    }
}

impl std::error::Error for ValueError {}

/// `true`/`false`, any case (Kubernetes env values are strings; vendors document `"true"`).
pub fn parse_bool(raw: &str) -> Result<bool, ValueError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(ValueError::NotBool { raw: raw.into() }),
    }
}

/// An integer within `min..=max`.
pub fn parse_int_in(raw: &str, min: i64, max: i64) -> Result<i64, ValueError> {
    let n: i64 = raw.trim().parse().map_err(|_| ValueError::NotInt {
        raw: raw.into(),
        min,
        max,
    })?;
    if n < min || n > max {
        return Err(ValueError::IntOutOfRange { n, min, max });
    }
    Ok(n)
}

/// Seconds for grace periods, probe timings and sleeps: non-negative and at most a day-scale bound
/// that still fits every timer (a year).
pub const MAX_SECONDS: i64 = 365 * 24 * 3600;

pub fn check_seconds(n: i64) -> Result<u64, ValueError> {
    if !(0..=MAX_SECONDS).contains(&n) {
        return Err(ValueError::SecondsOutOfRange { n });
    }
    // Invariant: 0 <= n <= MAX_SECONDS fits u64.
    Ok(n as u64)
}

/// Whole seconds as an annotation gives them (`"30"`), within [`check_seconds`]'s range.
pub fn parse_seconds(raw: &str) -> Result<u64, ValueError> {
    let t = raw.trim();
    let n: i64 = t.parse().map_err(|_| ValueError::NotWholeSeconds {
        raw: raw.into(),
        overflow: !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '-'),
    })?;
    check_seconds(n)
}

/// A signal by name (`SIGTERM`, `TERM`, any case) or number (`15`); only the standard signals,
/// which have a name (a stop signal is written in a plan and shown by name).
pub fn parse_signal(raw: &str) -> Result<Signal, ValueError> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i32>() {
        return Signal::new(n)
            .filter(|s| s.name().is_some())
            .ok_or(ValueError::NotSignalNumber { n });
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_name(&name).ok_or_else(|| ValueError::UnknownSignal { raw: raw.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("true", Ok(true))]
    #[case("TRUE", Ok(true))]
    #[case(" false ", Ok(false))]
    #[case("", Ok(false))]
    #[case("yes", Err(()))]
    #[case("1", Err(()))]
    #[case("\u{0}true", Err(()))]
    fn bools(#[case] raw: &str, #[case] want: Result<bool, ()>) {
        assert_eq!(parse_bool(raw).map_err(|_| ()), want);
    }

    #[rstest]
    #[case("0", Ok(0))]
    #[case("-1000", Ok(-1000))]
    #[case("1000", Ok(1000))]
    #[case("1001", Err(()))]
    #[case("99999999999999999999999", Err(()))]
    #[case("high", Err(()))]
    #[case("1.5", Err(()))]
    fn ints(#[case] raw: &str, #[case] want: Result<i64, ()>) {
        assert_eq!(parse_int_in(raw, -1000, 1000).map_err(|_| ()), want);
    }

    #[rstest]
    #[case("SIGTERM", Some(15))]
    #[case("term", Some(15))]
    #[case("SIGQUIT", Some(3))]
    #[case("9", Some(9))]
    #[case("0", None)]
    #[case("999", None)]
    #[case("SIGNOPE", None)]
    #[case("", None)]
    fn signals(#[case] raw: &str, #[case] want: Option<i32>) {
        assert_eq!(parse_signal(raw).ok().map(Signal::number), want);
    }

    /// The kind of plan error each refusal makes, and its words (unchanged from the strings).
    #[rstest]
    #[case::bool(parse_bool("yes").map(|_| ()), PlanErrorKind::InvalidValue, "expected true or false, got \"yes\"")]
    #[case::not_int(parse_int_in("x", 0, 9).map(|_| ()), PlanErrorKind::InvalidValue, "expected an integer from 0 to 9, got \"x\"")]
    #[case::int_range(parse_int_in("10", 0, 9).map(|_| ()), PlanErrorKind::OutOfRange, "10 is out of range (0 to 9)")]
    #[case::seconds_text(parse_seconds("soon").map(|_| ()), PlanErrorKind::InvalidValue, "expected whole seconds, got \"soon\"")]
    #[case::seconds_overflow(parse_seconds("99999999999999999999").map(|_| ()), PlanErrorKind::OutOfRange, "expected whole seconds, got \"99999999999999999999\"")]
    #[case::seconds_negative(parse_seconds("-1").map(|_| ()), PlanErrorKind::OutOfRange, "-1 seconds is out of range (0 to 31536000)")]
    #[case::signal_number(parse_signal("99").map(|_| ()), PlanErrorKind::InvalidValue, "99 is not a signal number")]
    #[case::signal_name(parse_signal("NOPE").map(|_| ()), PlanErrorKind::InvalidValue, "unknown signal \"NOPE\" (expected a name like SIGTERM or a number)")]
    fn refusals(
        #[case] got: Result<(), ValueError>,
        #[case] kind: PlanErrorKind,
        #[case] text: &str,
    ) {
        let e = got.unwrap_err();
        assert_eq!((e.kind(), e.to_string().as_str()), (kind, text));
    }

    #[test]
    fn seconds_bounds() {
        assert_eq!(check_seconds(30), Ok(30));
        assert!(check_seconds(-1).is_err());
        assert!(check_seconds(MAX_SECONDS + 1).is_err());
    }
}
