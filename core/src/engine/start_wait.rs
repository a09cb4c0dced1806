//! What holds a container at its start gate, said in words for the status ("waiting for
//! sidecar proxy: startupProbe failed 6 times ..."), and the start-wait deadline
//! (`io.podinit.start-timeout`, `plan/start_wait.rs`): once a held container has waited that
//! long, the pod fails (`StartTimeout`), the container starts anyway, or it keeps waiting with
//! the deadline's passing on record.

use std::collections::HashMap;

use super::container::{Container, Life};
use super::gate::GateIndex;
use super::status::ContainerState;
use super::{Engine, NoteKind, TeardownCause, Time};
use crate::plan::start_wait::{OnStartTimeout, format_millis};
use crate::plan::{GateOn, Kind};

/// How deep "held at its own start gate (waiting for ...)" goes before it stops explaining.
const MAX_CHAIN: usize = 3;

impl Engine {
    /// Why container `i`'s gate is still closed at `now`, or `None` if it would open.
    pub(super) fn gate_blocker(&self, i: usize, now: Time, idx: &GateIndex) -> Option<String> {
        self.gate_why(i, now, idx)
            .map(|why| self.say_why(why, now, 0, idx))
    }

    fn gate_why(&self, i: usize, now: Time, idx: &GateIndex) -> Option<Why> {
        let mine = self.containers[i].slot()?;
        if self.settle_deadline().is_some_and(|t| now < t) {
            return Some(Why::Settling);
        }
        // The first container of the sequence that has not passed, as the gate reads it.
        if let Some(j) = idx.blocker(i, mine) {
            return Some(Why::Blocker(j));
        }
        idx.post_start_before(i, mine).map(Why::PostStart)
    }

    /// The words for `why`; the same for every container it holds.
    fn say_why(&self, why: Why, now: Time, depth: usize, idx: &GateIndex) -> String {
        match why {
            // No countdown in the text: the message would change at every event and rewrite
            // status.json for nothing.
            Why::Settling => format!(
                "waiting for the pod's containers to be created (no pod spec or name list \
                 declares them: the gate opens {} ms after the last registration)",
                self.cfg.settle.as_millis()
            ),
            Why::Blocker(j) => self.describe_blocker(j, now, depth, idx),
            Why::PostStart(j) => {
                let o = &self.containers[j];
                format!(
                    "waiting for {} {}: its postStart has not returned (containers start one \
                     by one in declaration order)",
                    kind_word(o),
                    o.name
                )
            }
        }
    }

    fn describe_blocker(&self, j: usize, now: Time, depth: usize, idx: &GateIndex) -> String {
        let o = &self.containers[j];
        let state = match o.state() {
            ContainerState::Expected if o.plan.is_none() => {
                "not created yet (declared by name only)".to_owned()
            }
            ContainerState::Expected => "not created yet".to_owned(),
            ContainerState::Waiting => {
                let inner = (depth < MAX_CHAIN)
                    .then(|| self.gate_why(j, now, idx))
                    .flatten()
                    .map(|why| self.say_why(why, now, depth + 1, idx));
                match inner {
                    Some(why) => format!("held at its own start gate ({why})"),
                    None => "held at its own start gate".to_owned(),
                }
            }
            ContainerState::BackOff => format!(
                "exited with code {}, restarting ({}, {} restarts so far)",
                o.last_exit.map_or(-1, super::ExitStatus::raw_code),
                o.reason,
                o.restart_count
            ),
            ContainerState::Terminated => format!(
                "ended with code {} without {}",
                o.exit_code.unwrap_or(-1),
                goal(o)
            ),
            ContainerState::Running => running_state(o),
        };
        format!("waiting for {} {}: {state}", kind_word(o), o.name)
    }

    /// When container `i`'s start-wait deadline falls, if it has one still to come.
    pub(super) fn start_wait_due(&self, i: usize) -> Option<Time> {
        let c = &self.containers[i];
        let held = c.held()?;
        if self.teardown.is_some() || held.start_wait_passed {
            return None;
        }
        let t = c.plan.as_ref()?.start_timeout.as_ref()?;
        Some(held.since + std::time::Duration::from_millis(t.millis))
    }

    /// [`super::timers::Timer::StartWait`]: held container `i`'s deadline has come, the
    /// declared outcome.
    pub(super) fn fire_start_wait(&mut self, now: Time, i: usize) {
        if let Life::Held(h) = &mut self.containers[i].life {
            h.start_wait_passed = true;
        }
        // The gate opens at this very time anyway: nothing held it past the deadline.
        let Some(blocker) = self.gate_blocker(i, now, &self.gate_index()) else {
            return;
        };
        let c = &self.containers[i];
        let Some(t) = c.plan.as_ref().and_then(|p| p.start_timeout.clone()) else {
            return;
        };
        let name = c.name.clone();
        let waited = format_millis(t.millis);
        match t.on_timeout {
            OnStartTimeout::Wait => self.note(
                now,
                Some(&name), NoteKind::StartWaitTimeout,
                format!("start-wait timeout of {waited} passed, still held: {blocker} (on-start-timeout: wait)"),
            ),
            OnStartTimeout::Start => {
                if let Life::Held(h) = &mut self.containers[i].life {
                    h.gate_forced = true;
                }
                self.note(
                    now,
                    Some(&name), NoteKind::StartWaitTimeout,
                    format!("start-wait timeout of {waited} passed: starting anyway, {blocker} (on-start-timeout: start)"),
                );
            }
            OnStartTimeout::Fail => {
                let why = format!("container {name} waited {waited} at its start gate, {blocker}");
                self.note(
                    now,
                    Some(&name), NoteKind::StartWaitTimeout,
                    format!("start-wait timeout of {waited} passed: failing the pod, {blocker} (on-start-timeout: fail)"),
                );
                self.containers[i].message = why.clone();
                self.start_timeout_failure = Some(why);
                self.start_teardown(now, TeardownCause::StartTimeout, None);
            }
        }
    }

    /// Every held container's message says what holds it (and whether its deadline passed).
    pub(super) fn refresh_gate_messages(&mut self, now: Time) {
        if self.teardown.is_some() {
            return;
        }
        let idx = self.gate_index();
        // Most held containers wait for the same one: its words are made once.
        let mut said: HashMap<Why, String> = HashMap::new();
        for i in 0..self.containers.len() {
            let Some(held) = self.containers[i].held().copied() else {
                continue;
            };
            let Some(why) = self.gate_why(i, now, &idx) else {
                continue;
            };
            let words = said
                .entry(why)
                .or_insert_with(|| self.say_why(why, now, 0, &idx));
            let c = &self.containers[i];
            let passed = c
                .plan
                .as_ref()
                .and_then(|p| p.start_timeout.as_ref())
                .filter(|_| held.start_wait_passed);
            let msg = match passed {
                Some(t) => format!(
                    "{words} (start-wait timeout of {} passed; on-start-timeout: {})",
                    format_millis(t.millis),
                    t.on_timeout.as_str()
                ),
                None if c.message == *words => continue,
                None => words.clone(),
            };
            if self.containers[i].message != msg {
                self.containers[i].message = msg;
                self.dirty = true;
            }
        }
    }
}

/// What holds a gate (`Engine::gate_why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Why {
    /// No declaration: the settle time after the last registration is not over.
    Settling,
    /// This container, earlier in the start sequence, has not passed.
    Blocker(usize),
    /// This container, declared before in the same slot, has a postStart that has not returned.
    PostStart(usize),
}

fn kind_word(c: &Container) -> &'static str {
    match c.kind() {
        Some(Kind::Init) => "init container",
        Some(Kind::Sidecar) => "sidecar",
        Some(Kind::App) | None => "container",
    }
}

/// What the container must reach before the ones behind it start.
fn goal(c: &Container) -> &'static str {
    match c.plan.as_ref().map(|p| p.gate_on) {
        Some(GateOn::ExitZero) => "exiting 0",
        Some(GateOn::Ready) => "becoming ready",
        Some(GateOn::Started) | None => "being started",
    }
}

fn running_state(c: &Container) -> String {
    let Some(p) = &c.plan else {
        return "running".to_owned();
    };
    if p.gate_on == GateOn::ExitZero {
        return "running; it must exit 0 first".to_owned();
    }
    let Some(run) = c.run().filter(|r| r.process) else {
        return "its process is starting".to_owned();
    };
    if !run.post_start_done {
        return "its postStart is running".to_owned();
    }
    if let Some(probe) = p.startup_probe.as_ref().filter(|_| !run.startup_ok) {
        if c.startup_failures == 0 {
            return "its startupProbe has not passed yet".to_owned();
        }
        // The prober reports a failure once failureThreshold checks in a row failed.
        let times = u64::from(c.startup_failures) * u64::from(probe.failure_threshold.max(1));
        return format!(
            "startupProbe failed {times} times (failureThreshold {} reached {} times), {} restarts",
            probe.failure_threshold, c.startup_failures, c.restart_count
        );
    }
    if p.gate_on == GateOn::Ready && !run.ready {
        return "its readinessProbe has not passed yet".to_owned();
    }
    "starting".to_owned()
}
