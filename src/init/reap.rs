//! Reaping and exit statuses.
//!
//! Every wake-up on `SIGCHLD` runs `waitpid(-1, WNOHANG)` until nothing is left to collect: the
//! kernel coalesces `SIGCHLD`s, so one signal may stand for many dead children, and the app's
//! own death may arrive in the same batch as an orphan's (catatonit#4). Each reaped pid is
//! compared with the app's.

use std::fmt;

use crate::sys::wait::{self, Ended};

/// The exit code an init reports for a child that ended this way: the code itself, or
/// 128 + the signal number (what shells and tini report).
pub fn exit_code(ended: Ended) -> i32 {
    match ended {
        Ended::Exited(code) => code & 0xff,
        Ended::Signaled { signo, .. } => 128 + signo,
    }
}

/// Shown in log lines: `exited with status 3`, `was killed by SIGKILL`.
pub struct Describe(pub Ended);

impl fmt::Display for Describe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Signaled { signo, core_dumped } => write!(
                f,
                "was killed by {}{}",
                crate::sys::signal::name(signo),
                if core_dumped { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// `-e CODE` (repeatable): exit codes of the app that the init reports as 0. Applied to the final
/// code, so `-e 143` covers a death by `SIGTERM`, as with tini.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitRemap([u64; 4]);

impl ExitRemap {
    pub fn new(codes: &[u8]) -> ExitRemap {
        let mut bits = [0u64; 4];
        for &c in codes {
            bits[usize::from(c / 64)] |= 1 << (c % 64);
        }
        ExitRemap(bits)
    }

    pub fn contains(&self, code: i32) -> bool {
        (0..=255).contains(&code) && self.0[(code / 64) as usize] & (1 << (code % 64)) != 0
    }

    pub fn apply(&self, code: i32) -> i32 {
        if self.contains(code) { 0 } else { code }
    }
}

/// Collects every child that has ended, calling `each` for each one. An error (other than
/// "no children") stops the loop; what was reaped before it has been passed to `each`.
pub fn reap_each(mut each: impl FnMut(libc::pid_t, Ended)) -> nix::Result<()> {
    loop {
        match wait::wait_nohang(-1) {
            Ok(Some((pid, raw))) => {
                if let Some(ended) = Ended::from_raw(raw) {
                    each(pid, ended);
                }
            }
            Ok(None) | Err(nix::errno::Errno::ECHILD) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Collects every child that has ended. Returns how the app (`main_pid`) ended if it was among
/// them; calls `on_other` for each other (orphaned) process reaped.
pub fn reap_all(
    main_pid: libc::pid_t,
    mut on_other: impl FnMut(libc::pid_t, Ended),
) -> nix::Result<Option<Ended>> {
    let mut main = None;
    reap_each(|pid, ended| {
        if pid == main_pid {
            main = Some(ended);
        } else {
            on_other(pid, ended);
        }
    })?;
    Ok(main)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Ended::Exited(0), 0)]
    #[case(Ended::Exited(3), 3)]
    #[case(Ended::Exited(255), 255)]
    #[case(Ended::Signaled { signo: libc::SIGHUP, core_dumped: false }, 129)]
    #[case(Ended::Signaled { signo: libc::SIGKILL, core_dumped: false }, 137)]
    #[case(Ended::Signaled { signo: libc::SIGSEGV, core_dumped: true }, 139)]
    #[case(Ended::Signaled { signo: libc::SIGTERM, core_dumped: false }, 143)]
    #[case(Ended::Signaled { signo: 64, core_dumped: false }, 192)]
    fn codes(#[case] ended: Ended, #[case] expected: i32) {
        assert_eq!(exit_code(ended), expected);
    }

    #[rstest]
    #[case(&[], 143, 143)]
    #[case(&[143], 143, 0)]
    #[case(&[143], 137, 137)]
    #[case(&[0], 0, 0)]
    #[case(&[1, 2, 3], 2, 0)]
    #[case(&[1, 2, 3], 4, 4)]
    #[case(&[63, 64, 127, 128, 191, 192, 255], 64, 0)]
    #[case(&[63, 64, 127, 128, 191, 192, 255], 255, 0)]
    #[case(&[63, 64, 127, 128, 191, 192, 255], 65, 65)]
    #[case(&[255], 256, 256)]
    #[case(&[255], -1, -1)]
    fn remap(#[case] codes: &[u8], #[case] code: i32, #[case] expected: i32) {
        assert_eq!(ExitRemap::new(codes).apply(code), expected);
    }

    #[test]
    fn remap_every_code_alone() {
        // tini's exhaustive -e test, as a unit test: each code maps to 0 and only that code.
        for c in 0..=255u8 {
            let remap = ExitRemap::new(&[c]);
            for code in 0..=255 {
                let expected = if code == i32::from(c) { 0 } else { code };
                assert_eq!(remap.apply(code), expected, "-e {c}, code {code}");
            }
        }
    }

    #[rstest]
    #[case(Ended::Exited(3), "exited with status 3")]
    #[case(Ended::Signaled { signo: libc::SIGKILL, core_dumped: false }, "was killed by SIGKILL")]
    #[case(Ended::Signaled { signo: libc::SIGSEGV, core_dumped: true }, "was killed by SIGSEGV (core dumped)")]
    fn describe(#[case] ended: Ended, #[case] expected: &str) {
        assert_eq!(Describe(ended).to_string(), expected);
    }

    #[test]
    fn reap_all_collects_main_and_orphans_from_one_call() {
        // Two children that are both dead before we look, as with a coalesced SIGCHLD. It runs in
        // a forked helper so `waitpid(-1)` cannot steal another test's child; the helper uses
        // only async-signal-safe calls (the test process is multi-threaded) and reports through
        // its exit code.
        fn spawn_exiting(code: i32) -> libc::pid_t {
            // SAFETY: the child only calls `_exit`, which is async-signal-safe.
            match unsafe { libc::fork() } {
                // SAFETY: the forked child only exits.
                0 => unsafe { libc::_exit(code) },
                pid => pid,
            }
        }
        // SAFETY: the helper child runs only fork/waitid/waitpid/_exit and non-allocating code.
        let helper = match unsafe { libc::fork() } {
            0 => {
                let main = spawn_exiting(7);
                let other = spawn_exiting(9);
                for pid in [main, other] {
                    // SAFETY: WNOWAIT waits for the death without consuming the zombie; `info`
                    // is a valid, writable siginfo_t.
                    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                    // SAFETY: as above, `info` is valid and writable for the call.
                    let rc = unsafe {
                        libc::waitid(
                            libc::P_PID,
                            pid as libc::id_t,
                            &mut info,
                            libc::WEXITED | libc::WNOWAIT,
                        )
                    };
                    if main < 0 || other < 0 || rc != 0 {
                        // SAFETY: the forked test child exits without unwinding.
                        unsafe { libc::_exit(2) };
                    }
                }
                let mut others_ok = 0;
                let mut others_bad = 0;
                let got = reap_all(main, |pid, ended| {
                    if pid == other && ended == Ended::Exited(9) {
                        others_ok += 1;
                    } else {
                        others_bad += 1;
                    }
                });
                let ok = got == Ok(Some(Ended::Exited(7))) && others_ok == 1 && others_bad == 0;
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            -1 => panic!("fork failed"),
            pid => pid,
        };
        let (_, status) = wait::wait_blocking(helper).unwrap();
        assert_eq!(Ended::from_raw(status), Some(Ended::Exited(0)));
    }
}
