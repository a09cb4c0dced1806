//! The start gate: registration, and the rule that decides when a held container may start.
//!
//! A container's gate opens once every container of the pod with an earlier start slot has passed
//! its gate condition (`GateOn`): regular init containers exited 0, sidecars started (KEP-753:
//! running + postStart done + startupProbe succeeded), env-dialect sidecars and higher launch
//! priorities started and Ready where they have a readiness probe (ECI). Equal slots start
//! together. Containers not registered yet count as not passed when their slot is known (pod
//! spec) or unknown (name list only), so the gate holds whatever order the runtime creates the
//! containers in. Pods that declare nothing get the settle rule (see `Config::settle`).

use std::collections::BTreeMap;

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

    /// The digest of the pod declaration the pod took (`plan::declaration::digest`), once a
    /// registration brought one: a driver whose registration carries the same declaration
    /// sends only the digest, so the declaration is journalled once per pod.
    pub fn declaration_digest(&self) -> Option<&str> {
        self.declaration.as_ref().map(|(digest, _)| digest.as_str())
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

    /// What every gate reads, found in one pass over the containers.
    pub(super) fn gate_index(&self) -> GateIndex {
        let mut idx = GateIndex::default();
        for (j, c) in self.containers.iter().enumerate() {
            let key = c.slot().map(StartSlot::key);
            if !c.passed && idx.earliest.is_none_or(|first| (key, j) < first) {
                idx.earliest = Some((key, j));
            }
            let post_start_pending = c.plan.as_ref().is_some_and(|p| p.post_start.is_some())
                && !c.start_returned
                && c.state() != ContainerState::Terminated;
            if let (Some(key), true) = (key, post_start_pending) {
                idx.post_start.entry(key).or_insert(j);
            }
        }
        idx
    }

    pub(super) fn gate_open(&self, i: usize, now: Time, idx: &GateIndex) -> bool {
        let Some(mine) = self.containers[i].slot() else {
            return false;
        };
        if self.containers[i].gate_forced() {
            return true;
        }
        if self.settle_deadline().is_some_and(|t| now < t) {
            return false;
        }
        if matches!(mine, StartSlot::Regular { .. }) && idx.post_start_before(i, mine).is_some() {
            return false;
        }
        idx.blocker(i, mine).is_none()
    }

    pub(super) fn open_gates(&mut self, now: Time, out: &mut Vec<Action>) {
        let idx = self.gate_index();
        let ready: Vec<usize> = (0..self.containers.len())
            .filter(|&i| {
                self.containers[i].state() == ContainerState::Waiting
                    && self.gate_open(i, now, &idx)
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

/// Whether the supervisor opens `plan`'s gate the moment its container registers, whatever
/// else of its pod has happened: `inject` asks it of a no-hooks bundle, and the container's
/// init then starts its app without waiting for its claim's answer (`src/init/core/link.rs`).
///
/// Asked of a fresh engine, where the registration is the pod's first: nothing has passed its
/// gate condition and no postStart has returned, the state in which the rule holds the most
/// (a gate reads only containers of earlier start slots that have not passed, and a regular
/// container a postStart before it in its slot that has not returned; both only ever go
/// away). So a gate this opens, every later registration of the container opens too, teardown
/// aside (the app is then stopped with its pod). A pod that declares nothing waits for the
/// settle rule, and one known by names only for the names' plans: neither opens here.
pub fn opens_on_arrival(plan: &ContainerPlan, pod: &PodDeclaration) -> bool {
    let mut engine = Engine::new(super::Config::default());
    let name = plan.name.clone();
    engine
        .handle_event(
            Time::ZERO,
            super::Event::Registered {
                id: name.clone(),
                plan: Box::new(plan.clone()),
                pod: Some(pod.clone()),
                // A fresh engine has no declaration to compare it with.
                pod_digest: None,
            },
        )
        .iter()
        .any(|a| matches!(a, Action::ReleaseGate { name: n } if *n == name))
}

type SlotKey = (u8, i64, u8);

/// The gate rule's inputs, indexed: what a held container's gate reads, for every held
/// container of the pod, from one pass over the containers (`Engine::gate_index`). A scan of
/// the whole pod per held container made every event O(containers²) (BENCHMARKS.md, "The
/// supervisor curve"). Built afresh where it is read, never kept: nothing to keep in step.
#[derive(Default)]
pub(super) struct GateIndex {
    /// The earliest container that has not passed its gate condition, by (start slot,
    /// declaration index), one known only by name (no slot) first.
    earliest: Option<(Option<SlotKey>, usize)>,
    /// Per start slot, the first container declared in it whose postStart has not returned.
    post_start: BTreeMap<SlotKey, usize>,
}

impl GateIndex {
    /// The earliest container other than `i` that has not passed, if it comes before `mine`
    /// (or is known only by name, so it may): what holds `i`'s gate. When `i` is the earliest
    /// itself, every other one comes at or after its slot: nothing holds it.
    pub(super) fn blocker(&self, i: usize, mine: StartSlot) -> Option<usize> {
        self.earliest
            .filter(|(theirs, j)| *j != i && theirs.is_none_or(|k| k < mine.key()))
            .map(|(_, j)| j)
    }

    /// The kubelet starts a pod's regular containers one by one in declaration order, and a
    /// start returns only once the container's postStart did (`startContainer`; Istio's
    /// `holdApplicationUntilProxyStarts` relies on it). So a regular container waits while one
    /// declared before it in the same start slot has a postStart that has not returned. Without
    /// postStarts, equal slots still start together (ECI's "equal starts together").
    pub(super) fn post_start_before(&self, i: usize, mine: StartSlot) -> Option<usize> {
        self.post_start.get(&mine.key()).copied().filter(|j| *j < i)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::engine::Config;
    use crate::plan::{k8s::parse_pod_spec, plans_from_pod_spec};

    /// The gate rule as it read before the index: a scan of the pod per held container.
    fn scanned_blocker(e: &Engine, i: usize, mine: StartSlot) -> Option<usize> {
        e.containers
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && !o.passed)
            .filter(|(_, o)| o.slot().is_none_or(|s| s.key() < mine.key()))
            .min_by_key(|(j, o)| (o.slot().map(StartSlot::key), *j))
            .map(|(j, _)| j)
    }

    fn scanned_post_start(e: &Engine, i: usize, mine: StartSlot) -> Option<usize> {
        e.containers[..i].iter().position(|o| {
            o.slot().is_some_and(|s| s.key() == mine.key())
                && o.plan.as_ref().is_some_and(|p| p.post_start.is_some())
                && !o.start_returned
                && o.state() != ContainerState::Terminated
        })
    }

    /// Two regular init containers, two sidecars, three apps (two with a postStart), and
    /// `by_name` containers known only by name; `passed` have passed their gate condition,
    /// `returned` had their start return. The index answers what the scan answers, for every
    /// container.
    #[rstest]
    #[case::nothing_passed(&[], &[], &[])]
    #[case::the_first_init_passed(&["i1"], &[], &[])]
    #[case::every_init_passed(&["i1", "i2"], &[], &[])]
    #[case::a_later_one_passed_first(&["sc2"], &[], &[])]
    #[case::all_but_the_apps_passed(&["i1", "i2", "sc1", "sc2"], &[], &[])]
    #[case::the_first_app_started_its_post_start_returned(
        &["i1", "i2", "sc1", "sc2", "a1"], &["a1"], &[]
    )]
    #[case::everything_passed(&["i1", "i2", "sc1", "sc2", "a1", "a2", "a3"], &["a1", "a2"], &[])]
    #[case::one_known_by_name_only(&["i1", "i2", "sc1", "sc2"], &[], &["n1"])]
    #[case::two_known_by_name_only(&["i1"], &[], &["n1", "n2"])]
    fn the_gate_index_reads_what_a_scan_of_the_pod_reads(
        #[case] passed: &[&str],
        #[case] returned: &[&str],
        #[case] by_name: &[&str],
    ) {
        let post_start = serde_json::json!({"postStart": {"exec": {"command": ["true"]}}});
        let spec = serde_json::json!({
            "initContainers": [
                {"name": "i1"}, {"name": "i2"},
                {"name": "sc1", "restartPolicy": "Always"},
                {"name": "sc2", "restartPolicy": "Always", "lifecycle": post_start},
            ],
            "containers": [
                {"name": "a1", "lifecycle": post_start},
                {"name": "a2", "lifecycle": post_start},
                {"name": "a3"},
            ],
        });
        let spec = parse_pod_spec(&spec.to_string()).expect("spec");
        let mut e = Engine::new(Config::default());
        for plan in plans_from_pod_spec(&spec).expect("plans") {
            let mut c = Container::new(&plan.name);
            c.passed = passed.contains(&plan.name.as_str());
            c.start_returned = returned.contains(&plan.name.as_str());
            c.plan = Some(plan);
            e.containers.push(c);
        }
        for n in by_name {
            e.containers.push(Container::new(n));
        }
        let idx = e.gate_index();
        for i in 0..e.containers.len() {
            let Some(mine) = e.containers[i].slot() else {
                continue;
            };
            let name = &e.containers[i].name;
            assert_eq!(
                idx.blocker(i, mine),
                scanned_blocker(&e, i, mine),
                "blocker of {name}"
            );
            assert_eq!(
                idx.post_start_before(i, mine),
                scanned_post_start(&e, i, mine),
                "postStart before {name}"
            );
        }
    }
    fn plans(spec: serde_json::Value) -> Vec<ContainerPlan> {
        plans_from_pod_spec(&parse_pod_spec(&spec.to_string()).expect("spec")).expect("plans")
    }

    /// One case per rule the gate reads at a pod's start: each container of the pod, whether
    /// its gate opens as it arrives.
    #[rstest]
    #[case::plain_apps_start_together(
        serde_json::json!({"containers": [{"name": "a"}, {"name": "b"}]}),
        &[("a", true), ("b", true)]
    )]
    #[case::apps_wait_for_a_native_sidecar(
        serde_json::json!({"initContainers": [{"name": "sc", "restartPolicy": "Always"}],
                           "containers": [{"name": "app"}]}),
        &[("sc", true), ("app", false)]
    )]
    #[case::a_sidecar_waits_for_the_one_before(
        serde_json::json!({"initContainers": [{"name": "sc1", "restartPolicy": "Always"},
                                              {"name": "sc2", "restartPolicy": "Always"}],
                           "containers": [{"name": "app"}]}),
        &[("sc1", true), ("sc2", false), ("app", false)]
    )]
    #[case::apps_wait_for_an_init_container(
        serde_json::json!({"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]}),
        &[("init", true), ("app", false)]
    )]
    #[case::an_app_waits_for_a_post_start_declared_before_it(
        serde_json::json!({"containers": [
            {"name": "a", "lifecycle": {"postStart": {"exec": {"command": ["true"]}}}},
            {"name": "b"}]}),
        &[("a", true), ("b", false)]
    )]
    #[case::an_env_sidecar_declared_after_its_app_goes_first(
        serde_json::json!({"containers": [
            {"name": "app"},
            {"name": "log", "env": [{"name": "__IS_SIDECAR__", "value": "true"}]}]}),
        &[("app", false), ("log", true)]
    )]
    fn a_gate_opens_on_arrival_where_nothing_before_it_can_hold_it(
        #[case] spec: serde_json::Value,
        #[case] expected: &[(&str, bool)],
    ) {
        let plans = plans(spec);
        let pod = PodDeclaration::Spec {
            containers: plans.clone(),
        };
        for (name, opens) in expected {
            let plan = plans.iter().find(|p| p.name == *name).expect("declared");
            assert_eq!(opens_on_arrival(plan, &pod), *opens, "{name}");
        }
    }

    /// A pod known by names only opens a gate when the container is the only name; one that
    /// declares nothing waits for the settle rule.
    #[rstest]
    #[case::the_only_name(PodDeclaration::Names { names: vec!["a".into()] }, true)]
    #[case::one_of_two_names(PodDeclaration::Names { names: vec!["a".into(), "b".into()] }, false)]
    #[case::nothing_declared(PodDeclaration::Unknown, false)]
    fn a_pod_not_declared_in_full(#[case] pod: PodDeclaration, #[case] opens: bool) {
        let plan = plans(serde_json::json!({"containers": [{"name": "a"}]})).remove(0);
        assert_eq!(opens_on_arrival(&plan, &pod), opens);
    }
}
