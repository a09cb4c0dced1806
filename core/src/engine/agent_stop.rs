//! Stops that come from the runtime, not from podinit: the agent's `runc kill ID TERM` (CRI
//! StopContainer), a kubelet or virtual kubelet deleting the pod, an operator. The container's
//! init reports the signal instead of passing it on ([`super::Event::AgentStop`]); the engine
//! decides what it means:
//!
//! - a container so stopped never restarts in place: it ends with the code its process gives
//!   (what Kubernetes reports), and a new one of the same name is a new create (an in-place
//!   upgrade: stop, delete, create with a new spec);
//! - once every live container of the pod has been stopped by the runtime, it is the pod's
//!   deletion: teardown with the shared grace budget from the first stop, apps first, sidecars
//!   after every app exited, in reverse order, preStop first (SPEC section 3), and sidecars
//!   report 0. A kubelet deletes a pod with StopContainer on every container at once, so the
//!   sidecars' TERM is held back until the apps are gone;
//! - an app or init container stopped while others run stops alone at once (preStop, then the
//!   runtime's signal), and the apps it leaves do not make a Job complete: the agent is replacing
//!   it or deleting the pod, and will say which;
//! - a sidecar stopped while others run waits [`super::Config::agent_stop_window`] for the rest of
//!   a deletion's stops, then stops alone: a deletion is told apart from an in-place upgrade of
//!   that one sidecar by whether the others follow.
//!
//! The agent's own SIGKILL at the end of its timeout cannot be delayed: the container's init
//! dies at once, the runtime reports 137, and podinit records the container as ended without
//! reporting (raw code 137).

use super::container::{AgentStop, Container, Life};
use super::status::ContainerState;
use super::{Action, Engine, NoteKind, TeardownCause, Time};
use crate::signal::Signal;

impl Engine {
    pub(super) fn on_agent_stop(
        &mut self,
        now: Time,
        name: &str,
        signal: Signal,
        out: &mut Vec<Action>,
    ) {
        let Some(i) = self.registered(now, name, "stop from the runtime") else {
            return;
        };
        let c = &mut self.containers[i];
        if matches!(c.life, Life::Terminated | Life::Expected) {
            return; // nothing left to stop
        }
        if let Some(run) = c.run().filter(|r| r.signaled.is_some()) {
            // Podinit stopped it already. What came back may be that very stop: sent as a real
            // signal to an init that was not connected (a restarted supervisor, an init still
            // reconnecting) and had reconnected when it arrived, so the init held it for us.
            // Say it again over the link; the init passes it on.
            let ours = run.restart_after_stop().is_some();
            out.push(Action::Signal {
                name: name.to_owned(),
                signal,
            });
            if ours {
                return; // our own stop for a restart, not the runtime's: it still restarts
            }
        }
        let c = &mut self.containers[i];
        if c.agent_stop.is_some() {
            return; // repeated (`kill` again)
        }
        c.agent_stop = Some(AgentStop {
            at: now,
            signal,
            alone: false,
        });
        self.note(
            now,
            Some(name),
            NoteKind::RuntimeStop,
            format!("stop signal {signal} from the runtime"),
        );
        if self.teardown.is_some() {
            return; // the teardown order already applies to it
        }
        if self.every_live_container_stopped() {
            let first = self
                .containers
                .iter()
                .filter_map(|c| c.agent_stop.map(|a| a.at))
                .min()
                .unwrap_or(now);
            let left = self.grace().saturating_sub(now.saturating_sub(first));
            self.note(
                now,
                None,
                NoteKind::PodDeletedByRuntime,
                "the runtime stopped every container of the pod: it is being deleted",
            );
            self.start_teardown(now, TeardownCause::Deleted, Some(left));
            return;
        }
        match self.containers[i].life {
            Life::Held(_) => self.end_never_started(now, i, out),
            Life::BackOff(b) => {
                let raw = self.containers[i].last_exit.map_or(0, |s| s.raw_code());
                self.terminate(now, i, raw, b.exit_kill_at, out);
            }
            Life::Running(_) if !self.containers[i].is_sidecar() => {
                self.stop_alone(i);
            }
            // A sidecar waits for the window (`end_agent_stop_window`).
            _ => {}
        }
    }

    /// Registered containers still alive all got a stop from the runtime.
    fn every_live_container_stopped(&self) -> bool {
        self.containers
            .iter()
            .filter(|c| c.id.is_some() && c.state() != ContainerState::Terminated)
            .all(|c| c.agent_stop.is_some())
    }

    /// preStop, then the runtime's signal, SIGKILL when the pod's grace from the stop is over
    /// (`solo_stop.rs`).
    fn stop_alone(&mut self, i: usize) {
        let grace = self.grace();
        let Some(a) = &mut self.containers[i].agent_stop else {
            return;
        };
        a.alone = true;
        let (deadline, signal) = (a.at + grace, a.signal);
        self.begin_solo_stop(i, deadline, signal, None);
    }

    /// The end of the window of a sidecar's stop that is still waiting to see whether the rest
    /// of the pod follows.
    pub(super) fn agent_stop_window_end(&self, c: &Container) -> Option<Time> {
        let a = c.agent_stop?;
        (!a.alone && c.state() == ContainerState::Running)
            .then(|| a.at + self.cfg.agent_stop_window)
    }

    /// [`super::timers::Timer::AgentStopWindow`]: the rest of the pod did not follow.
    pub(super) fn end_agent_stop_window(&mut self, now: Time, i: usize) {
        self.stop_alone(i);
        let name = self.containers[i].name.clone();
        self.note(
            now,
            Some(&name),
            NoteKind::StoppingAlone,
            "the rest of the pod was not stopped: stopping this container alone",
        );
    }
}
