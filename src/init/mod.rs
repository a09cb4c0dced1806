//! `podinit exec -- CMD...`: the init inside each container.
//!
//! Without a supervisor socket it is a plain init, like tini or catatonit: it runs CMD as its
//! only child, forwards every catchable signal to it ([`signals`]), reaps every zombie
//! ([`reap`]), becomes a child subreaper when it is not PID 1, and exits with the child's status
//! (`128+signal` for a signal death, 127/126 when CMD cannot be executed). The app sees exactly
//! the capabilities, ids, signal mask and dispositions, environment, cwd, rlimits and fds it would
//! have had without podinit ([`spawn`], [`pristine`]).
//!
//! The loop is one `epoll` over a signalfd, so the managed mode can add the supervisor socket and
//! a timerfd under their own tokens ([`EventLoop::add`]); there is no periodic wake-up: past one
//! time-out at the end of start-up, the init sleeps until a signal arrives.

pub mod bootstrap;
pub mod checks;
pub mod cli;
pub mod core;
mod http_probe;
pub mod leftovers;
pub mod managed;
pub mod oom;
pub mod pristine;
pub mod reap;
pub mod resolve;
pub mod run_watch;
pub mod signals;
pub mod spawn;
pub mod teardown_note;
pub mod tee;
pub mod termination;

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use libc::c_int;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::sys;
use crate::sys::wait::Ended;
use crate::{log_debug, log_error, log_info, log_trace, log_warn};
use reap::{Describe, ExitRemap};
use spawn::SpawnError;

/// Exit code when the init itself fails before the app runs (tini's choice too).
pub const EXIT_INIT_FAILURE: i32 = 1;

/// What `podinit exec` was asked to do (flags merged with their environment equivalents).
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// The app: program and arguments.
    pub command: Vec<OsString>,
    /// `-s` / `PODINIT_SUBREAPER`: register as child subreaper even as PID 1 (it is automatic
    /// otherwise) and fail if that is impossible.
    pub subreaper: bool,
    /// `-g` / `PODINIT_KILL_PROCESS_GROUP`: forward signals to the app's process group.
    pub kill_process_group: bool,
    /// `-e CODE`: app exit codes reported as 0.
    pub remap: ExitRemap,
    /// `-p SIGNAL`: the init's parent-death signal (forwarded to the app like any signal).
    pub pdeathsig: Option<c_int>,
    /// `-w`: log every orphan reaped at warning level (debug otherwise).
    pub warn_on_reap: bool,
}

impl InitOptions {
    /// Turns on the options whose environment equivalents are set (see [`env_flag`]); flags
    /// already on stay on. `get` is `std::env::var_os` outside tests.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<OsString>) {
        self.subreaper |= env_flag(get("PODINIT_SUBREAPER").as_deref());
        self.kill_process_group |= env_flag(get("PODINIT_KILL_PROCESS_GROUP").as_deref());
    }
}

/// A boolean environment variable: set and not one of `""`, `0`, `false`, `no`, `off`
/// (case-insensitive). tini only checks that `TINI_SUBREAPER` is set; accepting `=0` as "off"
/// keeps an operator's explicit "no" from turning the option on.
pub fn env_flag(value: Option<&OsStr>) -> bool {
    match value {
        None => false,
        Some(v) => !["", "0", "false", "no", "off"].iter().any(|off| {
            v.to_str()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(off))
        }),
    }
}

/// Whether a command line without a subcommand is a tini-style init invocation that must run as
/// `podinit exec` (`docker --init` runs `INIT -- CMD`; tini users write `INIT -s -g -- CMD` or
/// `INIT CMD`). The rule: the first word that is not an option is the command to run unless it
/// is a podinit subcommand (`is_subcommand`). So true when `args[1..]` starts with `--`, with a
/// word that is not a subcommand, or with options followed by `--` or by such a word; false for
/// a subcommand, and for `-h`/`--help`/`-V`/`--version` before the command.
pub fn is_bare_init_invocation(args: &[OsString], is_subcommand: impl Fn(&str) -> bool) -> bool {
    let Some(first) = args.get(1) else {
        return false;
    };
    if !first.as_encoded_bytes().starts_with(b"-") {
        return !first.to_str().is_some_and(&is_subcommand);
    }
    let mut tokens = args[1..].iter();
    while let Some(tok) = tokens.next() {
        let b = tok.as_encoded_bytes();
        match b {
            b"--" => return true,
            b"-h" | b"--help" | b"-V" | b"--version" => return false,
            _ if b.starts_with(b"--") => {
                // `--remap-exit 3` / `--pdeathsig TERM` take the next token as their value.
                if matches!(b, b"--remap-exit" | b"--pdeathsig") {
                    tokens.next();
                }
            }
            _ if b.len() > 1 && b[0] == b'-' => {
                // A cluster of short flags; `-e`/`-p` take the rest, or the next token.
                if let Some(i) = b[1..].iter().position(|&c| c == b'e' || c == b'p') {
                    if i + 2 == b.len() {
                        tokens.next();
                    }
                }
            }
            _ => return !tok.to_str().is_some_and(&is_subcommand),
        }
    }
    false
}

/// `podinit exec`: managed by the supervisor when a socket is configured (`PODINIT_SOCKET`, or
/// the one `inject` mounts at `/.podinit/sock`), a plain init otherwise.
pub fn run(opts: &InitOptions) -> i32 {
    match managed::socket_path() {
        Some(socket) => managed::run(opts, socket),
        None => run_plain(opts),
    }
}

/// The token of the signalfd in [`EventLoop`]; managed mode registers its fds under others.
pub const TOKEN_SIGNALS: u64 = 0;

/// One epoll over the signalfd (and whatever else a mode adds). All fds are close-on-exec.
pub struct EventLoop {
    epoll: Epoll,
    signals: SignalFd,
}

impl EventLoop {
    /// `blocked` must already be blocked in the calling thread.
    pub fn new(blocked: &SigSet) -> nix::Result<EventLoop> {
        let signals =
            SignalFd::with_flags(blocked, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let el = EventLoop { epoll, signals };
        el.add(el.signals.as_fd(), TOKEN_SIGNALS)?;
        Ok(el)
    }

    /// Watch `fd` for input; [`EventLoop::wait`] reports it as `token`.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> nix::Result<()> {
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))
    }

    /// Blocks until something is ready (no timeout: no periodic wake-ups). Returns the number of
    /// entries of `events` filled; `event.data()` is the token.
    pub fn wait(&self, events: &mut [EpollEvent]) -> nix::Result<usize> {
        self.wait_at_most(events, EpollTimeout::NONE)
    }

    /// [`EventLoop::wait`], but returns 0 once `timeout` has passed with nothing ready.
    pub fn wait_at_most(
        &self,
        events: &mut [EpollEvent],
        timeout: EpollTimeout,
    ) -> nix::Result<usize> {
        loop {
            match self.epoll.wait(events, timeout) {
                Err(Errno::EINTR) => continue,
                other => return other,
            }
        }
    }

    /// Every pending signal, in batches (one `read` per batch).
    pub fn drain_signals(&self, mut each: impl FnMut(&libc::signalfd_siginfo)) -> nix::Result<()> {
        const BATCH: usize = 16;
        let mut buf = [const { std::mem::MaybeUninit::uninit() }; BATCH];
        loop {
            let got = sys::signal::read_signalfd(self.signals.as_fd(), &mut buf)?;
            got.iter().for_each(&mut each);
            if got.len() < BATCH {
                return Ok(());
            }
        }
    }

    /// The loop's own descriptors (kept when the init drops the fds it inherited).
    pub fn fds(&self) -> [RawFd; 2] {
        [self.epoll.0.as_raw_fd(), self.signals.as_raw_fd()]
    }
}

/// The plain init: returns the exit code for the process.
pub fn run_plain(opts: &InitOptions) -> i32 {
    let started = match start(opts) {
        Ok(s) => s,
        Err(e) => {
            log_error!("{e}");
            return e.exit_code();
        }
    };
    let Started {
        event_loop,
        child,
        name,
        gave_terminal,
    } = started;
    let code = match supervise_child(opts, &event_loop, child) {
        Ok(ended) => ended,
        Err(e) => {
            log_error!(
                "event loop failed ({}); waiting for {name} without forwarding signals",
                e.desc()
            );
            wait_without_loop(child)
        }
    };
    if gave_terminal {
        spawn::take_terminal_back(child);
    }
    let raw = reap::exit_code(code);
    let reported = opts.remap.apply(raw);
    if reported != raw {
        log_info!(
            "{name} (pid {child}) {}; exiting with {reported} (-e {raw})",
            Describe(code)
        );
    } else {
        log_info!(
            "{name} (pid {child}) {}; exiting with {reported}",
            Describe(code)
        );
    }
    reported
}

struct Started {
    event_loop: EventLoop,
    child: libc::pid_t,
    name: String,
    /// The app was made the terminal's foreground group.
    gave_terminal: bool,
}

/// Everything up to a running app: the shared start-up ([`bootstrap`]), fork+exec, then the
/// rest of the init's hygiene (inherited fds dropped).
fn start(opts: &InitOptions) -> Result<Started, SpawnError> {
    // SAFETY: getpid cannot fail and touches no memory.
    let self_pid = unsafe { libc::getpid() };
    let bootstrap::Booted {
        event_loop,
        prepared,
        setup,
        parent_already_gone,
    } = bootstrap::bootstrap(opts)?;
    let child = spawn::spawn(&prepared, &setup)?;
    log_debug!(
        "started {} as pid {child} (init pid {self_pid}{})",
        prepared.name(),
        if setup.take_terminal {
            ", terminal handed over"
        } else {
            ""
        }
    );

    // Hygiene of a long-lived PID 1: if the start directory could not be left before the
    // spawn, leave it now; and do not keep the app's inherited fds (a pipe's reader would never
    // see EOF, catatonit#12). fds 0-2 stay for logging.
    if setup.start_dir.is_none() {
        let _ = nix::unistd::chdir("/");
    }
    if let Err(e) = sys::fd::close_from_except(3, &event_loop.fds()) {
        log_debug!("cannot close inherited fds: {}", e.desc());
    }

    if let Some(sig) = parent_already_gone {
        forward(opts, child, sig);
    }
    Ok(Started {
        event_loop,
        child,
        name: prepared.name().to_owned(),
        gave_terminal: setup.take_terminal,
    })
}

fn forward(opts: &InitOptions, child: libc::pid_t, signo: c_int) {
    let target = signals::forward_target(child, opts.kill_process_group);
    match sys::signal::kill(target, signo) {
        Ok(()) if signo == 0 => {} // the warm-up's existence check
        Ok(()) => log_debug!("forwarded {} to {target}", sys::signal::name(signo)),
        Err(Errno::ESRCH) => log_debug!(
            "{} not forwarded: {target} is gone",
            sys::signal::name(signo)
        ),
        Err(e) => log_warn!(
            "cannot forward {} to {target}: {}",
            sys::signal::name(signo),
            e.desc()
        ),
    }
}

/// How long the init must have had nothing to do before it drops its start-up pages.
pub(crate) const SETTLED_MS: u16 = 100;

/// The loop: sleep in epoll, forward what arrives, reap on `SIGCHLD`, return when the app died.
///
/// The first waits time out after [`SETTLED_MS`] without events; that single time-out (not a
/// periodic one: afterwards the wait has none) marks the end of start-up. The init then drops
/// its start-up pages ([`sys::mem::release_executable_pages`]: argument parsing, spawning, std
/// and glibc start-up, about a megabyte that a long-lived PID 1 never runs again), and exercises
/// the paths the next signal takes, so that it does not pay for page faults: the forward path
/// with signal 0 (an existence check), and the read-and-reap path by posting itself a
/// `SIGCHLD`, which the loop reads and answers with a (normally empty) reap. An app that ends
/// within the first [`SETTLED_MS`] costs none of this.
fn supervise_child(
    opts: &InitOptions,
    event_loop: &EventLoop,
    child: libc::pid_t,
) -> nix::Result<Ended> {
    // SAFETY: getpid cannot fail and touches no memory.
    let self_pid = unsafe { libc::getpid() };
    let mut events = [EpollEvent::empty(); 4];
    let mut settled = false;
    loop {
        let timeout = if settled {
            EpollTimeout::NONE
        } else {
            EpollTimeout::from(SETTLED_MS)
        };
        let n = event_loop.wait_at_most(&mut events, timeout)?;
        if n == 0 {
            settled = true;
            settle(|| forward(opts, child, 0));
            continue;
        }
        if !events[..n].iter().any(|ev| ev.data() == TOKEN_SIGNALS) {
            continue;
        }
        let mut reap_now = false;
        event_loop.drain_signals(|info| {
            let received = signals::Received::from(info);
            match signals::action(received, self_pid as u32) {
                signals::Action::Reap => reap_now = true,
                signals::Action::Forward => forward(opts, child, received.signo),
                signals::Action::Drop => log_debug!(
                    "{} from pid {} (code {}) not forwarded",
                    sys::signal::name(received.signo),
                    received.sender_pid,
                    received.code
                ),
            }
        })?;
        if reap_now {
            let reaped = reap::reap_all(child, |pid, ended| {
                if opts.warn_on_reap {
                    log_warn!("reaped zombie process {pid}, which {}", Describe(ended));
                } else {
                    log_trace!("reaped orphan {pid}, which {}", Describe(ended));
                }
            })?;
            if let Some(ended) = reaped {
                return Ok(ended);
            }
        }
    }
}

/// The end of start-up (see [`supervise_child`]): drop the start-up pages, then exercise the
/// paths the next event takes so that it pays no page fault: `warm_forward` sends signal 0 to
/// the app the way a real signal would go, and a `SIGCHLD` posted to itself drives the loop
/// through its read-and-reap path once (a reap that normally finds nothing).
pub(crate) fn settle(warm_forward: impl FnOnce()) {
    if let Err(e) = sys::mem::release_executable_pages() {
        log_debug!("cannot release start-up pages: {}", e.desc());
    }
    warm_forward();
    // SAFETY: getpid cannot fail and touches no memory.
    let _ = sys::signal::kill(unsafe { libc::getpid() }, libc::SIGCHLD);
}

/// Last resort when epoll or the signalfd fails: keep reaping, blocking, until the app is gone.
fn wait_without_loop(child: libc::pid_t) -> Ended {
    loop {
        match sys::wait::wait_blocking(-1) {
            Ok((pid, raw)) if pid == child => {
                if let Some(ended) = Ended::from_raw(raw) {
                    return ended;
                }
            }
            Ok(_) => {}
            Err(_) => return Ended::Exited(EXIT_INIT_FAILURE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn is_sub(s: &str) -> bool {
        matches!(s, "exec" | "explain" | "help")
    }

    #[rstest]
    #[case(&["--", "sh"], true)]
    #[case(&["--"], true)]
    #[case(&["-s", "--", "sh"], true)]
    #[case(&["-s", "-g", "--", "sh", "-c", "exit 3"], true)]
    #[case(&["-sg", "-vvv", "--", "sh"], true)]
    #[case(&["-e", "143", "--", "sh"], true)]
    #[case(&["-e143", "-p", "TERM", "--", "sh"], true)]
    #[case(&["-se", "143", "sh"], true)]
    #[case(&["--remap-exit", "143", "--", "sh"], true)]
    #[case(&["--pdeathsig=KILL", "sh"], true)]
    #[case(&["-s", "sh", "-c", "explain"], true)]
    // the value of -e/-p is never taken for a subcommand
    #[case(&["-p", "exec", "--", "sh"], true)]
    // a first word that is not a subcommand is the command (`podinit CMD ARGS`, as tini)
    #[case(&["sh"], true)]
    #[case(&["sh", "-c", "exit 3"], true)]
    #[case(&["./run", "exec"], true)]
    #[case(&["execute"], true)]
    // nothing, or a subcommand: clap's business
    #[case(&[], false)]
    #[case(&["exec", "--", "sh"], false)]
    #[case(&["help"], false)]
    #[case(&["explain", "bundle"], false)]
    #[case(&["-v", "explain", "bundle"], false)]
    #[case(&["-v", "exec", "--", "sh"], false)]
    #[case(&["-h"], false)]
    #[case(&["-s", "--help"], false)]
    #[case(&["--version"], false)]
    #[case(&["-v"], false)]
    fn bare_init_invocation(#[case] rest: &[&str], #[case] expected: bool) {
        assert_eq!(
            is_bare_init_invocation(&cli::tests::argv(rest), is_sub),
            expected
        );
    }

    #[rstest]
    #[case(None, false)]
    #[case(Some(""), false)]
    #[case(Some("0"), false)]
    #[case(Some("false"), false)]
    #[case(Some("No"), false)]
    #[case(Some("OFF"), false)]
    #[case(Some("1"), true)]
    #[case(Some("true"), true)]
    #[case(Some("yes"), true)]
    #[case(Some("anything"), true)]
    fn env_flags(#[case] value: Option<&str>, #[case] expected: bool) {
        assert_eq!(env_flag(value.map(OsStr::new)), expected);
    }

    #[test]
    fn env_turns_options_on_but_never_off() {
        let mut o = InitOptions::default();
        o.apply_env(|k| match k {
            "PODINIT_SUBREAPER" => Some("1".into()),
            "PODINIT_KILL_PROCESS_GROUP" => Some("0".into()),
            _ => None,
        });
        assert!(o.subreaper && !o.kill_process_group);

        let mut o = InitOptions {
            kill_process_group: true,
            ..Default::default()
        };
        o.apply_env(|_| Some("false".into()));
        assert!(o.kill_process_group && !o.subreaper);
    }
}
