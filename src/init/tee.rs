//! `terminationMessagePolicy: FallbackToLogsOnError` without a kubelet: the init cannot read the
//! container's log (the runtime's shim or the agent owns it), so, for a container with that
//! policy only, the app's stdout and stderr go through two pipes the init relays to its own
//! stdout and stderr, keeping the last 2 KiB in a [`LogTail`]. Every other container keeps its
//! output fds untouched and pays nothing. A terminal on stdout is never teed: the app must keep
//! its tty (window size, job control), and the fallback then has no output to report.
//!
//! The relay writes block as the app's own writes would have; the app's output order within one
//! stream is kept, between stdout and stderr only as far as the init reads them in turn.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::termination::LogTail;
use crate::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

pub struct Tee {
    out: Pipe,
    err: Pipe,
    pub tail: LogTail,
}

fn pipe() -> nix::Result<Pipe> {
    let (read, write) = sys::fd::pipe_cloexec()?;
    fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok(Pipe { read, write })
}

impl Tee {
    pub fn new() -> nix::Result<Tee> {
        Ok(Tee {
            out: pipe()?,
            err: pipe()?,
            tail: LogTail::default(),
        })
    }

    /// Whether the app's output may go through a tee: not when stdout is a terminal.
    pub fn applies() -> bool {
        // SAFETY: isatty only inspects the descriptor.
        (unsafe { libc::isatty(1) }) != 1
    }

    /// What the app gets as fds 1 and 2.
    pub fn child_fds(&self) -> [RawFd; 2] {
        [self.out.write.as_raw_fd(), self.err.write.as_raw_fd()]
    }

    pub fn read_fd(&self, stream: Stream) -> BorrowedFd<'_> {
        match stream {
            Stream::Stdout => self.out.read.as_fd(),
            Stream::Stderr => self.err.read.as_fd(),
        }
    }

    /// Relays what is in the pipe now to the init's own fd and keeps its tail.
    pub fn drain(&mut self, stream: Stream) {
        let (pipe, target) = match stream {
            Stream::Stdout => (&self.out, 1),
            Stream::Stderr => (&self.err, 2),
        };
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(&pipe.read, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    self.tail.push(&buf[..n]);
                    write_all(target, &buf[..n]);
                }
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    pub fn drain_all(&mut self) {
        self.drain(Stream::Stdout);
        self.drain(Stream::Stderr);
    }
}

/// Best effort: output the init's own stdout cannot take is dropped, not retried.
fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a valid slice to one of the init's standard descriptors.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match n {
            n if n > 0 => bytes = &bytes[n as usize..],
            _ if Errno::last() == Errno::EINTR => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_app_writes_is_kept_in_the_tail() {
        let mut tee = Tee::new().unwrap();
        let [_, err] = tee.child_fds();
        let line = b"panic: no database\n";
        // SAFETY: writing a valid slice to the pipe's write end we own.
        let n = unsafe { libc::write(err, line.as_ptr().cast(), line.len()) };
        assert_eq!(n, line.len() as isize);
        // Relaying to our own stderr is harmless in a test.
        tee.drain(Stream::Stderr);
        assert_eq!(tee.tail.text(), "panic: no database\n");
    }
}
