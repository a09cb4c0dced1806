//! The process state podinit was started with, captured first thing in `main`.
//!
//! The binary has no Rust runtime start-up (`#![no_main]` in `src/main.rs`): std's would set
//! `SIGPIPE` to `SIG_IGN` and open `/dev/null` on closed fds 0-2 before `main`, and both would
//! leak into the app (an ignored disposition survives `execve`, and so do those descriptors).
//! [`capture`] records the `SIGPIPE` disposition and which of fds 0-2 are closed, then puts a
//! close-on-exec `/dev/null` on each closed one, so that podinit's own descriptors never take
//! the numbers 0-2 (a log line must not land in a signalfd or a pipe) while the app still sees
//! them closed. The spawn path additionally restores both in the child before `exec`, so even a
//! caller that went through std's start-up (the library used elsewhere, after [`capture`]) hands
//! the app its original state.
//!
//! If [`capture`] never ran, the state is assumed to be "`SIGPIPE` default, fds 0-2 open", which
//! is what std's own `Command` assumes too.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static SIGPIPE_IGNORED: AtomicBool = AtomicBool::new(false);
static CLOSED_STDIO: AtomicU8 = AtomicU8::new(0);

/// Records the `SIGPIPE` disposition and which of fds 0-2 are closed, and fills the closed ones
/// with close-on-exec `/dev/null`. Call once, before anything opens a descriptor.
pub fn capture() {
    SIGPIPE_IGNORED.store(
        crate::sys::signal::is_ignored(libc::SIGPIPE),
        Ordering::Relaxed,
    );
    let mut closed = 0u8;
    for fd in 0..3 {
        if !crate::sys::fd::is_open(fd) {
            closed |= 1 << fd;
            crate::sys::fd::fill_with_dev_null(fd);
        }
    }
    CLOSED_STDIO.store(closed, Ordering::Relaxed);
}

/// What the child must restore before `exec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pristine {
    /// `SIGPIPE` was `SIG_IGN` when podinit started: leave it ignored; otherwise reset it to
    /// `SIG_DFL` (std ignored it).
    pub sigpipe_ignored: bool,
    /// Bit `n` set: fd `n` (0-2) was closed when podinit started; std put `/dev/null` there.
    pub closed_stdio: u8,
}

impl Pristine {
    pub fn get() -> Pristine {
        Pristine {
            sigpipe_ignored: SIGPIPE_IGNORED.load(Ordering::Relaxed),
            closed_stdio: CLOSED_STDIO.load(Ordering::Relaxed),
        }
    }

    pub fn stdio_was_closed(&self, fd: i32) -> bool {
        (0..3).contains(&fd) && self.closed_stdio & (1 << fd) != 0
    }
}
