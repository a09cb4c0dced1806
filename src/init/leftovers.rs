//! Processes left in the container when its app ended (a background child holding a port, a
//! daemon the init adopted): they get a signal, then SIGKILL once their grace is over, and what
//! comes next (the restart, or the init's exit) waits until they are gone.
//!
//! - **Before a restart in place**: SIGTERM, SIGKILL after [`RESTART_GRACE`]. The kubelet gets
//!   this clean slate by recreating the container; without it the new process finds the port
//!   taken (EADDRINUSE). 2 s is the kubelet's `minimumGracePeriodInSeconds`, the shortest stop
//!   it ever gives a container; a restart is not a pod stop, so the pod's grace is not spent.
//! - **At the container's end**: the container's stop signal, SIGKILL after the rest of the
//!   container's grace (the supervisor sends it with `finish`), instead of the kernel's SIGKILL
//!   the moment PID 1 exits (tini#229).
//!
//! After SIGKILL the init still waits up to [`KILL_WAIT`] for them to be reaped (a process in
//! uninterruptible sleep dies late), then goes on regardless.

use std::time::Duration;

pub const RESTART_GRACE: Duration = Duration::from_secs(2);
pub const KILL_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first signal went out; SIGKILL at the deadline.
    Signaled,
    /// SIGKILL went out; go on at the deadline whatever is left.
    Killed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<T> {
    /// Nothing left, or nothing more to wait for: restart or exit now.
    Proceed,
    /// Wait for reaps until this time.
    WaitUntil(T),
    /// Send SIGKILL to what is left, then wait [`KILL_WAIT`].
    Kill,
}

/// The next step of a sweep in `stage` with its `deadline`, given whether processes are left.
pub fn step<T: Ord + Copy>(stage: Stage, left: bool, now: T, deadline: T) -> Step<T> {
    match (left, stage) {
        (false, _) => Step::Proceed,
        (true, _) if now < deadline => Step::WaitUntil(deadline),
        (true, Stage::Signaled) => Step::Kill,
        (true, Stage::Killed) => Step::Proceed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::nothing_left(Stage::Signaled, false, 0, 2, Step::Proceed)]
    #[case::nothing_left_after_kill(Stage::Killed, false, 0, 1, Step::Proceed)]
    #[case::grace_running(Stage::Signaled, true, 1, 2, Step::WaitUntil(2))]
    #[case::grace_over(Stage::Signaled, true, 2, 2, Step::Kill)]
    #[case::no_grace_at_all(Stage::Signaled, true, 5, 5, Step::Kill)]
    #[case::waiting_for_the_killed(Stage::Killed, true, 3, 4, Step::WaitUntil(4))]
    #[case::killed_but_unkillable(Stage::Killed, true, 4, 4, Step::Proceed)]
    fn steps(
        #[case] stage: Stage,
        #[case] left: bool,
        #[case] now: u32,
        #[case] deadline: u32,
        #[case] expected: Step<u32>,
    ) {
        assert_eq!(step(stage, left, now, deadline), expected);
    }
}
