//! A container stopped by itself, outside teardown: for a restart (a failed startup or liveness
//! probe, a failed postStart) or because the runtime stopped it (`agent_stop.rs`). The kubelet's
//! `killContainer` does the same on every kill it makes: preStop first, with the grace, then the
//! stop signal, then SIGKILL once the grace is over (at least `min_stop_timeout` after the
//! signal). Teardown has its own order and budget (`teardown.rs`); a teardown that starts while a
//! solo stop runs takes it over.

use super::container::{Life, PreStop, RestartAfter, Signaled, SoloStop};
use super::timers::Timer;
use super::{Action, Engine, NoteKind, Time};
use crate::signal::Signal;

impl Engine {
    /// Start stopping container `i` alone: the signal `signal`, SIGKILL after `deadline`;
    /// `restart` says how its exit restarts it when podinit stops it for a restart.
    pub(super) fn begin_solo_stop(
        &mut self,
        i: usize,
        deadline: Time,
        signal: Signal,
        restart: Option<RestartAfter>,
    ) {
        if let Some(run) = self.containers[i].run_mut().filter(|r| !r.stopping()) {
            run.solo_stop = Some(SoloStop {
                deadline,
                signal,
                restart,
            });
        }
    }

    /// The end of a preStop's share of the grace, while it runs.
    pub(super) fn solo_stop_due(&self, i: usize) -> Option<Time> {
        let run = self.containers[i].run()?;
        let s = run.solo_stop?;
        let waiting = run.signaled.is_none() && run.pre_stop == PreStop::Running;
        waiting.then_some(s.deadline)
    }

    pub(super) fn advance_solo_stops(&mut self, now: Time, out: &mut Vec<Action>) {
        let floor = self.cfg.min_stop_timeout;
        for i in 0..self.containers.len() {
            let Some(run) = self.containers[i].run() else {
                continue;
            };
            let Some(stop) = run.solo_stop else { continue };
            if run.signaled.is_some() {
                continue;
            }
            if self.begin_stop(i, true, out) {
                let name = self.containers[i].name.clone();
                self.note(
                    now,
                    Some(&name),
                    NoteKind::PreStopStarted,
                    "preStop before the stop signal",
                );
                // A late timeout (the runtime's stop window ended long before it) may start
                // the preStop with its time already over: the signal goes now, not at a
                // wake-up in the past (after `handle_timeout(now)` no deadline is due).
                if !self.is_due(Timer::SoloPreStop(i), now) {
                    continue;
                }
            }
            // After `begin_stop` the preStop runs (until its timer) or is over.
            let pre_stop_over = self.is_due(Timer::SoloPreStop(i), now);
            let c = &mut self.containers[i];
            let Life::Running(run) = &mut c.life else {
                continue;
            };
            if run.pre_stop == PreStop::Done || pre_stop_over {
                let kill_at = stop.deadline.max(now + floor);
                run.signaled = Some(Signaled {
                    at: now,
                    kill_at,
                    killed: false,
                });
                let name = c.name.clone();
                out.push(Action::Signal {
                    name: name.clone(),
                    signal: stop.signal,
                });
                self.note(
                    now,
                    Some(&name),
                    NoteKind::StopSignal,
                    format!(
                        "signal {}, SIGKILL in {}ms",
                        stop.signal,
                        (kill_at - now).as_millis()
                    ),
                );
            }
        }
    }
}
