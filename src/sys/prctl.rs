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
