//! The start-up both modes share, plain and managed: everything up to the first spawn. One
//! sequence, so the two cannot drift (they had: `-s` failed hard in one and warned in the other,
//! and `-p` was ignored by the managed mode; README's options table is what both do now).

use libc::c_int;
use nix::sys::signal::SigmaskHow;

use super::spawn::{self, ChildSetup, Prepared, SpawnError};
use super::{EventLoop, InitOptions, pristine, signals};
use crate::sys;
use crate::{log_debug, log_warn};

pub struct Booted {
    pub event_loop: EventLoop,
    pub prepared: Prepared,
    pub setup: ChildSetup,
    /// `-p SIGNAL`, when the parent died before the prctl: the signal will never come, so the
    /// caller delivers it as if it had.
    pub parent_already_gone: Option<c_int>,
}

/// Signals blocked and on a signalfd, the parent-death signal, the subreaper, the app's command
/// resolved, and the init out of its start directory (the app goes back to it).
pub fn bootstrap(opts: &InitOptions) -> Result<Booted, SpawnError> {
    let sys_err = |call| move |errno| SpawnError::Sys { call, errno };
    // SAFETY: getpid and getppid cannot fail and touch no memory.
    let (self_pid, parent_before) = unsafe { (libc::getpid(), libc::getppid()) };

    // Block first, so a signal that arrives from here on waits in the signalfd instead of taking
    // its default action on the init.
    let original_mask = signals::blocked_set()
        .thread_swap_mask(SigmaskHow::SIG_SETMASK)
        .map_err(sys_err("sigprocmask"))?;

    let mut parent_already_gone = None;
    if let Some(sig) = opts.pdeathsig {
        sys::prctl::set_pdeathsig(sig).map_err(sys_err("prctl(PR_SET_PDEATHSIG)"))?;
        // SAFETY: as above.
        if unsafe { libc::getppid() } != parent_before {
            parent_already_gone = Some(sig);
        }
    }

    // `-s` asks for it and fails without it (README); otherwise it is automatic when the init
    // is not PID 1, and best effort.
    if opts.subreaper || self_pid != 1 {
        match sys::prctl::set_child_subreaper() {
            Ok(()) => log_debug!("registered as child subreaper (pid {self_pid})"),
            Err(errno) if opts.subreaper => {
                return Err(SpawnError::Sys {
                    call: "prctl(PR_SET_CHILD_SUBREAPER)",
                    errno,
                });
            }
            Err(errno) => log_warn!(
                "not PID 1 and cannot register as child subreaper ({}): orphans will not be reaped by podinit",
                errno.desc()
            ),
        }
    }

    let event_loop = EventLoop::new(&signals::blocked_set()).map_err(sys_err("signalfd/epoll"))?;

    let path = std::env::var_os("PATH");
    let prepared = Prepared::new(&opts.command, path.as_deref())?;
    let setup = ChildSetup {
        mask: original_mask,
        pristine: pristine::Pristine::get(),
        take_terminal: ChildSetup::init_owns_terminal(),
        // Hygiene of a long-lived PID 1 (catatonit#28): the init leaves its start directory
        // before the app exists, the app goes back to it (why this order: `leave_start_dir`).
        // A managed init keeps it for restarts, probes and handlers.
        start_dir: spawn::leave_start_dir(),
    };
    Ok(Booted {
        event_loop,
        prepared,
        setup,
        parent_already_gone,
    })
}
