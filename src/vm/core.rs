//! The sandbox PID 1's decisions, without I/O: what a deletion request, the agent's exit and the
//! passing of time make it do. The driver ([`super::guest`]) feeds inputs with the time since
//! boot and carries out the actions; [`Core::next_deadline`] is the only timer.
//!
//! The rules:
//! - the first deletion request (SIGTERM, Ctrl-Alt-Del's SIGINT, `delete` on the control port)
//!   is passed to the agent as SIGTERM: a graceful pod deletion (`podinit run` tears the pod down
//!   with its grace); a second one is passed on again, which the agent takes as a forced stop;
//!   `kill` on the control port, or `kill_after` past the forced stop, SIGKILLs the agent;
//! - a request before the agent runs ends the sandbox at once (nothing to tear down);
//! - when the agent exits, whatever it left behind gets SIGTERM, and SIGKILL after
//!   [`LEFTOVER_GRACE`] unless every process is gone sooner; then the sandbox finishes.
//!   PID 1 never exits: finishing is writing the result and powering off.

use std::time::Duration;

/// How long processes left after the agent's exit have between SIGTERM and SIGKILL.
pub const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    AgentStarted,
    /// The agent's wait status as an exit code (128 + N for signal N).
    AgentExited(i32),
    /// SIGTERM, SIGINT (Ctrl-Alt-Del) or `delete` on the control port.
    DeleteRequested,
    /// `kill` on the control port.
    KillRequested,
    /// Reaping found no process left besides PID 1.
    NothingLeft,
    /// The deadline from [`Core::next_deadline`] (or any later time) has come.
    Timer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send SIGTERM to the agent (a deletion; the second one a forced stop).
    TermAgent,
    KillAgent,
    /// SIGTERM / SIGKILL to every process but PID 1 (`kill(-1, ...)`).
    TermAll,
    KillAll,
    /// Write the result and power off.
    Finish(Ending),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// `None`: the agent never ran or its exit was not seen.
    pub agent_exit: Option<i32>,
    /// Deletion requests received (0: the pod ended by itself).
    pub deletions: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Booting,
    Running { kill_at: Option<Duration> },
    Draining { exit: i32, kill_at: Duration },
    Finished,
}

#[derive(Debug)]
pub struct Core {
    state: State,
    deletions: u8,
    kill_after: Duration,
}

impl Core {
    pub fn new(kill_after: Duration) -> Self {
        Core {
            state: State::Booting,
            deletions: 0,
            kill_after,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// When the driver must call [`Core::handle`] with [`Input::Timer`] at the latest.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.state {
            State::Running { kill_at } => kill_at,
            State::Draining { kill_at, .. } => Some(kill_at),
            State::Booting | State::Finished => None,
        }
    }

    #[must_use]
    pub fn handle(&mut self, input: Input, now: Duration) -> Vec<Action> {
        let finish = |deletions, agent_exit| {
            Action::Finish(Ending {
                agent_exit,
                deletions,
            })
        };
        match (self.state, input) {
            (State::Finished, _) => Vec::new(),
            (State::Booting, Input::AgentStarted) => {
                self.state = State::Running { kill_at: None };
                Vec::new()
            }
            (State::Booting, Input::DeleteRequested | Input::KillRequested) => {
                self.deletions = self.deletions.saturating_add(1);
                self.state = State::Finished;
                vec![finish(self.deletions, None)]
            }
            (State::Booting, _) => Vec::new(),
            (State::Running { kill_at }, Input::DeleteRequested) => {
                self.deletions = self.deletions.saturating_add(1);
                // The second request is the forced stop: from then on the agent has kill_after.
                let kill_at = kill_at.or((self.deletions >= 2).then(|| now + self.kill_after));
                self.state = State::Running { kill_at };
                vec![Action::TermAgent]
            }
            (State::Running { .. }, Input::KillRequested) => {
                self.deletions = self.deletions.saturating_add(1);
                vec![Action::KillAgent]
            }
            (State::Running { kill_at: Some(at) }, Input::Timer) if now >= at => {
                self.state = State::Running { kill_at: None };
                vec![Action::KillAgent]
            }
            (State::Running { .. }, Input::AgentExited(exit)) => {
                self.state = State::Draining {
                    exit,
                    kill_at: now + LEFTOVER_GRACE,
                };
                vec![Action::TermAll]
            }
            (State::Running { .. }, _) => Vec::new(),
            (State::Draining { exit, .. }, Input::NothingLeft) => {
                self.state = State::Finished;
                vec![finish(self.deletions, Some(exit))]
            }
            (State::Draining { exit, kill_at }, Input::Timer) if now >= kill_at => {
                self.state = State::Finished;
                vec![Action::KillAll, finish(self.deletions, Some(exit))]
            }
            (State::Draining { .. }, Input::DeleteRequested | Input::KillRequested) => {
                // The pod is already over; a request now only counts.
                self.deletions = self.deletions.saturating_add(1);
                Vec::new()
            }
            (State::Draining { .. }, _) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const S: Duration = Duration::from_secs(1);

    fn run(steps: &[(u64, Input)]) -> Vec<(u64, Action)> {
        let mut core = Core::new(Duration::from_secs(10));
        let mut out = Vec::new();
        for &(t, input) in steps {
            let now = S * t as u32;
            for a in core.handle(input, now) {
                out.push((t, a));
            }
            if let Some(d) = core.next_deadline() {
                assert!(d >= now, "deadline {d:?} before now {now:?}");
            }
        }
        out
    }

    fn end(agent_exit: Option<i32>, deletions: u8) -> Action {
        Action::Finish(Ending {
            agent_exit,
            deletions,
        })
    }

    use Action::*;
    use Input::*;

    #[rstest]
    #[case::pod_ends_by_itself_nothing_left(
        &[(0, AgentStarted), (9, AgentExited(0)), (9, NothingLeft)],
        &[(9, TermAll), (9, end(Some(0), 0))])]
    #[case::leftovers_get_sigkill_after_the_grace(
        &[(0, AgentStarted), (5, AgentExited(1)), (6, Timer), (7, Timer)],
        &[(5, TermAll), (7, KillAll), (7, end(Some(1), 0))])]
    #[case::first_deletion_is_a_sigterm_to_the_agent(
        &[(0, AgentStarted), (3, DeleteRequested), (6, AgentExited(1)), (6, NothingLeft)],
        &[(3, TermAgent), (6, TermAll), (6, end(Some(1), 1))])]
    #[case::second_deletion_forces_then_sigkill_after_kill_after(
        &[(0, AgentStarted), (1, DeleteRequested), (2, DeleteRequested), (11, Timer), (12, Timer)],
        &[(1, TermAgent), (2, TermAgent), (12, KillAgent)])]
    #[case::kill_on_the_control_port_is_immediate(
        &[(0, AgentStarted), (1, KillRequested), (1, AgentExited(137)), (1, NothingLeft)],
        &[(1, KillAgent), (1, TermAll), (1, end(Some(137), 1))])]
    #[case::deletion_before_the_agent_ends_at_once(
        &[(0, DeleteRequested), (1, AgentStarted), (1, AgentExited(0))],
        &[(0, end(None, 1))])]
    #[case::deletion_after_the_agent_exited_only_counts(
        &[(0, AgentStarted), (4, AgentExited(0)), (4, DeleteRequested), (4, NothingLeft)],
        &[(4, TermAll), (4, end(Some(0), 1))])]
    #[case::early_timer_does_nothing(
        &[(0, AgentStarted), (1, Timer), (2, AgentExited(0)), (3, Timer)],
        &[(2, TermAll)])]
    #[case::finished_is_final(
        &[(0, AgentStarted), (1, AgentExited(0)), (1, NothingLeft), (2, DeleteRequested), (3, Timer)],
        &[(1, TermAll), (1, end(Some(0), 0))])]
    fn pid1_rules(#[case] steps: &[(u64, Input)], #[case] want: &[(u64, Action)]) {
        assert_eq!(run(steps), want);
    }

    #[test]
    fn the_deadline_follows_the_state() {
        let mut core = Core::new(Duration::from_secs(10));
        assert_eq!(core.next_deadline(), None);
        let _ = core.handle(AgentStarted, S);
        assert_eq!(core.next_deadline(), None);
        let _ = core.handle(DeleteRequested, S);
        assert_eq!(
            core.next_deadline(),
            None,
            "a graceful deletion has no PID 1 deadline"
        );
        let _ = core.handle(DeleteRequested, 2 * S);
        assert_eq!(core.next_deadline(), Some(12 * S));
        let _ = core.handle(AgentExited(143), 3 * S);
        assert_eq!(core.next_deadline(), Some(3 * S + LEFTOVER_GRACE));
        let _ = core.handle(NothingLeft, 3 * S);
        assert!(core.is_finished());
        assert_eq!(core.next_deadline(), None);
    }
}
