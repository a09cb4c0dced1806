//! A Linux signal as the core passes it around: a number in `1..=64`, with the standard names.
//!
//! The numbers are written out instead of taken from libc so the core has no I/O dependency.
//! They are the asm-generic ones, which x86_64 and aarch64 Linux share for every signal listed
//! here (x86's own header agrees for 1..=31). The real-time signals (32..=64) are numbers
//! without a name here: where SIGRTMIN starts depends on the C library (glibc keeps 32 and 33,
//! musl 32 to 34), so naming them is the driver's job (`src/sys/signal.rs`). nix's `Signal` enum
//! has no real-time signals either, which is why drivers hand `number()` to `kill(2)`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A signal number in `1..=`[`Signal::MAX`]; on the wire and in the journal a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Signal(i32);

macro_rules! signals {
    ($($name:ident = $n:literal),* $(,)?) => {
        impl Signal {
            $(pub const $name: Signal = Signal($n);)*
        }
        /// The signals with a standard name, by number.
        const NAMED: &[(Signal, &str)] = &[$((Signal::$name, stringify!($name))),*];
    };
}

signals! {
    SIGHUP = 1,
    SIGINT = 2,
    SIGQUIT = 3,
    SIGILL = 4,
    SIGTRAP = 5,
    SIGABRT = 6,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGUSR1 = 10,
    SIGSEGV = 11,
    SIGUSR2 = 12,
    SIGPIPE = 13,
    SIGALRM = 14,
    SIGTERM = 15,
    SIGSTKFLT = 16,
    SIGCHLD = 17,
    SIGCONT = 18,
    SIGSTOP = 19,
    SIGTSTP = 20,
    SIGTTIN = 21,
    SIGTTOU = 22,
    SIGURG = 23,
    SIGXCPU = 24,
    SIGXFSZ = 25,
    SIGVTALRM = 26,
    SIGPROF = 27,
    SIGWINCH = 28,
    SIGIO = 29,
    SIGPWR = 30,
    SIGSYS = 31,
}

impl Signal {
    /// The largest signal number on Linux (SIGRTMAX).
    pub const MAX: i32 = 64;

    /// The signal numbered `n`, if `n` is one (`1..=64`).
    pub const fn new(n: i32) -> Option<Signal> {
        if 1 <= n && n <= Self::MAX {
            Some(Signal(n))
        } else {
            None
        }
    }

    /// The number `kill(2)` takes.
    pub const fn number(self) -> i32 {
        self.0
    }

    /// `SIGTERM`; `None` for the real-time signals.
    pub fn name(self) -> Option<&'static str> {
        NAMED.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }

    /// The signal with this standard name (`SIGTERM`, exactly).
    pub fn from_name(name: &str) -> Option<Signal> {
        NAMED.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }
}

/// Why a number is not a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotASignal(pub i32);

impl fmt::Display for NotASignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a signal number (1..={})", self.0, Signal::MAX)
    }
}

impl std::error::Error for NotASignal {}

impl TryFrom<i32> for Signal {
    type Error = NotASignal;

    fn try_from(n: i32) -> Result<Signal, NotASignal> {
        Signal::new(n).ok_or(NotASignal(n))
    }
}

impl From<Signal> for i32 {
    fn from(s: Signal) -> i32 {
        s.0
    }
}

/// The number, as every message that names a signal by number prints it (`signal 15`).
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_one_to_thirty_one_in_order() {
        let numbers: Vec<i32> = NAMED.iter().map(|(s, _)| s.number()).collect();
        assert_eq!(numbers, (1..=31).collect::<Vec<_>>());
    }

    #[test]
    fn names_and_numbers_round_trip() {
        assert_eq!(Signal::SIGTERM.name(), Some("SIGTERM"));
        assert_eq!(
            Signal::from_name("SIGWINCH"),
            Some(Signal::new(28).unwrap())
        );
        assert_eq!(Signal::new(34).unwrap().name(), None);
        assert_eq!(Signal::new(0), None);
        assert_eq!(Signal::new(65), None);
        assert_eq!(Signal::new(64).map(Signal::number), Some(64));
    }

    #[test]
    fn serde_is_the_bare_number_and_refuses_what_is_not_a_signal() {
        assert_eq!(serde_json::to_string(&Signal::SIGKILL).unwrap(), "9");
        assert_eq!(
            serde_json::from_str::<Signal>("15").unwrap(),
            Signal::SIGTERM
        );
        let e = serde_json::from_str::<Signal>("65")
            .unwrap_err()
            .to_string();
        assert!(e.contains("65 is not a signal number"), "{e}");
    }
}
