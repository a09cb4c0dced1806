//! Re-gating (`io.podinit.needs-sidecars`, `plan/regate.rs`): an app that needs a sidecar for
//! its whole life. When a sidecar it needs is lost — its process exits, or it turns unready —
//! an app with `restart` is stopped as a failed liveness probe would stop it (preStop, stop
//! signal, grace) and its exit restarts it whatever its policy, not counted as a crash; with
//! `hold` it is left running. Either way, a restart of the app waits, with no timer, until
//! every sidecar it needs is started and ready again (`fire_restarts` asks
//! [`Engine::missing_sidecars`]). Nothing of this applies in teardown, when nothing restarts.

use super::container::RestartAfter;
use super::{Action, Engine, NoteKind, Time};
use crate::plan::{Kind, SidecarLoss};

impl Engine {
    /// Sidecar `name` runs, has started and is ready, and is not being stopped.
    fn sidecar_up(&self, name: &str) -> bool {
        self.find(name).is_some_and(|i| {
            self.containers[i]
                .run()
                .is_some_and(|r| r.process && r.started && r.ready && !r.stopping())
        })
    }

    /// The sidecars container `i` needs that are not up now.
    pub(super) fn missing_sidecars(&self, i: usize) -> Vec<String> {
        self.containers[i]
            .plan
            .as_ref()
            .and_then(|p| p.needs_sidecars.as_ref())
            .map(|n| {
                n.sidecars
                    .iter()
                    .filter(|s| !self.sidecar_up(s))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sidecar `sidecar` exited or turned unready: stop the apps that need it with `restart`.
    pub(super) fn on_sidecar_lost(&mut self, now: Time, sidecar: &str, out: &mut Vec<Action>) {
        if self.teardown.is_some() {
            return;
        }
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            let needs = c
                .plan
                .as_ref()
                .and_then(|p| p.needs_sidecars.as_ref())
                .is_some_and(|n| {
                    n.on_loss == SidecarLoss::Restart && n.sidecars.iter().any(|s| s == sidecar)
                });
            // A restart podinit stops it for (operator, or an earlier loss) is a solo stop too.
            let stoppable = c.kind() == Some(Kind::App)
                && c.run().is_some_and(|r| r.process && !r.stopping())
                && c.agent_stop.is_none();
            if needs && stoppable {
                let name = c.name.clone();
                let c = &mut self.containers[i];
                c.message = format!("sidecar {sidecar} it needs was lost");
                self.note(
                    now,
                    Some(&name),
                    NoteKind::SidecarLost,
                    format!("sidecar {sidecar} lost: stopping it until {sidecar} is back"),
                );
                self.stop_for_restart(now, i, None, RestartAfter::AtOnce, out);
            }
        }
    }
}
