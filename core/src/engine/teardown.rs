//! Teardown: who gets the stop signal when, and when SIGKILL follows.
//!
//! Kubernetes rules (kuberuntime `killContainersWithSyncResult`, `kuberuntime_termination_order.go`,
//! KEP-753), research file section 8 steps 7–11:
//! - nothing restarts from t0 on; every running container's preStop starts at t0;
//! - apps (and still-running regular init containers) get their stop signal once their preStop is
//!   done; sidecars only once every app has exited and every sidecar that stops before them has
//!   exited (reverse start order; ECI: higher `ECI_CONTAINER_EXIT_PRIORITY` first, equal together);
//! - one shared budget from t0: a container's stop timeout is what is left, at least 2 s; with
//!   `io.podinit.sidecar-grace-reserve: R` the apps' part ends R seconds early, so the sidecars
//!   keep the budget's last R seconds whatever the apps take (a log sidecar's flush);
//! - ECI exit priorities (`ECI_CONTAINER_EXIT_PRIORITY` on any container) make stages, as ECI
//!   documents them: among the apps, then among the sidecars, higher first, equal together,
//!   each stage's stop signal once the stage before it has exited, and each stage the whole
//!   grace from its signal to SIGKILL — the pod's teardown may take longer than its grace,
//!   which ECI's page says of exit priorities; the reserve has no use there and is not applied.
//!   Sidecars still stop after every app: an exit priority orders within the two groups, never
//!   across them (the Kubernetes sidecar contract wins);
//! - a grace at or below 1 s skips preStop and ordering (force deletion);
//! - containers still held at the gate, or waiting for a restart, end at once.

use std::time::Duration;

use super::container::{Life, PreStop, Signaled};
use super::status::ContainerState;
use super::timers::Timer;
use super::{
    Action, Engine, HandlerKind, NEVER_STARTED_EXIT_CODE, NoteKind, Reason, Teardown,
    TeardownCause, Time,
};
use crate::plan::Kind;
use crate::signal::Signal;

impl Engine {
    pub(super) fn start_teardown(
        &mut self,
        now: Time,
        cause: TeardownCause,
        grace: Option<Duration>,
    ) {
        if self.teardown.is_some() {
            return;
        }
        let grace = grace.unwrap_or_else(|| self.grace()).min(super::MAX_GRACE);
        let forced = grace <= self.cfg.force_grace;
        let staged = self.exit_priorities_declared();
        let reserve = if staged || forced {
            Duration::ZERO
        } else {
            self.sidecar_reserve().min(grace)
        };
        self.teardown = Some(Teardown {
            cause,
            started: now,
            deadline: now + grace,
            grace,
            apps_deadline: now + grace - reserve,
            staged,
            forced,
        });
        let why = match cause {
            TeardownCause::JobComplete => "all app containers have exited and none will restart",
            TeardownCause::InitFailed => "an init container failed under restartPolicy Never",
            TeardownCause::Deleted => "the pod is being deleted",
            TeardownCause::DeadlineExceeded => "the pod ran past its activeDeadlineSeconds",
            TeardownCause::StartTimeout => {
                "a container waited past its io.podinit.start-timeout at its start gate"
            }
        };
        self.note(
            now,
            None,
            NoteKind::TeardownStarted,
            format!(
                "teardown: {why}; grace budget {}s{}",
                grace.as_secs(),
                if forced {
                    " (forced)".to_owned()
                } else if staged {
                    " per exit-priority stage".to_owned()
                } else if !reserve.is_zero() {
                    format!(", the last {}s kept for the sidecars", reserve.as_secs())
                } else {
                    String::new()
                }
            ),
        );
    }

    pub(super) fn on_stop_requested(&mut self, now: Time, grace: Option<Duration>) {
        let Some(td) = &mut self.teardown else {
            self.start_teardown(now, TeardownCause::Deleted, grace);
            return;
        };
        let Some(grace) = grace else { return };
        let grace = grace.min(super::MAX_GRACE);
        let deadline = now + grace;
        if deadline >= td.deadline {
            return; // a longer grace never extends the budget (kubelet: the shortest wins)
        }
        // The reserve keeps its length inside the shorter budget (all of it, if shorter still).
        let reserve = td.deadline - td.apps_deadline;
        td.deadline = deadline;
        td.apps_deadline = td.apps_deadline.min(deadline - reserve.min(grace));
        td.grace = td.grace.min(grace);
        td.forced |= grace <= self.cfg.force_grace;
        let td = td.clone();
        let floor = now + self.cfg.min_stop_timeout;
        for i in 0..self.containers.len() {
            // From now on, the new budget bounds every stop under way, a stage's too, and an
            // app's part of it ends the reserve before the budget's end.
            let mine = self.stop_deadline(&td, i).max(floor);
            if let Some(s) = self.containers[i]
                .run_mut()
                .and_then(|r| r.signaled.as_mut())
                .filter(|s| !s.killed)
            {
                s.kill_at = s.kill_at.min(mine);
            }
        }
        self.note(
            now,
            None,
            NoteKind::GraceShortened,
            format!("stop again: grace budget shortened to {}s", grace.as_secs()),
        );
    }

    pub(super) fn advance_teardown(&mut self, now: Time, out: &mut Vec<Action>) {
        let Some(td) = self.teardown.clone() else {
            return;
        };
        for i in 0..self.containers.len() {
            match &mut self.containers[i].life {
                Life::Held(_) => self.end_never_started(now, i, out),
                Life::BackOff(b) => {
                    let kill_at = b.exit_kill_at;
                    let raw = self.containers[i].last_exit.map_or(0, |s| s.raw_code());
                    self.terminate(now, i, raw, kill_at, out);
                }
                Life::Running(run) => {
                    if !std::mem::replace(&mut run.told_teardown, true) {
                        self.tell_teardown(i, out);
                    }
                    // Probes stop at t0 (k/k#141766): a failing liveness probe must not
                    // restart anything during teardown.
                    self.begin_stop(i, !td.forced, out);
                }
                Life::Expected | Life::Terminated => {}
            }
        }
        for i in 0..self.containers.len() {
            // Set for a running container not signalled yet.
            let Some(my_deadline) = self.deadline(Timer::TeardownStop(i)) else {
                continue;
            };
            let Some(run) = self.containers[i].run() else {
                continue;
            };
            let pre_stop_over = run.pre_stop == PreStop::Done || now >= my_deadline;
            // Budget used up: nobody waits for a turn any more, all get the signal and 2 s (KEP
            // item 5). Stages have a budget each: a later stage still waits for its turn.
            let budget_gone = !td.staged && now >= my_deadline;
            if pre_stop_over && (td.forced || budget_gone || self.stop_turn(i)) {
                let floor = now + self.cfg.min_stop_timeout;
                let kill_at = if td.staged && !td.forced {
                    (now + td.grace).max(floor)
                } else {
                    my_deadline.max(floor)
                };
                let c = &mut self.containers[i];
                let signal = c.plan.as_ref().map_or(Signal::SIGTERM, |p| p.stop_signal);
                if let Some(run) = c.run_mut() {
                    run.signaled = Some(Signaled {
                        at: now,
                        kill_at,
                        killed: false,
                    });
                }
                let name = c.name.clone();
                // The apps' codes are in by now (a sidecar's turn comes after them).
                self.tell_teardown(i, out);
                out.push(Action::Signal {
                    name: name.clone(),
                    signal,
                });
                self.note(
                    now,
                    Some(&name),
                    NoteKind::StopSignal,
                    format!(
                        "stop signal {signal}, SIGKILL in {}ms",
                        (kill_at - now).as_millis()
                    ),
                );
            }
        }
        let registered = || self.containers.iter().filter(|c| c.id.is_some());
        let all_done = registered().all(|c| c.state() == ContainerState::Terminated && c.gone);
        // A declared container the agent has not created yet gets until the end of the grace
        // budget: created then, it ends without starting, as in any creation order.
        let budget_over = self
            .deadline(Timer::TeardownBudget)
            .is_none_or(|t| now >= t);
        if !self.finished && all_done && budget_over {
            for c in self
                .containers
                .iter_mut()
                .filter(|c| c.state() == ContainerState::Expected)
            {
                c.life = Life::Terminated;
                c.reason = Reason::NeverCreated;
                c.message = "the pod ended before this declared container was created".into();
            }
            self.finished = true;
            let phase = self.final_phase();
            out.push(Action::PodFinished { phase });
            self.note(
                now,
                None,
                NoteKind::PodFinished,
                format!("pod finished: {phase:?}"),
            );
        }
    }

    /// The first steps of stopping a running container, in teardown or alone: its startup and
    /// liveness probes stop (readiness goes on until the process is gone), and its preStop starts (when it has one, `pre_stop` allows it and its process runs) or is
    /// over. Returns whether a preStop started now.
    pub(super) fn begin_stop(&mut self, i: usize, pre_stop: bool, out: &mut Vec<Action>) -> bool {
        let c = &mut self.containers[i];
        let has = c.plan.as_ref().is_some_and(|p| p.pre_stop.is_some());
        let Life::Running(run) = &mut c.life else {
            return false;
        };
        if run.probing {
            run.probing = false;
            out.push(Action::StopProbes {
                name: c.name.clone(),
                keep_readiness: true,
            });
        }
        if run.pre_stop != PreStop::NotRun {
            return false;
        }
        if has && pre_stop && run.process {
            run.pre_stop = PreStop::Running;
            out.push(Action::RunHandler {
                name: c.name.clone(),
                handler: HandlerKind::PreStop,
            });
            true
        } else {
            run.pre_stop = PreStop::Done;
            false
        }
    }

    fn tell_teardown(&self, i: usize, out: &mut Vec<Action>) {
        if let Some(report) = self.teardown_report() {
            out.push(Action::Teardown {
                name: self.containers[i].name.clone(),
                report,
            });
        }
    }

    /// A container still held at the gate when the pod ends never starts its process.
    pub(super) fn end_never_started(&mut self, now: Time, i: usize, out: &mut Vec<Action>) {
        let c = &mut self.containers[i];
        let code = if c.kind() == Some(Kind::Sidecar) {
            0
        } else {
            NEVER_STARTED_EXIT_CODE
        };
        c.life = Life::Terminated;
        c.exit_code = Some(code);
        c.finished_at = Some(now);
        c.start_returned = true;
        c.reason = Reason::NeverStarted;
        c.message =
            "the pod ended before this container's start gate opened; its process never ran".into();
        let name = c.name.clone();
        out.push(Action::Finish {
            name: name.clone(),
            exit_code: code,
            // Its process never ran: nothing of it can be left.
            leftover_grace: Duration::ZERO,
        });
        self.note(
            now,
            Some(&name),
            NoteKind::EndedWithoutStarting,
            "ended without starting",
        );
    }

    /// Until when container `i`'s preStop may run, and under the shared budget its SIGKILL:
    /// the apps' part of the budget for a non-sidecar, the whole budget for a sidecar.
    pub(super) fn stop_deadline(&self, td: &Teardown, i: usize) -> Time {
        if td.staged || self.containers[i].is_sidecar() {
            td.deadline
        } else {
            td.apps_deadline
        }
    }

    /// Whether any container declares an ECI exit priority (the staged teardown).
    fn exit_priorities_declared(&self) -> bool {
        self.containers
            .iter()
            .any(|o| o.plan.as_ref().is_some_and(|p| p.exit_priority.is_some()))
    }

    /// The sidecars' reserve, the largest any container declares (a pod-level value).
    fn sidecar_reserve(&self) -> Duration {
        self.containers
            .iter()
            .filter_map(|c| c.plan.as_ref().and_then(|p| p.sidecar_reserve_seconds))
            .max()
            .map_or(Duration::ZERO, Duration::from_secs)
    }

    /// Whether container `i` may get its stop signal now.
    fn stop_turn(&self, i: usize) -> bool {
        let c = &self.containers[i];
        let running = |o: &&super::container::Container| o.state() == ContainerState::Running;
        let priority = |o: &super::container::Container| {
            o.plan.as_ref().and_then(|p| p.exit_priority).unwrap_or(0)
        };
        if !c.is_sidecar() {
            // An app waits only for apps of a higher ECI exit priority; a regular init
            // container still running never waits.
            if c.kind() != Some(Kind::App) || !self.exit_priorities_declared() {
                return true;
            }
            return !self.containers.iter().filter(running).any(|o| {
                o.kind() == Some(Kind::App) && o.name != c.name && priority(o) > priority(c)
            });
        }
        if self
            .containers
            .iter()
            .filter(running)
            .any(|o| o.kind() == Some(Kind::App))
        {
            return false;
        }
        let by_priority = self
            .containers
            .iter()
            .any(|o| o.plan.as_ref().is_some_and(|p| p.exit_priority.is_some()));
        let (Some(me), Some(my_slot)) = (c.plan.as_ref(), c.slot()) else {
            return true;
        };
        !self.containers.iter().filter(running).any(|o| {
            let (Some(p), Some(slot)) = (o.plan.as_ref(), o.slot()) else {
                return false;
            };
            o.name != c.name
                && p.kind == Kind::Sidecar
                && if by_priority {
                    p.exit_priority.unwrap_or(0) > me.exit_priority.unwrap_or(0)
                } else {
                    slot.key() > my_slot.key()
                }
        })
    }

    /// [`Timer::Kill`]: the grace of container `i`'s stop is over.
    pub(super) fn fire_kill(&mut self, now: Time, i: usize, out: &mut Vec<Action>) {
        let c = &mut self.containers[i];
        let Some(s) = c.run_mut().and_then(|r| r.signaled.as_mut()) else {
            return;
        };
        s.killed = true;
        let name = c.name.clone();
        out.push(Action::Kill { name: name.clone() });
        self.note(
            now,
            Some(&name),
            NoteKind::Killed,
            "grace budget used up: SIGKILL",
        );
    }
}
