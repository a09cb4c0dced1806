//! Which signals the init takes over, and what it does with each one it reads.
//!
//! The init blocks every signal except the synchronous fault signals and reads them from a
//! signalfd. Every signal it reads is forwarded to the child (or, with `-g`, to the child's
//! process group) except:
//!
//! - `SIGCHLD`: it means "reap", and it is about our children, not the app's;
//! - the fault signals (`SIGFPE SIGILL SIGSEGV SIGBUS SIGABRT SIGTRAP SIGSYS`): never blocked, so
//!   a real fault in the init kills it with a core instead of looping on the faulting instruction
//!   (tini and catatonit do the same);
//! - `SIGKILL`/`SIGSTOP`, which cannot be caught at all;
//! - a signal the init raised on itself (`SIGPIPE` from a log write into a closed pipe,
//!   `SIGXFSZ` from a log write past `RLIMIT_FSIZE`): the kernel reports those with `SI_USER`
//!   and our own pid; they are about the init's stderr, not a request for the app.
//!
//! Job control (`SIGTSTP`, `SIGTTIN`, `SIGTTOU`, `SIGCONT`) is forwarded like everything else:
//! `runc kill ID TSTP` stops the app and `CONT` resumes it, while the init itself keeps running
//! (blocked signals cannot stop it). The kernel never generates `SIGTTIN`/`SIGTTOU` for the init's
//! own terminal access, because it treats a blocked `SIGTTOU` as ignored (the write proceeds) and
//! the init never reads the terminal; so a job-control signal that reaches the init was sent on
//! purpose. tini forwards `SIGTSTP` and ignores `SIGTTIN`/`SIGTTOU`; catatonit drops all three.
//! Forwarding them keeps the rule "every catchable signal reaches the app" without exceptions.

use libc::c_int;
use nix::sys::signal::{SigSet, Signal};

/// Synchronous fault signals: left unblocked with their default action, never forwarded.
pub const FAULT_SIGNALS: [Signal; 7] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// The set the init blocks and reads from its signalfd: everything (including the real-time
/// signals) but the fault signals. `SIGKILL`/`SIGSTOP` are in it only nominally; the kernel
/// silently leaves them out.
pub fn blocked_set() -> SigSet {
    let mut set = SigSet::all();
    for sig in FAULT_SIGNALS {
        set.remove(sig);
    }
    with_libc_reserved(set)
}

/// `set` plus signals 32-34, which `sigfillset` leaves out because the C library keeps them for
/// itself (glibc 32-33, musl 32-34: musl's `SIGRTMIN` is 35). The kernel has them and anyone can
/// send them by number: unblocked, their default action would end the init (a musl build died of
/// `kill -34`). The init is single-threaded and uses no thread cancellation or timer threads, so
/// blocking them takes nothing from the C library; the app gets the original mask back.
fn with_libc_reserved(set: SigSet) -> SigSet {
    let mut raw = *set.as_ref();
    // SAFETY: on Linux x86_64 sigset_t is 128 bytes (glibc and musl alike), its first 64 bits
    // signals 1..=64, bit n-1 for signal n; the write stays within the first 8 bytes.
    unsafe { *(&raw mut raw).cast::<u64>() |= 0b111 << 31 };
    // SAFETY: the bits set are real signals (32-34), in a set that came from a valid SigSet.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
}

fn is_fault(signo: c_int) -> bool {
    // A `matches!` rather than a scan of `FAULT_SIGNALS`: comparisons, no table to page in.
    matches!(
        signo,
        libc::SIGFPE
            | libc::SIGILL
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGABRT
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

/// What the init does with one signal it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A child changed state: run the reap loop.
    Reap,
    /// Send the same signal to the app (or its process group).
    Forward,
    /// Not for the app (see the module doc); logged at debug.
    Drop,
}

/// The sender as the signalfd reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signo: c_int,
    pub code: c_int,
    pub sender_pid: u32,
}

impl From<&libc::signalfd_siginfo> for Received {
    fn from(info: &libc::signalfd_siginfo) -> Self {
        Received {
            signo: info.ssi_signo as c_int,
            code: info.ssi_code,
            sender_pid: info.ssi_pid,
        }
    }
}

pub fn action(received: Received, self_pid: u32) -> Action {
    let signo = received.signo;
    if signo == libc::SIGCHLD {
        return Action::Reap;
    }
    if signo == libc::SIGKILL || signo == libc::SIGSTOP || is_fault(signo) {
        return Action::Drop;
    }
    if received.code == libc::SI_USER && received.sender_pid == self_pid {
        return Action::Drop;
    }
    Action::Forward
}

/// `kill(2)`'s pid argument: the child, or its process group (the child leads its own group).
pub fn forward_target(child: libc::pid_t, process_group: bool) -> libc::pid_t {
    if process_group { -child } else { child }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SELF: u32 = 1;
    const OTHER: u32 = 4242;

    fn rx(signo: c_int, code: c_int, sender_pid: u32) -> Received {
        Received {
            signo,
            code,
            sender_pid,
        }
    }

    #[rstest]
    #[case(rx(libc::SIGCHLD, libc::CLD_EXITED, 7), Action::Reap)]
    #[case(rx(libc::SIGTERM, libc::SI_USER, 0), Action::Forward)] // runc kill from the host: pid 0 in our namespace
    #[case(rx(libc::SIGTERM, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGINT, libc::SI_KERNEL, 0), Action::Forward)] // ^C on a terminal we share
    #[case(rx(libc::SIGHUP, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGQUIT, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGUSR1, libc::SI_QUEUE, OTHER), Action::Forward)]
    #[case(rx(libc::SIGUSR2, libc::SI_TKILL, OTHER), Action::Forward)]
    #[case(rx(libc::SIGWINCH, libc::SI_KERNEL, 0), Action::Forward)]
    #[case(rx(libc::SIGALRM, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGPWR, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGTSTP, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGTTIN, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGTTOU, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGCONT, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGPIPE, libc::SI_USER, OTHER), Action::Forward)]
    #[case(rx(libc::SIGRTMIN(), libc::SI_QUEUE, OTHER), Action::Forward)]
    #[case(rx(libc::SIGRTMAX(), libc::SI_USER, OTHER), Action::Forward)]
    // raised by the init's own log write: not for the app
    #[case(rx(libc::SIGPIPE, libc::SI_USER, SELF), Action::Drop)]
    #[case(rx(libc::SIGXFSZ, libc::SI_USER, SELF), Action::Drop)]
    // the init queueing to itself (not something it does) is still forwarded
    #[case(rx(libc::SIGUSR1, libc::SI_QUEUE, SELF), Action::Forward)]
    #[case(rx(libc::SIGSEGV, libc::SI_USER, OTHER), Action::Drop)]
    #[case(rx(libc::SIGABRT, libc::SI_USER, OTHER), Action::Drop)]
    #[case(rx(libc::SIGKILL, libc::SI_USER, OTHER), Action::Drop)]
    #[case(rx(libc::SIGSTOP, libc::SI_USER, OTHER), Action::Drop)]
    fn what_to_do(#[case] received: Received, #[case] expected: Action) {
        assert_eq!(action(received, SELF), expected);
    }

    #[test]
    fn is_fault_agrees_with_the_list() {
        for signo in 1..=libc::SIGRTMAX() {
            let listed = FAULT_SIGNALS.iter().any(|&s| s as c_int == signo);
            assert_eq!(is_fault(signo), listed, "{signo}");
        }
    }

    #[test]
    fn blocked_set_is_everything_catchable_but_faults() {
        let set = blocked_set();
        for sig in Signal::iterator() {
            let expected = !FAULT_SIGNALS.contains(&sig);
            assert_eq!(set.contains(sig), expected, "{sig}");
        }
        // and the real-time signals, which nix's `Signal` cannot name
        for signo in libc::SIGRTMIN()..=libc::SIGRTMAX() {
            // SAFETY: sigismember reads the set, which is a valid initialised sigset_t.
            let member = unsafe { libc::sigismember(set.as_ref(), signo) };
            assert_eq!(member, 1, "signal {signo}");
        }
        // and 32-34, which the C library keeps for itself (musl's sigismember refuses them)
        // SAFETY: reads the first 8 of sigset_t's 128 bytes (see with_libc_reserved).
        let word = unsafe { *(set.as_ref() as *const libc::sigset_t).cast::<u64>() };
        assert_eq!((word >> 31) & 0b111, 0b111);
    }

    #[test]
    fn every_blocked_signal_but_chld_is_forwarded_when_sent_by_someone_else() {
        let set = blocked_set();
        for signo in 1..=libc::SIGRTMAX() {
            // SAFETY: as above.
            if unsafe { libc::sigismember(set.as_ref(), signo) } != 1 {
                continue;
            }
            let expected = match signo {
                libc::SIGCHLD => Action::Reap,
                libc::SIGKILL | libc::SIGSTOP => Action::Drop,
                _ => Action::Forward,
            };
            assert_eq!(
                action(rx(signo, libc::SI_USER, OTHER), SELF),
                expected,
                "{signo}"
            );
        }
    }

    #[rstest]
    #[case(42, false, 42)]
    #[case(42, true, -42)]
    fn target(#[case] child: libc::pid_t, #[case] group: bool, #[case] expected: libc::pid_t) {
        assert_eq!(forward_target(child, group), expected);
    }
}
