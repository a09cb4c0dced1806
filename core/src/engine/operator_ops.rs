//! Day-2 operations an operator asks for on the control socket, with no node daemon to ask:
//! `podinit restart CONTAINER` (that container's process, the others untouched) and
//! `podinit signal CONTAINER SIGNAL` (e.g. SIGHUP for a config reload).
//!
//! A restart is a stop like a failed liveness probe's (`lifecycle.rs` `stop_for_restart`):
//! preStop first, then the stop signal, SIGKILL after the container's grace; then the process
//! starts again at once, whatever the restart policy says, without a backoff delay and without
//! counting as a crash (the next crash's backoff is where it was). A container waiting out its
//! backoff starts now. A signal goes to the container's main process as is; what the process
//! does with it (a reload, or an exit the restart policy then decides on) is its own.
//!
//! The driver asks [`Engine::check_operation`] first and refuses what it says no to; the event
//! itself re-checks, because a journal replays it into a fresh engine without the question.

use std::fmt;

use super::container::{BackOff, Life, RestartAfter, RestartDue};
use super::{Action, Engine, NoteKind, Time};
use crate::signal::Signal;

/// What an operator asked for one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Restart,
    Signal(Signal),
}

/// Why an operation was refused; the message names the container and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationRefused {
    UnknownContainer {
        name: String,
        known: Vec<String>,
    },
    PodFinished,
    PodStopping,
    NotCreated {
        name: String,
    },
    NotStarted {
        name: String,
    },
    Finished {
        name: String,
        exit_code: Option<i32>,
    },
    Stopping {
        name: String,
    },
}

impl fmt::Display for OperationRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownContainer { name, known } => write!(
                f,
                "the pod has no container {name:?} (its containers: {})",
                known.join(", ")
            ),
            Self::PodFinished => write!(f, "the pod has finished; nothing in it runs any more"),
            Self::PodStopping => write!(
                f,
                "the pod is being torn down; its containers are stopping and none restarts"
            ),
            Self::NotCreated { name } => write!(
                f,
                "container {name} has not been created yet; its runtime creates it first"
            ),
            Self::NotStarted { name } => write!(
                f,
                "container {name} has not started yet (it waits at its start gate); \
                 `podinit status` says what it waits for"
            ),
            Self::Finished { name, exit_code } => {
                write!(f, "container {name} has finished")?;
                if let Some(code) = exit_code {
                    write!(f, " (exit code {code})")?;
                }
                write!(f, "; a finished container is not started again in place")
            }
            Self::Stopping { name } => write!(
                f,
                "container {name} is being stopped already; wait for it to exit"
            ),
        }
    }
}

impl std::error::Error for OperationRefused {}

impl Engine {
    /// Whether `op` on container `name` would be carried out now.
    pub fn check_operation(&self, name: &str, op: Operation) -> Result<(), OperationRefused> {
        if self.finished {
            return Err(OperationRefused::PodFinished);
        }
        let Some(i) = self.find(name) else {
            return Err(OperationRefused::UnknownContainer {
                name: name.to_owned(),
                known: self.containers.iter().map(|c| c.name.clone()).collect(),
            });
        };
        let c = &self.containers[i];
        let name = name.to_owned();
        // A signal may still reach a container the teardown is stopping (a flush on SIGHUP);
        // a restart may not: nothing restarts in teardown.
        if self.teardown.is_some() && op == Operation::Restart {
            return Err(OperationRefused::PodStopping);
        }
        if c.id.is_none() {
            return Err(OperationRefused::NotCreated { name });
        }
        match &c.life {
            Life::Terminated => Err(OperationRefused::Finished {
                name,
                exit_code: c.exit_code,
            }),
            Life::BackOff(_) if op == Operation::Restart => Ok(()),
            Life::Running(run) if run.process => {
                // A restart podinit stops it for is a solo stop too.
                let stopping = run.stopping() || c.agent_stop.is_some();
                if stopping && op == Operation::Restart {
                    Err(OperationRefused::Stopping { name })
                } else {
                    Ok(())
                }
            }
            _ => Err(OperationRefused::NotStarted { name }),
        }
    }

    pub(super) fn on_restart_requested(&mut self, now: Time, name: &str, out: &mut Vec<Action>) {
        if let Err(why) = self.check_operation(name, Operation::Restart) {
            self.note(
                now,
                Some(name),
                NoteKind::Ignored,
                format!("ignored restart request: {why}"),
            );
            return;
        }
        let Some(i) = self.find(name) else { return };
        if let Life::BackOff(b) = &mut self.containers[i].life {
            // Its backoff is cut short; `fire_restarts` starts it in this same step.
            *b = BackOff {
                restart: RestartDue::At(now),
                ..*b
            };
            self.note(
                now,
                Some(name),
                NoteKind::RestartRequested,
                "restart requested: starting it now",
            );
            return;
        }
        self.containers[i].message = "restart requested (podinit restart)".into();
        self.note(
            now,
            Some(name),
            NoteKind::RestartRequested,
            "restart requested: stopping it",
        );
        self.stop_for_restart(now, i, None, RestartAfter::AtOnce, out);
    }

    pub(super) fn on_signal_requested(
        &mut self,
        now: Time,
        name: &str,
        signal: Signal,
        out: &mut Vec<Action>,
    ) {
        if let Err(why) = self.check_operation(name, Operation::Signal(signal)) {
            self.note(
                now,
                Some(name),
                NoteKind::Ignored,
                format!("ignored signal request: {why}"),
            );
            return;
        }
        out.push(Action::Signal {
            name: name.to_owned(),
            signal,
        });
        self.note(
            now,
            Some(name),
            NoteKind::SignalRequested,
            format!("signal {signal} (podinit signal)"),
        );
    }
}
