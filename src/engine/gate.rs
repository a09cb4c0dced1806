//! The start gate: registration, and the rule that decides when a held container may start.
//!
//! A container's gate opens once every container of the pod with an earlier start slot has passed
//! its gate condition (`GateOn`): regular init containers exited 0, sidecars started (KEP-753:
//! running + postStart done + startupProbe succeeded), env-dialect sidecars and higher launch
//! priorities started and Ready where they have a readiness probe (ECI). Equal slots start
//! together. Containers not registered yet count as not passed when their slot is known (pod
//! spec) or unknown (name list only), so the gate holds whatever order the runtime creates the
//! containers in. Pods that declare nothing get the settle rule (see `Config::settle`).

use super::container::{Container, Held, Life, Run};
use super::status::ContainerState;
use super::{Action, Declares, Engine, NoteKind, Reason, Refusal, Registration, Time};
use crate::plan::{ContainerPlan, PodDeclaration, StartSlot};

impl Engine {
    pub(super) fn on_registered(
        &mut self,
        now: Time,
        id: String,
        plan: ContainerPlan,
        pod: Option<PodDeclaration>,
        pod_digest: Option<String>,
    ) {
        let name = plan.name.clone();
        let declares = Declares {
            digest: pod_digest.as_deref(),
            brought: pod.is_some(),
        };
        // The supervisor asks first and refuses in its reply; this is for journals of older
        // supervisors, which did not, and keeps a foreign declaration out of the pod.
        match self.check_registration(&id, &plan, declares) {
            Ok(Registration::New) => {}
            Ok(Registration::Again) => return, // the same report again (hook retry)
            Err(refusal) => {
                let msg = match refusal {
                    Refusal::StillAlive { existing, .. } => format!(
                        "ignored registration as {id}: container {existing} of that name is still alive"
                    ),
                    Refusal::OtherDeclaration { theirs, .. } => format!(
                        "ignored registration as {id}: its pod declaration {theirs} is not the pod's"
                    ),
                    Refusal::NoDeclaration { .. } => format!(
                        "ignored registration as {id}: it names a pod declaration the pod does not have"
                    ),
                };
                self.note(now, Some(&name), NoteKind::RegistrationRefused, msg);
                return;
            }
        }
        if let (Some(_), Some(digest)) = (&pod, pod_digest) {
            self.declaration.get_or_insert((digest, name.clone()));
        }
        match pod {
            None => {}
            Some(PodDeclaration::Spec { containers }) => {
                self.pod_declared = true;
                for sibling in containers {
                    if self.find(&sibling.name).is_none() {
                        let mut c = Container::new(&sibling.name);
                        c.plan = Some(sibling);
                        self.containers.push(c);
                    }
                }
            }
            Some(PodDeclaration::Names { names }) => {
                self.pod_declared = true;
                for n in names {
                    if self.find(&n).is_none() {
                        self.containers.push(Container::new(&n));
                    }
                }
            }
            Some(PodDeclaration::Unknown) => {}
        }
        let i = match self.find(&name) {
            Some(i) => i,
            None => {
                self.containers.push(Container::new(&name));
                self.containers.len() - 1
            }
        };
        // A fresh registration (or a new incarnation after the old one is gone). A new
        // incarnation counts as a restart of the same spec entry, as the kubelet counts a
        // recreated container.
        let c = &self.containers[i];
        let restarts = c.restart_count + u32::from(c.ran);
        let mut fresh = Container::new(&name);
        fresh.restart_count = restarts;
        fresh.id = Some(id.clone());
        fresh.plan = Some(plan);
        fresh.life = Life::Held(Held::since(now));
        fresh.reason = Reason::HeldAtGate;
        self.containers[i] = fresh;
        self.last_registration = Some(now);
        self.started.get_or_insert(now);
        // During teardown the new container never starts: `advance_teardown` ends it.
        self.note(
            now,
            Some(&name),
            NoteKind::Registered,
            format!("registered as {id}"),
        );
    }

    /// Whether a registration would be taken, asked before the driver tracks or journals
    /// anything for it. Pure: the engine does not change.
    pub fn check_registration(
        &self,
        id: &str,
        plan: &ContainerPlan,
        declares: Declares<'_>,
    ) -> Result<Registration, Refusal> {
        let c = self.find(&plan.name).map(|i| &self.containers[i]);
        if c.is_some_and(|c| c.id.as_deref() == Some(id)) {
            return Ok(Registration::Again);
        }
        match (&self.declaration, declares.digest) {
            (Some((ours, by)), Some(theirs)) if ours != theirs => {
                return Err(Refusal::OtherDeclaration {
                    name: plan.name.clone(),
                    id: id.to_owned(),
                    theirs: theirs.to_owned(),
                    ours: ours.clone(),
                    by: by.clone(),
                });
            }
            (None, _) if !declares.brought => {
                return Err(Refusal::NoDeclaration {
                    name: plan.name.clone(),
                    id: id.to_owned(),
                });
            }
            _ => {}
        }
        let Some(c) = c else {
            return Ok(Registration::New);
        };
        match &c.id {
            Some(existing) if !c.gone => Err(Refusal::StillAlive {
                name: plan.name.clone(),
                id: id.to_owned(),
                existing: existing.clone(),
            }),
            // Not created yet, or a new incarnation once the old one is gone.
            _ => Ok(Registration::New),
        }
    }

    /// With no declared pod, gates wait until registrations have settled.
    pub(super) fn settle_deadline(&self) -> Option<Time> {
        if self.pod_declared {
            None
        } else {
            self.last_registration.map(|t| t + self.cfg.settle)
        }
    }

    pub(super) fn gate_open(&self, i: usize, now: Time) -> bool {
        let Some(mine) = self.containers[i].slot() else {
            return false;
        };
        if self.containers[i].gate_forced() {
            return true;
        }
        if self.settle_deadline().is_some_and(|t| now < t) {
            return false;
        }
        if matches!(mine, StartSlot::Regular { .. }) && self.earlier_post_start_pending(i, mine) {
            return false;
        }
        self.containers.iter().enumerate().all(|(j, other)| {
            if i == j || other.passed {
                return true;
            }
            match other.slot() {
                // Known only by name: it may belong before us.
                None => false,
                Some(theirs) => theirs.key() >= mine.key(),
            }
        })
    }

    /// The kubelet starts a pod's regular containers one by one in declaration order, and a
    /// start returns only once the container's postStart did (`startContainer`; Istio's
    /// `holdApplicationUntilProxyStarts` relies on it). So a regular container waits while one
    /// declared before it in the same start slot has a postStart that has not returned. Without
    /// postStarts, equal slots still start together (ECI's "equal starts together").
    fn earlier_post_start_pending(&self, i: usize, mine: StartSlot) -> bool {
        self.containers[..i].iter().any(|other| {
            other.slot().is_some_and(|s| s.key() == mine.key())
                && other.plan.as_ref().is_some_and(|p| p.post_start.is_some())
                && !other.start_returned
                && other.state() != ContainerState::Terminated
        })
    }

    pub(super) fn open_gates(&mut self, now: Time, out: &mut Vec<Action>) {
        let ready: Vec<usize> = (0..self.containers.len())
            .filter(|&i| {
                self.containers[i].state() == ContainerState::Waiting && self.gate_open(i, now)
            })
            .collect();
        for i in ready {
            let c = &mut self.containers[i];
            c.life = Life::Running(Run::default());
            c.gate_released = true;
            c.reason = Reason::Starting;
            let name = c.name.clone();
            out.push(Action::ReleaseGate { name: name.clone() });
            self.note(
                now,
                Some(&name),
                NoteKind::GateReleased,
                "start gate released",
            );
        }
    }
}
