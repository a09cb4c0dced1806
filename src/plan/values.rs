//! Parsers for the scalar values of annotations and env vars. Strict on purpose: a typo in a
//! sidecar declaration must be an error, not a silently different pod.

/// `true`/`false`, any case (Kubernetes env values are strings; vendors document `"true"`).
pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(format!("expected true or false, got {raw:?}")),
    }
}

/// An integer within `min..=max`.
pub fn parse_int_in(raw: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("expected an integer from {min} to {max}, got {raw:?}"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

/// Seconds for grace periods, probe timings and sleeps: non-negative and at most a day-scale bound
/// that still fits every timer (a year).
pub const MAX_SECONDS: i64 = 365 * 24 * 3600;

pub fn check_seconds(n: i64) -> Result<u64, String> {
    if !(0..=MAX_SECONDS).contains(&n) {
        return Err(format!("{n} seconds is out of range (0 to {MAX_SECONDS})"));
    }
    // Invariant: 0 <= n <= MAX_SECONDS fits u64.
    Ok(n as u64)
}

/// A signal by name (`SIGTERM`, `TERM`, any case) or number (`15`).
pub fn parse_signal(raw: &str) -> Result<(i32, String), String> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i32>() {
        return signal_name(n)
            .map(|name| (n, name.to_owned()))
            .ok_or_else(|| format!("{n} is not a signal number"));
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(num, n)| (*num, (*n).to_owned()))
        .ok_or_else(|| format!("unknown signal {raw:?} (expected a name like SIGTERM or a number)"))
}

pub fn signal_name(n: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(num, _)| *num == n)
        .map(|(_, name)| *name)
}

const SIGNALS: &[(i32, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGSTKFLT, "SIGSTKFLT"),
    (libc::SIGCHLD, "SIGCHLD"),
    (libc::SIGCONT, "SIGCONT"),
    (libc::SIGSTOP, "SIGSTOP"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGURG, "SIGURG"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGIO, "SIGIO"),
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGSYS, "SIGSYS"),
];

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
        assert_eq!(parse_signal(raw).ok().map(|(n, _)| n), want);
    }

    #[test]
    fn seconds_bounds() {
        assert_eq!(check_seconds(30), Ok(30));
        assert!(check_seconds(-1).is_err());
        assert!(check_seconds(MAX_SECONDS + 1).is_err());
    }
}
