//! File-descriptor helpers: podinit's own descriptors are always close-on-exec, and the ones it
//! inherited for the application are dropped from PID 1 once the application has its copy.

use std::os::fd::{OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// A pipe whose both ends are close-on-exec.
pub fn pipe_cloexec() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

/// Whether `fd` is an open descriptor of this process (`fcntl(F_GETFD)` does not fail EBADF).
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; on a closed descriptor it fails EBADF
    // and touches nothing.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Opens `/dev/null` (close-on-exec) as descriptor `fd`, which must be closed and be the lowest
/// closed one (as when filling 0, 1, 2 in order). Best effort: on failure `fd` stays closed.
pub fn fill_with_dev_null(fd: RawFd) {
    // SAFETY: open with a valid NUL-terminated path; a descriptor we did not expect is closed
    // again at once, so nothing leaks and no owned descriptor is touched.
    unsafe {
        let got = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if got >= 0 && got != fd {
            libc::close(got);
        }
    }
}

/// Closes every descriptor `>= from` except those in `keep`, with `close_range(2)` over the
/// gaps. Returns `Err(ENOSYS)` on kernels older than 5.9, where nothing is closed.
pub fn close_from_except(from: RawFd, keep: &[RawFd]) -> nix::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= from).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = from as libc::c_uint;
    for fd in keep {
        let fd = fd as libc::c_uint;
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> nix::Result<()> {
    // SAFETY: close_range only closes descriptors; the ones it closes here are not owned by any
    // Rust object of this process (the caller passes every descriptor it owns in `keep`).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn pipe_is_cloexec() {
        let (r, w) = pipe_cloexec().unwrap();
        for fd in [r.as_raw_fd(), w.as_raw_fd()] {
            // SAFETY: reading the flags of a descriptor we own.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
    }

    #[test]
    fn is_open_tells_open_from_closed() {
        let (r, w) = pipe_cloexec().unwrap();
        assert!(is_open(r.as_raw_fd()) && is_open(w.as_raw_fd()));
        // Far above anything the test process opens, so no other test thread can race it.
        assert!(!is_open(999_999));
    }
}
