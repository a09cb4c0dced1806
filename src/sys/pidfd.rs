//! pidfds: a handle on one process that PID reuse cannot redirect (nix 0.31 has no wrappers, so
//! these go through `libc::syscall`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn open(pid: libc::pid_t) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nobody else owns it. pidfds are
    // created close-on-exec.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Signal the process behind `fd`; ESRCH once it has exited, never a stranger.
pub fn send_signal(fd: &OwnedFd, signal: i32) -> std::io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo (NULL) and no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether the process behind `fd` has exited, without waiting: a pidfd polls readable from
/// then on. For a decision that cannot wait for the event loop to see the same readiness.
pub fn has_exited(fd: &OwnedFd) -> bool {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        fd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_signals_its_process_and_nothing_after_it_exited() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let fd = open(child.id() as i32).expect("pidfd_open");
        assert!(!has_exited(&fd));
        send_signal(&fd, libc::SIGKILL).expect("signal");
        child.wait().expect("reap");
        assert!(has_exited(&fd));
        let err = send_signal(&fd, libc::SIGKILL).expect_err("the process is gone");
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
