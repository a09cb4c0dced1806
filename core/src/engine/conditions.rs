//! The pod's conditions, computed as the kubelet computes them (`status/generate.go`), with the
//! time each one last changed:
//! - `PodReadyToStartContainers`: the sandbox exists (its first container registered), until
//!   the pod finished;
//! - `Initialized`: every regular init container exited 0 and every native sidecar started
//!   (true at once for a pod without init containers);
//! - `ContainersReady`: every app and sidecar that counts for readiness is ready (ACS
//!   `__IGNORE_READY__` takes a container out); regular init containers never count;
//! - `Ready`: `ContainersReady` (podinit has no readiness gates).
//!
//! Readiness never gates a native app start (`gate.rs` decides that); these are for whoever
//! reports the pod, as a kubelet would.

use serde::Serialize;

use super::status::Phase;
use super::{Engine, Time};
use crate::plan::{Kind, StartSlot};

pub const CONDITION_TYPES: [&str; 4] = [
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `"True"` or `"False"`, as the API has it.
    pub status: &'static str,
    /// Why it is False (the kubelet's reasons); empty when True.
    pub reason: &'static str,
    #[serde(serialize_with = "ser_ms")]
    pub last_transition_time: Time,
}

fn ser_ms<S: serde::Serializer>(d: &Time, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Engine {
    /// The four conditions now, as (true?, reason when false).
    fn condition_values(&self) -> [(bool, &'static str); 4] {
        let registered = self.containers.iter().any(|c| c.id.is_some());
        let sandbox = registered && !self.finished;
        let initialized = self.containers.iter().all(|c| match c.slot() {
            // Known only by name: it may be an init container still to come.
            None => false,
            Some(StartSlot::Init { .. }) => c.passed,
            Some(StartSlot::Regular { .. }) => true,
        });
        let counted = self.containers.iter().filter(|c| {
            c.plan
                .as_ref()
                .is_some_and(|p| p.kind != Kind::Init && p.counts_for_ready)
        });
        let ready = counted.clone().all(|c| c.ready());
        let completed = self.finished && self.final_phase() == Phase::Succeeded;
        let not_ready = if completed {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        };
        [
            (sandbox, ""),
            (
                initialized || completed,
                if completed {
                    "PodCompleted"
                } else {
                    "ContainersNotInitialized"
                },
            ),
            (ready && !self.finished, not_ready),
            (ready && !self.finished, not_ready),
        ]
    }

    /// Record transitions; runs after every event and timeout.
    pub(super) fn update_conditions(&mut self, now: Time) {
        let values = self.condition_values();
        for (k, (value, reason)) in values.into_iter().enumerate() {
            let status = if value { "True" } else { "False" };
            let reason = if value { "" } else { reason };
            match self.conditions.get_mut(k) {
                Some(c) if c.status == status => c.reason = reason,
                Some(c) => {
                    c.status = status;
                    c.reason = reason;
                    c.last_transition_time = now;
                    self.dirty = true;
                }
                None => {
                    self.conditions.push(PodCondition {
                        kind: CONDITION_TYPES[k],
                        status,
                        reason,
                        last_transition_time: now,
                    });
                    self.dirty = true;
                }
            }
        }
    }
}
