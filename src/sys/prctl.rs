//! `prctl(2)` options for an init.

use nix::errno::Errno;

/// `PR_SET_CHILD_SUBREAPER`: orphaned descendants are re-parented to us instead of to the
/// namespace's PID 1, so we can reap them (and see them) when we are not PID 1 ourselves.
pub fn set_child_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// `PR_SET_PDEATHSIG` with a raw signal number: nix's wrapper only takes the standard signals,
/// and a real-time signal is a valid parent-death signal too.
pub fn set_pdeathsig(signo: libc::c_int) -> nix::Result<()> {
    let arg = libc::c_ulong::try_from(signo).map_err(|_| Errno::EINVAL)?;
    // SAFETY: PR_SET_PDEATHSIG takes one integer argument and touches no memory of ours; the
    // unused arguments are passed as 0 as the man page asks.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, arg, 0 as libc::c_ulong, 0, 0) };
    Errno::result(rc).map(drop)
}

/// `PR_SET_DUMPABLE` 0: only a process with CAP_SYS_PTRACE may ptrace us, `pidfd_getfd` our
/// fds or open `/proc/<us>/fd`; the container's app (same uid, no such capability under the
/// runtimes' default set) then cannot take the init's supervisor socket and speak as its init
/// (issue 15 finding 7). `execve` resets it, so the app and every handler and probe the init
/// spawns are dumpable as they would be without podinit.
pub fn set_not_dumpable() -> nix::Result<()> {
    nix::sys::prctl::set_dumpable(false)
}
