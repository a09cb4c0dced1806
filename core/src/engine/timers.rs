//! The engine's one timer table, in the manner of quinn-proto's `TimerTable`: every deadline the
//! engine keeps is a [`Timer`], and [`Engine::deadline`] is the only place that says when one
//! falls. [`Engine::poll_timeout`] is the earliest of them; [`Engine::handle_timeout`] fires the
//! ones that are due, and the rules that act at a deadline (`fire_restarts`,
//! `advance_solo_stops`, `advance_teardown`) read it from here too, so a wake-up and what it
//! wakes for cannot drift apart (a missed wake-up or a busy loop, issue 15 findings 1–2).
//!
//! Two kinds of timer:
//! - *level* timers stop themselves when they fire (a kill marks the stop killed, a restart
//!   leaves the backoff, a start-wait deadline is marked passed, ...);
//! - *edge* timers ([`Timer::is_edge`]) name a moment a rule waits for, and after it the rule
//!   waits for events only (the settle time, a teardown stage's deadline, the end of the grace
//!   budget while a declared container is not created yet). One at or before the latest time
//!   the driver gave was acted on when it came, and wakes nothing.

use super::container::{Life, RestartDue};
use super::{Action, Engine, TeardownCause, Time};

/// One deadline of the engine; `usize` is the container's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The container's stop signal went out and its grace is over: SIGKILL.
    Kill(usize),
    /// A sidecar stopped by the runtime has waited its window for the rest of the pod's stops
    /// (`agent_stop.rs`): it stops alone.
    AgentStopWindow(usize),
    /// The pod's `activeDeadlineSeconds`: teardown, Failed.
    ActiveDeadline,
    /// A held container's `io.podinit.start-timeout` (`start_wait.rs`).
    StartWait(usize),
    /// The container's backoff delay is over (`fire_restarts`).
    Restart(usize),
    /// The preStop of a container stopped alone ran out of its grace (`advance_solo_stops`).
    SoloPreStop(usize),
    /// In teardown, the end of the container's preStop time, or of its wait for its turn
    /// under the shared budget (`advance_teardown`). Edge.
    TeardownStop(usize),
    /// In teardown, the end of the grace budget while a declared container is not created:
    /// the pod finishes without it (`advance_teardown`). Edge.
    TeardownBudget,
    /// A pod that declares nothing: the gates open once registrations have settled
    /// (`gate.rs`). Edge.
    Settle,
}

impl Timer {
    fn is_edge(self) -> bool {
        matches!(
            self,
            Timer::TeardownStop(_) | Timer::TeardownBudget | Timer::Settle
        )
    }
}

impl Engine {
    /// Every timer, in the order [`Engine::handle_timeout`] fires them.
    fn timers(&self) -> Vec<Timer> {
        let n = self.containers.len();
        let each = |t: fn(usize) -> Timer| (0..n).map(t);
        each(Timer::Kill)
            .chain(each(Timer::AgentStopWindow))
            .chain([Timer::ActiveDeadline])
            .chain(each(Timer::StartWait))
            .chain(each(Timer::Restart))
            .chain(each(Timer::SoloPreStop))
            .chain(each(Timer::TeardownStop))
            .chain([Timer::TeardownBudget, Timer::Settle])
            .collect()
    }

    /// When `timer` falls, if it is set: the one source of every deadline.
    pub(super) fn deadline(&self, timer: Timer) -> Option<Time> {
        let td = self.teardown.as_ref();
        match timer {
            Timer::Kill(i) => {
                let s = self.containers[i].run()?.signaled?;
                (!s.killed).then_some(s.kill_at)
            }
            Timer::AgentStopWindow(i) if td.is_none() => {
                self.agent_stop_window_end(&self.containers[i])
            }
            Timer::ActiveDeadline if td.is_none() => self.active_deadline(),
            Timer::StartWait(i) => self.start_wait_due(i),
            Timer::Restart(i) if td.is_none() => match self.containers[i].life {
                Life::BackOff(b) => match b.restart {
                    RestartDue::At(t) => Some(t),
                    RestartDue::HeldForSidecars => None,
                },
                _ => None,
            },
            Timer::SoloPreStop(i) if td.is_none() => self.solo_stop_due(i),
            Timer::TeardownStop(i) => {
                let td = td?;
                self.containers[i]
                    .run()
                    .is_some_and(|r| r.signaled.is_none())
                    .then(|| self.stop_deadline(td, i))
            }
            Timer::TeardownBudget => {
                let awaiting_creation = self.containers.iter().any(|c| c.life == Life::Expected);
                (awaiting_creation && !self.finished).then_some(td?.deadline)
            }
            Timer::Settle if td.is_none() => {
                let held = self.containers.iter().any(|c| c.held().is_some());
                self.settle_deadline().filter(|_| held)
            }
            Timer::AgentStopWindow(_)
            | Timer::ActiveDeadline
            | Timer::Restart(_)
            | Timer::SoloPreStop(_)
            | Timer::Settle => None,
        }
    }

    /// Timer `timer` is set and has fallen by `now`.
    pub(super) fn is_due(&self, timer: Timer, now: Time) -> bool {
        self.deadline(timer).is_some_and(|t| t <= now)
    }

    /// The timers that will wake the engine, with their deadlines.
    pub(super) fn deadlines(&self) -> impl Iterator<Item = (Time, Timer)> + '_ {
        self.timers().into_iter().filter_map(|timer| {
            let t = self.deadline(timer)?;
            (!timer.is_edge() || t > self.now).then_some((t, timer))
        })
    }

    /// Fire the timers due at `now`, in table order. Each is read again just before it fires:
    /// one fired before it may have cleared it (a teardown that the active deadline started
    /// stops the start-wait deadlines).
    pub(super) fn fire_due(&mut self, now: Time, out: &mut Vec<Action>) {
        for timer in self.timers() {
            if !self.is_due(timer, now) {
                continue;
            }
            match timer {
                Timer::Kill(i) => self.fire_kill(now, i, out),
                Timer::AgentStopWindow(i) => self.end_agent_stop_window(now, i),
                Timer::ActiveDeadline => {
                    self.start_teardown(now, TeardownCause::DeadlineExceeded, None)
                }
                Timer::StartWait(i) => self.fire_start_wait(now, i),
                // The reconcile step that follows every timeout acts on these, reading their
                // deadline through `is_due`.
                Timer::Restart(_)
                | Timer::SoloPreStop(_)
                | Timer::TeardownStop(_)
                | Timer::TeardownBudget
                | Timer::Settle => {}
            }
        }
    }
}
