//! Signals by raw number: nix's `Signal` enum has no real-time signals, and an init forwards
//! those too.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::c_int;
use nix::errno::Errno;
use nix::sys::signal::Signal;

/// The first real-time signal applications may use (glibc keeps 32 and 33 for itself).
pub fn rt_min() -> c_int {
    libc::SIGRTMIN()
}

pub fn rt_max() -> c_int {
    libc::SIGRTMAX()
}

/// `kill(2)` with a raw signal number; a negative `pid` names a process group.
pub fn kill(pid: libc::pid_t, signo: c_int) -> nix::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    Errno::result(unsafe { libc::kill(pid, signo) }).map(drop)
}

/// `SIGTERM`, `SIGRTMIN+3`, or `signal 99` for a number that names nothing.
pub fn name(signo: c_int) -> Cow<'static, str> {
    if let Ok(sig) = Signal::try_from(signo) {
        return Cow::Borrowed(sig.as_str());
    }
    let (min, max) = (rt_min(), rt_max());
    if signo == max {
        Cow::Borrowed("SIGRTMAX")
    } else if signo == min {
        Cow::Borrowed("SIGRTMIN")
    } else if (min..max).contains(&signo) {
        Cow::Owned(format!("SIGRTMIN+{}", signo - min))
    } else {
        Cow::Owned(format!("signal {signo}"))
    }
}

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN`, `SIGRTMIN+2`, `RTMAX-1`.
pub fn parse(s: &str) -> Option<c_int> {
    let s = s.trim();
    if let Ok(n) = s.parse::<c_int>() {
        return (1..=rt_max()).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |rest: &str, base: c_int, sign: c_int| -> Option<c_int> {
        let offset = if rest.is_empty() {
            0
        } else {
            let digits = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
            digits.parse::<c_int>().ok()?
        };
        let n = base + sign * offset;
        (rt_min()..=rt_max()).contains(&n).then_some(n)
    };
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        return rt(rest, rt_min(), 1);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        return rt(rest, rt_max(), -1);
    }
    format!("SIG{bare}")
        .parse::<Signal>()
        .ok()
        .map(|sig| sig as c_int)
}

/// Whether `signo`'s disposition is `SIG_IGN` (ignored dispositions survive `execve`).
pub fn is_ignored(signo: c_int) -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null `act` only queries; `old` is a valid, writable sigaction.
    let rc = unsafe { libc::sigaction(signo, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zero-initialised and, on success, filled in by the kernel.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// One `read(2)` of as many pending signals as fit in `buf` from a non-blocking signalfd.
/// Returns the entries read (empty when none was pending). `buf` needs no initialisation.
pub fn read_signalfd<'a>(
    fd: BorrowedFd<'_>,
    buf: &'a mut [MaybeUninit<libc::signalfd_siginfo>],
) -> nix::Result<&'a [libc::signalfd_siginfo]> {
    let entry = size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: `buf` is valid for `len * entry` writable bytes.
        let rc = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                std::mem::size_of_val(buf),
            )
        };
        if rc >= 0 {
            let n = rc as usize / entry;
            // SAFETY: the kernel filled the first `n` entries; signalfd_siginfo is plain old
            // data, valid for any bytes.
            return Ok(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) });
        }
        match Errno::last() {
            Errno::EAGAIN => return Ok(&[]),
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("TERM", Some(libc::SIGTERM))]
    #[case("SIGTERM", Some(libc::SIGTERM))]
    #[case("sigkill", Some(libc::SIGKILL))]
    #[case(" usr1 ", Some(libc::SIGUSR1))]
    #[case("15", Some(15))]
    #[case("0", None)]
    #[case("65", None)]
    #[case("-9", None)]
    #[case("TERMINATE", None)]
    #[case("", None)]
    #[case("SIG", None)]
    #[case("RTMIN", Some(libc::SIGRTMIN()))]
    #[case("SIGRTMIN+2", Some(libc::SIGRTMIN() + 2))]
    #[case("rtmax-1", Some(libc::SIGRTMAX() - 1))]
    #[case("RTMAX", Some(libc::SIGRTMAX()))]
    #[case("RTMIN-1", None)]
    #[case("RTMIN+99", None)]
    #[case("RTMIN+x", None)]
    fn parse_signal(#[case] input: &str, #[case] expected: Option<c_int>) {
        assert_eq!(parse(input), expected);
    }

    #[rstest]
    #[case(libc::SIGTERM, "SIGTERM")]
    #[case(libc::SIGWINCH, "SIGWINCH")]
    #[case(libc::SIGRTMIN(), "SIGRTMIN")]
    #[case(libc::SIGRTMIN() + 3, "SIGRTMIN+3")]
    #[case(libc::SIGRTMAX(), "SIGRTMAX")]
    #[case(99, "signal 99")]
    fn names(#[case] signo: c_int, #[case] expected: &str) {
        assert_eq!(name(signo), expected);
    }

    #[test]
    fn every_named_signal_parses_back() {
        for signo in 1..=rt_max() {
            let n = name(signo);
            if n.starts_with("signal ") {
                continue; // glibc's reserved 32 and 33
            }
            assert_eq!(parse(&n), Some(signo), "{n}");
        }
    }

    /// The core writes the numbers out (it has no libc): they must be this target's.
    #[test]
    fn the_cores_signal_numbers_are_the_targets() {
        for n in 1..=31 {
            let core = crate::signal::Signal::new(n).unwrap();
            let ours = Signal::try_from(n).unwrap();
            assert_eq!(core.name(), Some(ours.as_str()), "signal {n}");
        }
        assert_eq!(crate::signal::Signal::MAX, libc::SIGRTMAX());
    }
}
