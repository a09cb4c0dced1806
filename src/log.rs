//! A tiny logger for every podinit mode: one line per message on stderr, prefixed `podinit: `,
//! written with a single `write(2)` so lines from several processes sharing a stderr do not
//! interleave mid-line.
//!
//! The level comes from, highest precedence first: `-v` flags (`-v` info, `-vv` debug, `-vvv`
//! trace), `PODINIT_LOG=error|warn|info|debug|trace` (hooks cannot get flags from the runtime),
//! `PODINIT_VERBOSITY=N` (tini's `TINI_VERBOSITY` scale: 0 error, 1 warn, 2 info, 3 debug,
//! 4 trace), and the default `warn`. Like tini, nothing is printed at the default level unless
//! something is wrong.
//!
//! Never call the logger between `fork` and `exec`: it allocates.

use std::ffi::OsStr;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub const DEFAULT: Level = Level::Warn;

    fn from_u8(v: u8) -> Level {
        match v {
            0 | 1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        }
    }

    /// `error|warn|info|debug|trace`, case-insensitive (`warning` is accepted too).
    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim();
        [
            ("error", Level::Error),
            ("warn", Level::Warn),
            ("warning", Level::Warn),
            ("info", Level::Info),
            ("debug", Level::Debug),
            ("trace", Level::Trace),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, level)| level)
    }

    /// The tag after `podinit: ` (errors and info lines carry none).
    fn tag(self) -> &'static str {
        match self {
            Level::Error | Level::Info => "",
            Level::Warn => "warning: ",
            Level::Debug => "debug: ",
            Level::Trace => "trace: ",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::DEFAULT as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

#[inline]
pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Resolves the level from the `-v` count and the two environment variables (see the module
/// doc for the precedence). Returns the level and, when a variable held garbage, a warning to
/// print once the level is set.
pub fn resolve(
    verbose_flags: u8,
    podinit_log: Option<&OsStr>,
    podinit_verbosity: Option<&OsStr>,
) -> (Level, Option<String>) {
    if verbose_flags > 0 {
        return (
            Level::from_u8(Level::DEFAULT as u8 + verbose_flags.min(3)),
            None,
        );
    }
    let mut warning = None;
    if let Some(v) = podinit_log.filter(|v| !v.is_empty()) {
        match v.to_str().and_then(Level::parse) {
            Some(level) => return (level, None),
            None => {
                warning = Some(format!(
                    "PODINIT_LOG={}: unknown level, expected error|warn|info|debug|trace",
                    v.to_string_lossy()
                ))
            }
        }
    }
    if let Some(v) = podinit_verbosity.filter(|v| !v.is_empty()) {
        match v.to_str().and_then(|s| s.trim().parse::<u8>().ok()) {
            Some(n) => return (Level::from_u8(n.saturating_add(1)), warning),
            None => {
                warning.get_or_insert_with(|| {
                    format!(
                        "PODINIT_VERBOSITY={}: not a number 0-4",
                        v.to_string_lossy()
                    )
                });
            }
        }
    }
    (Level::DEFAULT, warning)
}

/// [`resolve`] with the process environment, then [`set_level`]; prints the warning if any.
pub fn init_from_env(verbose_flags: u8) {
    let log = std::env::var_os("PODINIT_LOG");
    let verbosity = std::env::var_os("PODINIT_VERBOSITY");
    let (level, warning) = resolve(verbose_flags, log.as_deref(), verbosity.as_deref());
    set_level(level);
    if let Some(w) = warning {
        write(Level::Warn, format_args!("{w}"));
    }
}

/// Formats one line and writes it to stderr in one call. Errors (a closed stderr) are ignored:
/// logging must never take PID 1 down.
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    let mut line = Vec::with_capacity(128);
    let _ = writeln!(line, "podinit: {}{args}", level.tag());
    let _ = std::io::stderr().lock().write_all(&line);
}

#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)+) => {
        if $crate::log::enabled($level) {
            $crate::log::write($level, format_args!($($arg)+));
        }
    };
}

#[macro_export]
macro_rules! log_error { ($($arg:tt)+) => { $crate::log_at!($crate::log::Level::Error, $($arg)+) }; }
#[macro_export]
macro_rules! log_warn { ($($arg:tt)+) => { $crate::log_at!($crate::log::Level::Warn, $($arg)+) }; }
#[macro_export]
macro_rules! log_info { ($($arg:tt)+) => { $crate::log_at!($crate::log::Level::Info, $($arg)+) }; }
#[macro_export]
macro_rules! log_debug { ($($arg:tt)+) => { $crate::log_at!($crate::log::Level::Debug, $($arg)+) }; }
#[macro_export]
macro_rules! log_trace { ($($arg:tt)+) => { $crate::log_at!($crate::log::Level::Trace, $($arg)+) }; }

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, None, None, Level::Warn, false)]
    #[case(1, None, None, Level::Info, false)]
    #[case(2, None, None, Level::Debug, false)]
    #[case(3, None, None, Level::Trace, false)]
    #[case(9, None, None, Level::Trace, false)]
    // flags win over both variables
    #[case(1, Some("error"), Some("4"), Level::Info, false)]
    #[case(0, Some("debug"), None, Level::Debug, false)]
    #[case(0, Some("TRACE"), None, Level::Trace, false)]
    #[case(0, Some("warning"), None, Level::Warn, false)]
    #[case(0, Some("error"), Some("4"), Level::Error, false)]
    #[case(0, None, Some("0"), Level::Error, false)]
    #[case(0, None, Some("1"), Level::Warn, false)]
    #[case(0, None, Some("2"), Level::Info, false)]
    #[case(0, None, Some("3"), Level::Debug, false)]
    #[case(0, None, Some("4"), Level::Trace, false)]
    #[case(0, None, Some("200"), Level::Trace, false)]
    #[case(0, Some(""), Some(""), Level::Warn, false)]
    // garbage falls through to the next source and is reported
    #[case(0, Some("loud"), Some("2"), Level::Info, true)]
    #[case(0, Some("loud"), None, Level::Warn, true)]
    #[case(0, None, Some("-1"), Level::Warn, true)]
    fn level_resolution(
        #[case] flags: u8,
        #[case] log: Option<&str>,
        #[case] verbosity: Option<&str>,
        #[case] expected: Level,
        #[case] warns: bool,
    ) {
        let (level, warning) = resolve(flags, log.map(OsStr::new), verbosity.map(OsStr::new));
        assert_eq!(level, expected);
        assert_eq!(warning.is_some(), warns, "{warning:?}");
    }

    #[test]
    fn enabled_follows_level() {
        // The only test touching the global level: everything else is pure.
        set_level(Level::Info);
        assert!(enabled(Level::Error) && enabled(Level::Info));
        assert!(!enabled(Level::Debug));
        assert_eq!(level(), Level::Info);
        set_level(Level::DEFAULT);
        assert!(!enabled(Level::Info));
    }
}
