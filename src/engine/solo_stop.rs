//! A container stopped by itself, outside teardown: for a restart (a failed startup or liveness
//! probe, a failed postStart) or because the runtime stopped it (`agent_stop.rs`). The kubelet's
//! `killContainer` does the same on every kill it makes: preStop first, with the grace, then the
//! stop signal, then SIGKILL once the grace is over (at least `min_stop_timeout` after the
//! signal). Teardown has its own order and budget (`teardown.rs`); a teardown that starts while a
//! solo stop runs takes it over.

use super::container::{PreStop, SoloStop};
use super::status::ContainerState;
use super::{Action, Engine, Time};

impl Engine {
    /// Start stopping container `i` alone: the signal `signal`, SIGKILL after `deadline`.
    pub(super) fn begin_solo_stop(&mut self, i: usize, deadline: Time, signal: i32) {
        let c = &mut self.containers[i];
        if c.solo_stop.is_none() && c.signaled_at.is_none() {
            c.solo_stop = Some(SoloStop { deadline, signal });
        }
    }

    /// The end of a preStop's share of the grace, while it runs.
    pub(super) fn solo_stop_due(&self, i: usize) -> Option<Time> {
        let c = &self.containers[i];
        let s = c.solo_stop?;
        let waiting = c.state == ContainerState::Running
            && c.signaled_at.is_none()
            && c.pre_stop == PreStop::Running;
        waiting.then_some(s.deadline)
    }

    pub(super) fn advance_solo_stops(&mut self, now: Time, out: &mut Vec<Action>) {
        let floor = self.cfg.min_stop_timeout;
        for i in 0..self.containers.len() {
            let c = &mut self.containers[i];
            let Some(stop) = c.solo_stop else { continue };
            if c.state != ContainerState::Running || c.signaled_at.is_some() {
                continue;
            }
            if self.begin_stop(i, true, out) {
                let name = self.containers[i].name.clone();
                self.note(now, Some(&name), "preStop before the stop signal");
                continue;
            }
            let c = &mut self.containers[i];
            if c.pre_stop == PreStop::Done || now >= stop.deadline {
                let kill_at = stop.deadline.max(now + floor);
                c.signaled_at = Some(now);
                c.kill_at = Some(kill_at);
                let name = c.name.clone();
                out.push(Action::Signal {
                    name: name.clone(),
                    signal: stop.signal,
                });
                self.note(
                    now,
                    Some(&name),
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
