//! The sweep of what the app's last run left behind (the rules and their reasons:
//! `leftovers.rs`): before a restart in place and before the init's exit, leftovers get a
//! signal, then SIGKILL at the deadline, and the restart or the exit waits until they are gone.
//! Whether any is left is a question only the driver can answer (`waitid`), so the sweep asks
//! with [`super::Effect::Reap`] and goes on when [`super::Input::Leftovers`] answers.

use std::time::{Duration, Instant};

use crate::init::leftovers::{self, Stage};

/// What waits for the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSweep {
    Restart,
    Finish(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked whether anything is left; nothing signalled yet.
    Asking { signal: i32, grace: Duration },
    /// Signalled (`Stage`): the next step at `deadline`.
    Waiting { stage: Stage, deadline: Instant },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    pub then: AfterSweep,
    pub phase: Phase,
}

/// The next step given the answer: what to signal now, and whether the sweep is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing (more) to wait for: run `then`.
    Done,
    /// Send this signal to what is left, then wait until the new deadline.
    Signal(i32),
    /// Wait (for reaps) until this time.
    WaitUntil(Instant),
}

impl Sweep {
    /// `left`: whether any process but the init is left.
    pub fn answer(&mut self, left: bool, now: Instant) -> Next {
        match self.phase {
            Phase::Asking { .. } if !left => Next::Done,
            Phase::Asking { signal, grace } => {
                self.phase = Phase::Waiting {
                    stage: Stage::Signaled,
                    deadline: now + grace,
                };
                Next::Signal(signal)
            }
            Phase::Waiting { stage, deadline } => {
                match leftovers::step(stage, left, now, deadline) {
                    leftovers::Step::Proceed => Next::Done,
                    leftovers::Step::WaitUntil(at) => Next::WaitUntil(at),
                    leftovers::Step::Kill => {
                        self.phase = Phase::Waiting {
                            stage: Stage::Killed,
                            deadline: now + leftovers::KILL_WAIT,
                        };
                        Next::Signal(libc::SIGKILL)
                    }
                }
            }
        }
    }

    /// The deadline to wait for after [`Next::Signal`].
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Asking { .. } => None,
            Phase::Waiting { deadline, .. } => Some(deadline),
        }
    }
}
