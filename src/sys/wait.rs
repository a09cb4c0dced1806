//! `waitpid(2)` with the raw status: nix's `WaitStatus` cannot represent a death by a real-time
//! signal (it fails with EINVAL *after* the kernel has consumed the zombie, losing the status).

use nix::errno::Errno;

/// How a child ended, decoded from the raw wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled { signo: i32, core_dumped: bool },
}

impl Ended {
    /// `None` for stop/continue reports, which the init never asks for.
    pub fn from_raw(status: libc::c_int) -> Option<Ended> {
        if libc::WIFEXITED(status) {
            Some(Ended::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(Ended::Signaled {
                signo: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }
}

/// `waitpid(pid, WNOHANG)` (`pid` -1 for any child). `Ok(None)` when no child has anything to
/// report; `Err(ECHILD)` when there is no child at all.
pub fn wait_nohang(pid: libc::pid_t) -> nix::Result<Option<(libc::pid_t, libc::c_int)>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, writable int; waitpid writes only there.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        match Errno::result(rc) {
            Ok(0) => return Ok(None),
            Ok(pid) => return Ok(Some((pid, status))),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether the caller has any child left, ended or not, without reaping one (`waitid` with
/// `WNOWAIT`). An error other than `ECHILD` counts as "yes": the caller then waits and asks again.
pub fn has_children() -> bool {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid value; waitid writes only into `info`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; P_ALL ignores the id argument.
        let rc = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        match Errno::result(rc) {
            Ok(_) => return true,
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return false,
            Err(_) => return true,
        }
    }
}

/// Blocking `waitpid(pid, 0)` (`pid` -1 for any child): the pid reaped and its raw status.
pub fn wait_blocking(pid: libc::pid_t) -> nix::Result<(libc::pid_t, libc::c_int)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: as in `wait_nohang`.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        match Errno::result(rc) {
            Ok(pid) => return Ok((pid, status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // Raw statuses as the kernel encodes them: exit code in bits 8-15; signal in bits 0-6, core
    // flag 0x80; 0x7f in the low byte means stopped, 0xffff continued.
    #[rstest]
    #[case(0x0000, Some(Ended::Exited(0)))]
    #[case(0x0300, Some(Ended::Exited(3)))]
    #[case(0xff00, Some(Ended::Exited(255)))]
    #[case(0x0009, Some(Ended::Signaled { signo: 9, core_dumped: false }))]
    #[case(0x008b, Some(Ended::Signaled { signo: 11, core_dumped: true }))]
    #[case(0x0022, Some(Ended::Signaled { signo: 34, core_dumped: false }))]
    #[case(0x0040, Some(Ended::Signaled { signo: 64, core_dumped: false }))]
    #[case(0x137f, None)]
    #[case(0xffff, None)]
    fn decode(#[case] raw: libc::c_int, #[case] expected: Option<Ended>) {
        assert_eq!(Ended::from_raw(raw), expected);
    }
}
