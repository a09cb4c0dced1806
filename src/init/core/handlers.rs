//! The container's lifecycle handlers (postStart, preStop), run inside the container when the
//! supervisor asks: each ends in one `handlerDone` report, whether it ran, slept, failed to
//! start or was not declared.

use std::collections::HashMap;
use std::time::Instant;

use super::Effect;
use super::prober::Launch;
use super::timers::{Timer, TimerTable};
use crate::engine::HandlerKind;
use crate::log_debug;
use crate::plan::Handler;
use crate::proto::InitMessage;

#[derive(Default)]
pub struct Handlers {
    /// Handlers running as children of the init, by pid.
    running: HashMap<libc::pid_t, HandlerKind>,
}

fn done(kind: HandlerKind, ok: bool) -> Effect {
    Effect::Send(InitMessage::HandlerDone { handler: kind, ok })
}

/// A handler that ran to its end.
fn finished(name: &str, kind: HandlerKind, ok: bool, fx: &mut Vec<Effect>) {
    log_debug!(
        "{name}: {kind:?} handler {}",
        if ok { "succeeded" } else { "failed" }
    );
    fx.push(done(kind, ok));
}

impl Handlers {
    /// Whether a handler child is under way (the driver waits for it before it settles).
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Run `handler` (the plan's for `kind`): not declared is done at once, and done well.
    pub fn run(&self, kind: HandlerKind, handler: Option<&Handler>, fx: &mut Vec<Effect>) {
        match handler {
            Some(h) => fx.push(Effect::RunHandler {
                kind,
                handler: h.clone(),
            }),
            None => fx.push(done(kind, true)),
        }
    }

    /// postStart asked for an app that does not run (a replayed start report): it fails.
    pub fn refuse(&self, kind: HandlerKind, fx: &mut Vec<Effect>) {
        fx.push(done(kind, false));
    }

    pub fn launched(
        &mut self,
        kind: HandlerKind,
        launch: Launch,
        now: Instant,
        timers: &mut TimerTable,
        fx: &mut Vec<Effect>,
    ) {
        match launch {
            Launch::Child(pid) => {
                self.running.insert(pid, kind);
            }
            Launch::Sleep(d) => timers.set(Timer::Sleep(kind), now + d),
            Launch::Failed => fx.push(done(kind, false)),
        }
    }

    /// A reaped pid: the handler's result if it was one (false when it was not ours).
    pub fn reaped(&mut self, name: &str, pid: libc::pid_t, ok: bool, fx: &mut Vec<Effect>) -> bool {
        let Some(kind) = self.running.remove(&pid) else {
            return false;
        };
        finished(name, kind, ok, fx);
        true
    }

    /// `Timer::Sleep(kind)`: the sleep is over.
    pub fn slept(&self, name: &str, kind: HandlerKind, fx: &mut Vec<Effect>) {
        finished(name, kind, true, fx);
    }
}
