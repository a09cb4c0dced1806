//! The engine's rules, one test per rule of SPEC section 3 and per edge case of the research file
//! (sections 1–6), driven by scripted events on a fake clock. Plans come from real pod specs
//! through the plan module, so a test reads like the pod it describes.
//!
//! Actions are compared as short strings: `release app`, `restart s`, `signal s 15`, `kill s`,
//! `finish s 0`, `poststart s`, `prestop s`, `probes s`, `unprobe s`, `pod Succeeded`.

use std::time::Duration;

use rstest::rstest;
use serde_json::json;

use super::*;
use crate::plan::k8s::parse_pod_spec;
use crate::plan::{BundleInput, Classified, classify_bundle, plans_from_pod_spec};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

struct Pod {
    engine: Engine,
    now: Duration,
    spec: serde_json::Value,
}

impl Pod {
    fn new(spec: serde_json::Value) -> Self {
        Self::with_config(spec, Config::default())
    }

    fn with_config(spec: serde_json::Value, cfg: Config) -> Self {
        Self {
            engine: Engine::new(cfg),
            now: Duration::ZERO,
            spec,
        }
    }

    fn plan_of(&self, name: &str) -> (ContainerPlan, PodDeclaration) {
        let config = json!({ "annotations": {
            "io.podinit.pod-spec": self.spec.to_string(),
            "io.podinit.container-name": name,
        }});
        match classify_bundle(&BundleInput {
            config: &config,
            fallback_name: name,
        })
        .expect("valid test pod")
        {
            Classified::Container { plan, pod, .. } => (*plan, pod),
            Classified::Ignored { .. } => unreachable!("test pods have no sandbox container"),
        }
    }

    fn ev(&mut self, e: Event) -> Vec<String> {
        render(self.engine.handle_event(self.now, e))
    }

    fn register(&mut self, name: &str) -> Vec<String> {
        let (plan, pod) = self.plan_of(name);
        self.ev(Event::Registered {
            id: format!("id-{name}"),
            plan: Box::new(plan),
            pod_digest: Some(crate::plan::declaration::digest(&pod)),
            pod: Some(pod),
        })
    }

    /// A new incarnation: the same spec entry created again under a new id.
    fn register_as(&mut self, name: &str, id: &str) -> Vec<String> {
        let (plan, pod) = self.plan_of(name);
        self.ev(Event::Registered {
            id: id.into(),
            plan: Box::new(plan),
            pod_digest: Some(crate::plan::declaration::digest(&pod)),
            pod: Some(pod),
        })
    }

    /// The runtime's `kill` reached the container's init (CRI StopContainer).
    fn agent_stop(&mut self, name: &str) -> Vec<String> {
        self.ev(Event::AgentStop {
            name: name.into(),
            signal: Signal::SIGTERM,
        })
    }

    fn register_all(&mut self, names: &[&str]) -> Vec<String> {
        names.iter().flat_map(|n| self.register(n)).collect()
    }

    fn started(&mut self, name: &str) -> Vec<String> {
        self.ev(Event::ProcessStarted { name: name.into() })
    }

    fn exit(&mut self, name: &str, code: i32) -> Vec<String> {
        self.ev(Event::ProcessExited {
            name: name.into(),
            status: ExitStatus::Code(code),
            details: ExitDetails::default(),
        })
    }

    fn killed_by(&mut self, name: &str, sig: i32) -> Vec<String> {
        self.ev(Event::ProcessExited {
            name: name.into(),
            status: ExitStatus::Signal(sig),
            details: ExitDetails::default(),
        })
    }

    fn gone(&mut self, name: &str) -> Vec<String> {
        self.ev(Event::Gone { name: name.into() })
    }

    fn probe(&mut self, name: &str, probe: ProbeKind, ok: bool) -> Vec<String> {
        self.ev(Event::ProbeResult {
            name: name.into(),
            probe,
            ok,
        })
    }

    fn handler(&mut self, name: &str, handler: HandlerKind, ok: bool) -> Vec<String> {
        self.ev(Event::HandlerDone {
            name: name.into(),
            handler,
            ok,
        })
    }

    fn stop(&mut self, grace: Option<u64>) -> Vec<String> {
        self.ev(Event::StopRequested {
            grace: grace.map(secs),
        })
    }

    /// Move the clock, firing every timer that falls due on the way, in order.
    fn advance(&mut self, by: Duration) -> Vec<String> {
        let end = self.now + by;
        let mut out = Vec::new();
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            out.extend(render(self.engine.handle_timeout(self.now)));
            self.assert_no_deadline_passed();
        }
        self.now = end;
        out
    }

    /// After a timeout was handled, the next deadline is in the future: one already passed
    /// would spin the supervisor's loop (issue 15 findings 1 and 2).
    #[track_caller]
    fn assert_no_deadline_passed(&self) {
        if let Some(t) = self.engine.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} is not after the handled time {:?}",
                self.now
            );
        }
    }

    /// Handle a timeout at `now` + `by` once, as the supervisor does when its epoll times out.
    fn timeout_at(&mut self, by: Duration) -> Vec<String> {
        self.now += by;
        let out = render(self.engine.handle_timeout(self.now));
        self.assert_no_deadline_passed();
        out
    }

    fn status(&self, name: &str) -> ContainerStatus {
        self.engine
            .status()
            .containers
            .into_iter()
            .find(|c| c.name == name)
            .expect("known container")
    }

    /// A container whose gate opened reports its process start (what `podinit exec` does).
    fn run(&mut self, name: &str) -> Vec<String> {
        self.started(name)
    }
}

fn render(actions: Vec<Action>) -> Vec<String> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::ReleaseGate { name } => Some(format!("release {name}")),
            Action::Restart { name } => Some(format!("restart {name}")),
            Action::RunHandler {
                name,
                handler: HandlerKind::PostStart,
            } => Some(format!("poststart {name}")),
            Action::RunHandler {
                name,
                handler: HandlerKind::PreStop,
            } => Some(format!("prestop {name}")),
            Action::StartProbes { name } => Some(format!("probes {name}")),
            Action::StopProbes {
                name,
                keep_readiness: false,
            } => Some(format!("unprobe {name}")),
            Action::StopProbes {
                name,
                keep_readiness: true,
            } => Some(format!("unprobe {name} but readiness")),
            Action::Signal { name, signal } => Some(format!("signal {name} {signal}")),
            Action::Kill { name } => Some(format!("kill {name}")),
            Action::Finish {
                name, exit_code, ..
            } => Some(format!("finish {name} {exit_code}")),
            Action::PodFinished { phase } => Some(format!("pod {phase:?}")),
            // What a container is told about the teardown: its own table below.
            Action::StatusChanged | Action::Teardown { .. } => None,
        })
        .collect()
}

/// The plan error container `name` of `spec` (a PodSpec or a whole Pod) gets, as text.
fn plan_error(spec: &serde_json::Value, name: &str) -> String {
    let config = json!({ "annotations": {
        "io.podinit.pod-spec": spec.to_string(),
        "io.podinit.container-name": name,
    }});
    classify_bundle(&BundleInput {
        config: &config,
        fallback_name: name,
    })
    .expect_err("an invalid pod")
    .to_string()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A Job: native sidecars `s1`, `s2` (in that order) and one app, restartPolicy Never.
fn job_two_sidecars() -> serde_json::Value {
    json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 30,
        "initContainers": [
            {"name": "s1", "restartPolicy": "Always"},
            {"name": "s2", "restartPolicy": "Always"}
        ],
        "containers": [{"name": "app"}]
    })
}

/// Bring a pod with sidecars s1, s2 and the app to "app running".
fn running_job() -> Pod {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["app", "s2", "s1"]);
    pod.run("s1");
    pod.run("s2");
    pod.run("app");
    pod
}

// ---------------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------------

/// The gate holds whatever order the containers are created in, apps before their sidecars too.
#[rstest]
#[case::spec_order(&["s1", "s2", "app"])]
#[case::reverse(&["app", "s2", "s1"])]
#[case::app_first(&["app", "s1", "s2"])]
#[case::middle_first(&["s2", "app", "s1"])]
fn sidecars_start_in_order_in_any_registration_order(#[case] order: &[&str]) {
    let mut pod = Pod::new(job_two_sidecars());
    let mut released = pod.register_all(order);
    assert_eq!(
        released,
        s(&["release s1"]),
        "only the first sidecar may start before it is started"
    );
    released = pod.run("s1");
    assert_eq!(released, s(&["release s2"]));
    released = pod.run("s2");
    assert_eq!(released, s(&["release app"]));
}

#[test]
fn regular_init_containers_run_strictly_in_order_and_must_exit_zero() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "OnFailure",
        "initContainers": [{"name": "i1"}, {"name": "i2"}],
        "containers": [{"name": "a1"}, {"name": "a2"}]
    }));
    assert_eq!(
        pod.register_all(&["a2", "a1", "i2", "i1"]),
        s(&["release i1"])
    );
    assert_eq!(
        pod.run("i1"),
        s(&[]),
        "running is not enough for a regular init container"
    );
    assert_eq!(pod.exit("i1", 0), s(&["finish i1 0", "release i2"]));
    pod.run("i2");
    // A failure under OnFailure: restarted at once (first restart), the apps keep waiting.
    assert_eq!(pod.exit("i2", 1), s(&["restart i2"]));
    pod.run("i2");
    // Apps start together, in one step.
    assert_eq!(
        pod.exit("i2", 0),
        s(&["finish i2 0", "release a1", "release a2"])
    );
}

#[test]
fn sidecar_is_started_only_after_post_start_completes() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "proxy", "restartPolicy": "Always",
            "lifecycle": {"postStart": {"exec": {"command": ["wait-ready"]}}}}],
        "containers": [{"name": "app"}]
    }));
    assert_eq!(pod.register_all(&["app", "proxy"]), s(&["release proxy"]));
    assert_eq!(pod.run("proxy"), s(&["poststart proxy"]));
    assert_eq!(
        pod.handler("proxy", HandlerKind::PostStart, true),
        s(&["release app"])
    );
}

#[test]
fn sidecar_is_started_only_after_its_startup_probe_succeeds() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "proxy", "restartPolicy": "Always",
            "startupProbe": {"tcpSocket": {"port": 15021}, "periodSeconds": 1}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["app", "proxy"]);
    assert_eq!(pod.run("proxy"), s(&["probes proxy"]));
    assert_eq!(
        pod.probe("proxy", ProbeKind::Readiness, true),
        s(&[]),
        "readiness before started is ignored"
    );
    assert_eq!(
        pod.probe("proxy", ProbeKind::Startup, true),
        s(&["release app"])
    );
    assert!(pod.status("proxy").started);
}

#[test]
fn native_sidecar_readiness_does_not_gate_the_apps() {
    // KEP-753 / kubernetes/website#41802: only startupProbe blocks; readiness never does.
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "proxy", "restartPolicy": "Always",
            "readinessProbe": {"httpGet": {"port": 8080, "path": "/ready"}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["app", "proxy"]);
    assert_eq!(pod.run("proxy"), s(&["probes proxy", "release app"]));
    assert!(
        !pod.status("proxy").ready,
        "not ready until its readiness probe says so"
    );
}

#[rstest]
#[case::is_sidecar("__IS_SIDECAR__", "true")]
#[case::eci_sidecar("ECI_SIDECAR_CONTAINER", "true")]
fn env_dialect_sidecar_declared_after_the_app_starts_first_and_gates_on_readiness(
    #[case] var: &str,
    #[case] value: &str,
) {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "app"},
            {"name": "agent", "env": [{"name": var, "value": value}],
             "readinessProbe": {"tcpSocket": {"port": 9000}}}
        ]
    }));
    assert_eq!(pod.register_all(&["app", "agent"]), s(&["release agent"]));
    assert_eq!(
        pod.run("agent"),
        s(&["probes agent"]),
        "ECI: started is not enough where a readiness probe exists"
    );
    assert_eq!(
        pod.probe("agent", ProbeKind::Readiness, true),
        s(&["release app"])
    );
}

#[test]
fn eci_launch_priorities_start_higher_first_and_equal_together() {
    let env = |p: i32| json!([{"name": "ECI_CONTAINER_LAUNCH_PRIORITY", "value": p.to_string()}]);
    let mut pod = Pod::new(json!({
        "containers": [
            {"name": "low", "env": env(-5)},
            {"name": "mid-a", "env": env(0)},
            {"name": "mid-b"},
            {"name": "high", "env": env(100), "readinessProbe": {"tcpSocket": {"port": 80}}}
        ]
    }));
    assert_eq!(
        pod.register_all(&["low", "mid-b", "mid-a", "high"]),
        s(&["release high"])
    );
    assert_eq!(pod.run("high"), s(&["probes high"]));
    assert_eq!(
        pod.probe("high", ProbeKind::Readiness, true),
        s(&["release mid-a", "release mid-b"])
    );
    pod.run("mid-a");
    assert_eq!(pod.run("mid-b"), s(&["release low"]));
}

#[test]
fn a_sidecar_failing_its_startup_probe_restarts_and_never_fails_a_never_pod() {
    // kubernetes#120234, enhancements#4880: restart regardless of the pod's restartPolicy.
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "proxy", "restartPolicy": "Always",
            "startupProbe": {"exec": {"command": ["check"]}, "terminationGracePeriodSeconds": 3}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["proxy", "app"]);
    pod.run("proxy");
    assert_eq!(
        pod.probe("proxy", ProbeKind::Startup, false),
        s(&["unprobe proxy but readiness", "signal proxy 15"])
    );
    assert_eq!(
        pod.advance(secs(3)),
        s(&["kill proxy"]),
        "the probe's own grace, not the pod's"
    );
    assert_eq!(pod.killed_by("proxy", 9), s(&["restart proxy"]));
    assert_eq!(pod.engine.phase(), Phase::Pending);
    // The restarted sidecar is probed again (kubernetes#132826) and then gates the app.
    assert_eq!(pod.run("proxy"), s(&["probes proxy"]));
    assert_eq!(
        pod.probe("proxy", ProbeKind::Startup, true),
        s(&["release app"])
    );
    assert_eq!(pod.status("proxy").restart_count, 1);
}

#[test]
fn a_sidecar_exiting_before_it_started_is_restarted() {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["s1", "s2", "app"]);
    assert_eq!(
        pod.exit("s1", 1),
        s(&["restart s1"]),
        "exit before start: restart at once, the pod goes on"
    );
    assert_eq!(pod.run("s1"), s(&["release s2"]));
}

#[test]
fn waiting_for_a_sidecar_that_never_starts_causes_no_wakeups() {
    // No global startup timeout (KEP-753 "Scenario 4"), and no polling while waiting.
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["s1", "s2", "app"]);
    assert_eq!(pod.engine.poll_timeout(), None);
    assert_eq!(pod.advance(secs(3600)), s(&[]));
    assert_eq!(pod.status("app").state, ContainerState::Waiting);
}

#[test]
fn a_name_list_declaration_holds_the_app_until_every_named_container_registered() {
    let mut pod = Pod::new(json!({}));
    let plan = |name: &str, kind: &str, index: u32| {
        let config = json!({ "annotations": {
            "io.podinit.container-name": name, "io.podinit.kind": kind, "io.podinit.index": index.to_string(),
            "io.podinit.pod-containers": "log,app",
        }});
        match classify_bundle(&BundleInput {
            config: &config,
            fallback_name: name,
        })
        .unwrap()
        {
            Classified::Container { plan, pod, .. } => (plan, pod),
            Classified::Ignored { .. } => unreachable!("no sandbox annotation"),
        }
    };
    let (app, decl) = plan("app", "app", 1);
    assert_eq!(
        pod.ev(Event::Registered {
            id: "a".into(),
            plan: app,
            pod: Some(decl),
            pod_digest: None,
        }),
        s(&[])
    );
    let (log, decl) = plan("log", "sidecar", 0);
    assert_eq!(
        pod.ev(Event::Registered {
            id: "l".into(),
            plan: log,
            pod: Some(decl),
            pod_digest: None,
        }),
        s(&["release log"])
    );
    assert_eq!(pod.run("log"), s(&["release app"]));
}

#[test]
fn an_undeclared_pod_waits_for_registrations_to_settle() {
    // Env-only pods (the ACK filebeat example): nothing says a sidecar is still to come.
    let mut pod = Pod::new(json!({}));
    let env_plan = |name: &str, env: &[&str]| {
        let config = json!({ "annotations": {"io.kubernetes.cri.container-name": name}, "process": {"env": env} });
        match classify_bundle(&BundleInput {
            config: &config,
            fallback_name: name,
        })
        .unwrap()
        {
            Classified::Container { plan, pod, .. } => (plan, pod),
            Classified::Ignored { .. } => unreachable!("no sandbox annotation"),
        }
    };
    let (app, d) = env_plan("echo-server", &["PATH=/bin"]);
    assert_eq!(
        pod.ev(Event::Registered {
            id: "e".into(),
            plan: app,
            pod: Some(d),
            pod_digest: None,
        }),
        s(&[]),
        "held: a sidecar may follow"
    );
    pod.advance(Duration::from_millis(500));
    let (sidecar, d) = env_plan("filebeat", &["ECI_SIDECAR_CONTAINER=true"]);
    assert_eq!(
        pod.ev(Event::Registered {
            id: "f".into(),
            plan: sidecar,
            pod: Some(d),
            pod_digest: None,
        }),
        s(&[])
    );
    assert_eq!(
        pod.advance(Duration::from_millis(999)),
        s(&[]),
        "the settle time restarts at each registration"
    );
    assert_eq!(
        pod.advance(Duration::from_millis(1)),
        s(&["release filebeat"])
    );
    assert_eq!(pod.run("filebeat"), s(&["release echo-server"]));
}

// ---------------------------------------------------------------------------------------------
// Steady state
// ---------------------------------------------------------------------------------------------

#[test]
fn a_crashing_sidecar_restarts_alone() {
    let mut pod = running_job();
    for _ in 0..8 {
        pod.exit("s2", 1);
        let fired = pod.advance(secs(300));
        assert!(fired.is_empty() || fired == s(&["restart s2"]), "{fired:?}");
        pod.run("s2");
    }
    assert_eq!(pod.status("s2").restart_count, 8);
    assert_eq!(pod.status("s1").restart_count, 0);
    let app = pod.status("app");
    assert_eq!(
        (app.state, app.restart_count),
        (ContainerState::Running, 0),
        "apps are not touched"
    );
}

#[rstest]
#[case::first(0, 0)]
#[case::second(1, 10)]
#[case::third(2, 20)]
#[case::fourth(3, 40)]
#[case::capped(7, 300)]
fn sidecar_restart_delays_follow_the_kubelet_curve(
    #[case] earlier_crashes: usize,
    #[case] delay: u64,
) {
    let mut pod = running_job();
    for _ in 0..earlier_crashes {
        pod.exit("s1", 2);
        pod.advance(secs(300));
        pod.run("s1");
    }
    assert_eq!(
        pod.exit("s1", 2),
        if delay == 0 {
            s(&["restart s1"])
        } else {
            s(&[])
        }
    );
    if delay > 0 {
        assert_eq!(pod.advance(secs(delay) - Duration::from_millis(1)), s(&[]));
        assert_eq!(pod.advance(Duration::from_millis(1)), s(&["restart s1"]));
    }
}

#[test]
fn backoff_resets_after_ten_quiet_minutes() {
    let mut pod = running_job();
    pod.exit("s1", 1);
    pod.run("s1");
    assert_eq!(pod.exit("s1", 1), s(&[]), "second crash waits 10 s");
    pod.advance(secs(10));
    pod.run("s1");
    pod.advance(secs(601));
    assert_eq!(
        pod.exit("s1", 1),
        s(&["restart s1"]),
        "after 600 s without trouble: at once again"
    );
}

#[test]
fn a_failing_liveness_probe_restarts_the_sidecar_after_its_grace() {
    let mut pod = Pod::new(json!({
        "terminationGracePeriodSeconds": 7,
        "initContainers": [{"name": "s", "restartPolicy": "Always", "livenessProbe": {"exec": {"command": ["ok"]}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    assert_eq!(pod.run("s"), s(&["probes s", "release app"]));
    pod.run("app");
    assert_eq!(
        pod.probe("s", ProbeKind::Liveness, false),
        s(&["unprobe s but readiness", "signal s 15"])
    );
    assert_eq!(pod.advance(secs(6)), s(&[]));
    assert_eq!(pod.advance(secs(1)), s(&["kill s"]));
    assert_eq!(pod.killed_by("s", 9), s(&["restart s"]));
    assert_eq!(pod.status("app").restart_count, 0);
}

#[rstest]
#[case::always_restarts_success("Always", 0, &["restart app"])]
#[case::always_restarts_failure("Always", 3, &["restart app"])]
#[case::on_failure_restarts_failure("OnFailure", 3, &["restart app"])]
#[case::on_failure_keeps_success("OnFailure", 0, &["finish app 0", "signal s 15"])]
#[case::never_keeps_failure("Never", 3, &["finish app 3", "signal s 15"])]
#[case::never_keeps_success("Never", 0, &["finish app 0", "signal s 15"])]
fn apps_follow_the_pod_restart_policy(
    #[case] policy: &str,
    #[case] code: i32,
    #[case] want: &[&str],
) {
    let mut pod = Pod::new(json!({
        "restartPolicy": policy,
        "initContainers": [{"name": "s", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.exit("app", code), s(want));
}

#[test]
fn a_failed_init_container_under_never_fails_the_pod_and_ends_everything() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always"}, {"name": "migrate"}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["app", "migrate", "s"]);
    pod.run("s");
    pod.run("migrate");
    // The app never started: it ends without running, the sidecar is stopped (and reports 0).
    assert_eq!(
        pod.exit("migrate", 2),
        s(&["finish migrate 2", "finish app 1", "signal s 15"])
    );
    assert_eq!(pod.status("app").reason, "NeverStarted");
    assert_eq!(pod.killed_by("s", 15), s(&["finish s 0"]));
    pod.gone("migrate");
    pod.gone("app");
    assert_eq!(pod.gone("s"), s(&["pod Failed"]));
}

// ---------------------------------------------------------------------------------------------
// Teardown
// ---------------------------------------------------------------------------------------------

#[test]
fn job_completion_stops_sidecars_in_reverse_order_each_after_the_later_one() {
    let mut pod = running_job();
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s2 15"]));
    assert_eq!(
        pod.engine.phase(),
        Phase::Running,
        "Running until the last sidecar is gone"
    );
    assert_eq!(pod.killed_by("s2", 15), s(&["finish s2 0", "signal s1 15"]));
    assert_eq!(pod.exit("s1", 143), s(&["finish s1 0"]));
    let s1 = pod.status("s1");
    assert_eq!(
        (s1.exit_code, s1.raw_exit_code),
        (Some(0), Some(143)),
        "reported 0, raw code kept"
    );
    pod.gone("app");
    pod.gone("s2");
    assert_eq!(pod.gone("s1"), s(&["pod Succeeded"]));
    assert!(pod.engine.is_finished());
}

#[test]
fn nothing_restarts_during_teardown() {
    let mut pod = running_job();
    pod.exit("app", 0);
    // s1 crashes while waiting for its turn: it is not restarted, and s2's stop goes on.
    assert_eq!(pod.exit("s1", 1), s(&["finish s1 0"]));
    assert_eq!(pod.killed_by("s2", 15), s(&["finish s2 0"]));
}

#[test]
fn pre_stop_of_every_container_starts_at_t0_and_the_signal_follows_it() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}],
        "containers": [{"name": "app", "lifecycle": {"preStop": {"exec": {"command": ["drain"]}}}}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.stop(None), s(&["prestop s", "prestop app"]));
    assert_eq!(
        pod.handler("s", HandlerKind::PreStop, true),
        s(&[]),
        "the sidecar still waits for the app"
    );
    assert_eq!(
        pod.handler("app", HandlerKind::PreStop, true),
        s(&["signal app 15"])
    );
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s 15"]));
}

#[test]
fn one_shared_grace_budget_with_a_two_second_floor() {
    let mut pod = running_job(); // grace 30 s
    pod.exit("app", 0); // t0; s2 signaled, SIGKILL at t0+30
    assert_eq!(pod.advance(secs(29)), s(&[]));
    // s2 goes at t0+29: s1 gets what is left (1 s), raised to the 2 s floor.
    assert_eq!(pod.exit("s2", 0), s(&["finish s2 0", "signal s1 15"]));
    assert_eq!(pod.advance(Duration::from_millis(1999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["kill s1"]));
}

#[test]
fn a_sidecar_ignoring_sigterm_is_killed_when_the_budget_ends_and_reports_zero() {
    let mut pod = running_job();
    pod.exit("app", 0);
    pod.killed_by("s2", 15);
    assert_eq!(pod.advance(secs(30)), s(&["kill s1"]));
    assert_eq!(pod.killed_by("s1", 9), s(&["finish s1 0"]));
    assert_eq!(pod.status("s1").raw_exit_code, Some(137));
}

#[test]
fn when_the_budget_runs_out_waiting_sidecars_stop_waiting_for_their_turn() {
    // KEP-753 termination item 5: all remaining containers get the signal and 2 s.
    let mut pod = running_job();
    pod.exit("app", 0); // s2 signaled; s1 waits for s2
    assert_eq!(pod.advance(secs(30)), s(&["kill s2", "signal s1 15"]));
    assert_eq!(pod.advance(secs(2)), s(&["kill s1"]));
}

#[test]
fn an_app_killed_by_sigkill_fails_the_pod_and_sidecars_still_stop_in_order_with_zero() {
    let mut pod = running_job();
    assert_eq!(
        pod.killed_by("app", 9),
        s(&["finish app 137", "signal s2 15"])
    );
    assert_eq!(pod.killed_by("s2", 15), s(&["finish s2 0", "signal s1 15"]));
    assert_eq!(pod.killed_by("s1", 15), s(&["finish s1 0"]));
    for c in ["app", "s2"] {
        pod.gone(c);
    }
    assert_eq!(pod.gone("s1"), s(&["pod Failed"]));
}

#[test]
fn pod_deletion_stops_apps_first_then_sidecars() {
    let mut pod = running_job();
    assert_eq!(pod.stop(Some(20)), s(&["signal app 15"]));
    assert_eq!(pod.exit("app", 143), s(&["finish app 143", "signal s2 15"]));
    assert_eq!(pod.exit("s2", 0), s(&["finish s2 0", "signal s1 15"]));
    assert_eq!(pod.advance(secs(20)), s(&["kill s1"]), "one budget from t0");
}

#[test]
fn a_second_stop_with_a_smaller_grace_shortens_the_deadline_and_a_larger_one_does_not_extend_it() {
    let mut pod = running_job();
    pod.stop(Some(60));
    pod.advance(secs(5));
    assert_eq!(pod.stop(Some(120)), s(&[]));
    assert_eq!(pod.stop(Some(10)), s(&[]));
    // At the deadline everyone left gets the signal at once (declaration order) and 2 s.
    assert_eq!(pod.advance(Duration::from_millis(9999)), s(&[]));
    assert_eq!(
        pod.advance(Duration::from_millis(1)),
        s(&["kill app", "signal s1 15", "signal s2 15"])
    );
}

#[test]
fn a_forced_stop_skips_pre_stop_and_ordering() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "s", "restartPolicy": "Always", "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.stop(Some(0)), s(&["signal s 15", "signal app 15"]));
    assert_eq!(pod.advance(secs(2)), s(&["kill s", "kill app"]));
}

#[test]
fn sidecars_that_never_started_are_ignored_in_the_ordering() {
    // kubernetes#125880: a never-started sidecar must not hold the others until the deadline.
    let mut pod = Pod::new(json!({
        "initContainers": [
            {"name": "s1", "restartPolicy": "Always"},
            {"name": "s2", "restartPolicy": "Always", "startupProbe": {"exec": {"command": ["x"]}}},
            {"name": "s3", "restartPolicy": "Always"}
        ],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s1", "s2", "s3", "app"]);
    pod.run("s1");
    pod.run("s2");
    pod.probe("s2", ProbeKind::Startup, false);
    pod.killed_by("s2", 15); // restarts at once
    pod.exit("s2", 1); // crashes again: in backoff (10 s)
    // Deleted during initialization: held s3/app end unstarted, s2 in backoff ends, s1 stops now.
    assert_eq!(
        pod.stop(None),
        s(&["finish s2 0", "finish s3 0", "finish app 1", "signal s1 15"])
    );
}

#[test]
fn a_regular_init_container_still_running_is_stopped_at_once_and_not_waited_for() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "s", "restartPolicy": "Always"}, {"name": "migrate"}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "migrate", "app"]);
    pod.run("s");
    pod.run("migrate");
    assert_eq!(
        pod.stop(None),
        s(&["finish app 1", "signal s 15", "signal migrate 15"])
    );
}

#[test]
fn eci_exit_priority_orders_sidecar_stops_higher_first_equal_together() {
    let env = |p: i32| json!([{"name": "ECI_SIDECAR_CONTAINER", "value": "true"}, {"name": "ECI_CONTAINER_EXIT_PRIORITY", "value": p.to_string()}]);
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "app"},
            {"name": "log", "env": env(-10)},
            {"name": "mesh-a", "env": env(5)},
            {"name": "mesh-b", "env": env(5)}
        ]
    }));
    pod.register_all(&["app", "log", "mesh-a", "mesh-b"]);
    for c in ["log", "mesh-a", "mesh-b", "app"] {
        pod.run(c);
    }
    assert_eq!(
        pod.exit("app", 0),
        s(&["finish app 0", "signal mesh-a 15", "signal mesh-b 15"])
    );
    assert_eq!(pod.exit("mesh-a", 0), s(&["finish mesh-a 0"]));
    assert_eq!(
        pod.exit("mesh-b", 0),
        s(&["finish mesh-b 0", "signal log 15"])
    );
}

#[test]
fn eci_ignore_exit_code_reports_zero_and_keeps_the_real_code() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [{"name": "app", "env": [{"name": "ECI_CONTAINER_IGNORE_EXIT_CODE", "value": "true"}]}]
    }));
    pod.register("app");
    pod.advance(Duration::ZERO);
    pod.run("app");
    assert_eq!(pod.exit("app", 3), s(&["finish app 0"]));
    let st = pod.status("app");
    assert_eq!((st.exit_code, st.raw_exit_code), (Some(0), Some(3)));
    assert!(st.message.contains('3'));
    assert_eq!(pod.gone("app"), s(&["pod Succeeded"]));
}

#[test]
fn stop_only_sidecars_start_with_the_apps_and_stop_after_them() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "containers": [
            {"name": "app"},
            {"name": "kruise", "env": [{"name": "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT", "value": "true"}]}
        ]
    }));
    assert_eq!(
        pod.register_all(&["app", "kruise"]),
        s(&["release app", "release kruise"])
    );
    pod.run("app");
    pod.run("kruise");
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal kruise 15"]));
}

#[test]
fn a_container_created_during_teardown_ends_without_starting() {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register("s1");
    pod.run("s1");
    pod.stop(Some(10));
    assert_eq!(pod.register("app"), s(&["finish app 1"]));
}

#[test]
fn the_pod_finishes_only_when_every_container_is_gone() {
    let mut pod = running_job();
    pod.exit("app", 0);
    pod.exit("s2", 0);
    pod.exit("s1", 0);
    assert_eq!(pod.gone("s1"), s(&[]));
    assert_eq!(pod.gone("s2"), s(&[]));
    assert_eq!(pod.gone("app"), s(&["pod Succeeded"]));
    assert_eq!(pod.gone("app"), s(&[]), "reported once");
}

#[test]
fn a_container_removed_behind_podinits_back_is_recorded_and_the_job_goes_on() {
    let mut pod = running_job();
    assert_eq!(pod.gone("app"), s(&["signal s2 15"]));
    assert_eq!(pod.status("app").raw_exit_code, Some(137));
    assert_eq!(pod.engine.phase(), Phase::Running);
}

#[test]
fn reports_about_unknown_containers_are_ignored() {
    let mut pod = running_job();
    assert_eq!(pod.exit("intruder", 0), s(&[]));
    assert_eq!(pod.started("intruder"), s(&[]));
    assert_eq!(pod.probe("intruder", ProbeKind::Liveness, false), s(&[]));
    assert_eq!(
        pod.started("app"),
        s(&[]),
        "a second start report changes nothing"
    );
    assert!(
        pod.engine
            .status()
            .timeline
            .iter()
            .any(|e| e.kind == NoteKind::Ignored)
    );
}

#[test]
fn a_running_pod_with_nothing_to_do_asks_for_no_wakeup() {
    let pod = running_job();
    assert_eq!(pod.engine.poll_timeout(), None);
}

#[test]
fn phase_comes_from_apps_only() {
    let mut pod = running_job();
    assert_eq!(pod.engine.phase(), Phase::Running);
    pod.exit("app", 0);
    pod.killed_by("s2", 9);
    pod.exit("s1", 1);
    for c in ["app", "s1", "s2"] {
        pod.gone(c);
    }
    assert_eq!(
        pod.engine.phase(),
        Phase::Succeeded,
        "sidecar codes 137 and 1 do not count"
    );
}

#[test]
fn the_timeline_is_bounded() {
    let mut pod = running_job();
    for _ in 0..(TIMELINE_MAX) {
        pod.exit("s1", 1);
        pod.advance(secs(300));
        pod.run("s1");
    }
    assert_eq!(pod.engine.status().timeline.len(), TIMELINE_MAX);
}

/// `status.json` keeps its words (the reason tokens, the timeline's `event`) and adds each
/// timeline entry's `kind`, which is what a reader by machine matches on.
#[test]
fn the_status_json_keeps_the_reason_tokens_and_gives_each_note_a_kind() {
    let mut pod = running_job();
    pod.exit("app", 0);
    let json = serde_json::to_value(pod.engine.status()).unwrap();
    let app = |key: &str| {
        json["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "app")
            .map(|c| c[key].clone())
    };
    assert_eq!(app("reason"), Some(json!("Completed")));
    let exited = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "exited" && e["container"] == "app")
        .cloned();
    assert_eq!(
        exited.map(|e| e["event"].clone()),
        Some(json!("exited with code 0"))
    );
    let registered = &json["timeline"][0];
    assert_eq!(
        (&registered["kind"], registered["event"].as_str()),
        (&json!("registered"), Some("registered as id-app"))
    );
}

#[test]
fn plans_from_a_pod_spec_cover_every_container() {
    let spec = parse_pod_spec(&job_two_sidecars().to_string()).unwrap();
    let names: Vec<String> = plans_from_pod_spec(&spec)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, s(&["s1", "s2", "app"]));
}

#[test]
fn a_pod_that_ends_before_a_declared_container_exists_waits_for_it_until_the_budget_ends() {
    // The same outcome in any creation order: created late, it ends without starting.
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "migrate"}],
        "containers": [{"name": "app"}, {"name": "late"}]
    }));
    pod.register("migrate");
    pod.run("migrate");
    assert_eq!(pod.exit("migrate", 4), s(&["finish migrate 4"]));
    assert_eq!(
        pod.gone("migrate"),
        s(&[]),
        "app and late are declared but not created yet"
    );
    assert_eq!(pod.register("app"), s(&["finish app 1"]));
    assert_eq!(pod.gone("app"), s(&[]));
    assert_eq!(
        pod.advance(secs(5)),
        s(&["pod Failed"]),
        "late never came: the budget ends the wait"
    );
    assert_eq!(pod.status("late").reason, "NeverCreated");
    assert_eq!(pod.status("app").reason, "NeverStarted");
}

// ---------------------------------------------------------------------------------------------
// Stops from the runtime (agent_stop.rs)
// ---------------------------------------------------------------------------------------------

const WINDOW: Duration = Duration::from_secs(1);

/// A kubelet deletes a pod with StopContainer on every container at once: whatever order the
/// stops arrive in, the apps get their signal first, the sidecars after every app exited, in
/// reverse order, and the sidecars report 0.
#[rstest]
#[case::sidecars_first(&["s1", "s2", "app"])]
#[case::app_first(&["app", "s1", "s2"])]
#[case::mixed(&["s2", "app", "s1"])]
fn a_runtime_stopping_every_container_is_a_deletion_in_teardown_order(#[case] order: &[&str]) {
    let mut pod = running_job();
    let signals: Vec<String> = order.iter().flat_map(|c| pod.agent_stop(c)).collect();
    assert_eq!(
        signals,
        s(&["signal app 15"]),
        "only the app, whatever the order"
    );
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s2 15"]));
    assert_eq!(pod.exit("s2", 143), s(&["finish s2 0", "signal s1 15"]));
    assert_eq!(pod.exit("s1", 143), s(&["finish s1 0"]));
    for c in ["app", "s2"] {
        pod.gone(c);
    }
    assert_eq!(pod.gone("s1"), s(&["pod Succeeded"]));
    assert_eq!(pod.status("s1").raw_exit_code, Some(143));
    assert_eq!(pod.engine.status().reason, "Deleted");
}

#[test]
fn a_deletion_by_the_runtime_keeps_one_budget_from_the_first_stop() {
    let mut pod = running_job();
    assert_eq!(pod.agent_stop("app"), s(&["signal app 15"]));
    pod.advance(Duration::from_millis(500));
    pod.agent_stop("s2");
    pod.agent_stop("s1");
    // The app ignores SIGTERM: the budget is 30 s from its stop, not from the last one; then
    // the app is killed and the sidecars stop waiting for their turn.
    assert_eq!(
        pod.advance(Duration::from_millis(29_499)),
        s(&[]),
        "nothing before the budget ends"
    );
    assert_eq!(
        pod.advance(Duration::from_millis(1)),
        s(&["kill app", "signal s1 15", "signal s2 15"])
    );
}

/// An in-place upgrade of a sidecar under a running app: stop, delete, create the same name.
#[test]
fn a_sidecar_stopped_alone_by_the_runtime_stops_after_the_window_and_is_replaced_not_restarted() {
    let mut pod = running_job();
    assert_eq!(
        pod.agent_stop("s2"),
        s(&[]),
        "waits: the pod may be being deleted"
    );
    assert_eq!(
        pod.advance(WINDOW - Duration::from_millis(1)),
        s(&[]),
        "within the window"
    );
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["signal s2 15"]));
    assert_eq!(
        pod.exit("s2", 143),
        s(&["finish s2 143"]),
        "no restart, its own code"
    );
    assert_eq!(pod.status("s2").reason, "Error");
    assert_eq!(pod.gone("s2"), s(&[]), "the app is not touched");
    assert_eq!(pod.status("app").state, ContainerState::Running);
    assert_eq!(pod.register_as("s2", "id-s2-new"), s(&["release s2"]));
    assert_eq!(pod.status("s2").restart_count, 1, "the next incarnation");
    pod.run("s2");
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s2 15"]));
}

/// A driver woken long after the window of a sidecar's stop (past the grace the stop has):
/// its preStop starts with its time already over, so the signal goes in the same timeout, and
/// no deadline is left in the past (`timeout_at` checks).
#[test]
fn a_late_wakeup_after_a_sidecars_window_sends_its_pre_stop_and_signal_at_once() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always",
                            "lifecycle": {"preStop": {"exec": {"command": ["true"]}}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(pod.agent_stop("s"), s(&[]), "waits for the window");
    assert_eq!(pod.timeout_at(secs(40)), s(&["prestop s", "signal s 15"]));
}

#[test]
fn an_app_stopped_alone_by_the_runtime_runs_pre_stop_first_and_does_not_complete_the_job() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always"}],
        "containers": [
            {"name": "app", "lifecycle": {"preStop": {"exec": {"command": ["true"]}}}},
            {"name": "other"}
        ]
    }));
    pod.register_all(&["s", "app", "other"]);
    pod.run("s");
    pod.run("app");
    pod.run("other");
    assert_eq!(pod.agent_stop("app"), s(&["prestop app"]));
    assert_eq!(
        pod.handler("app", HandlerKind::PreStop, true),
        s(&["signal app 15"])
    );
    assert_eq!(
        pod.exit("app", 143),
        s(&["finish app 143"]),
        "never restarted"
    );
    assert_eq!(pod.exit("other", 0), s(&["finish other 0"]));
    assert_eq!(
        pod.advance(secs(60)),
        s(&[]),
        "no Job completion from an app the runtime stopped: the agent replaces or deletes"
    );
    assert_eq!(
        pod.agent_stop("s"),
        s(&["signal s 15"]),
        "the last one: deletion"
    );
    assert_eq!(pod.exit("s", 143), s(&["finish s 0"]));
}

#[test]
fn a_container_held_at_the_gate_stopped_by_the_runtime_ends_without_starting() {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["app", "s1"]);
    pod.run("s1");
    assert_eq!(pod.agent_stop("app"), s(&["finish app 1"]));
    assert_eq!(pod.status("app").reason, "NeverStarted");
}

#[test]
fn the_runtimes_sigkill_after_its_timeout_is_recorded_as_137() {
    let mut pod = running_job();
    pod.agent_stop("s2");
    pod.advance(WINDOW);
    // The runtime's timeout ends before the sidecar exits: SIGKILL kills its init.
    assert_eq!(pod.gone("s2"), s(&[]));
    assert_eq!(pod.status("s2").raw_exit_code, Some(137));
    assert_eq!(pod.status("s2").state, ContainerState::Terminated);
}

/// A restarted supervisor signals a not-yet-reconnected init with a real signal; the init,
/// connected by the time it arrives, reports it as the runtime's. The stop is sent again over
/// the link, or the container would wait for SIGKILL (seen in s12b under load).
#[test]
fn podinits_own_stop_coming_back_as_a_runtime_stop_is_sent_again() {
    let mut pod = running_job();
    pod.exit("app", 0);
    assert_eq!(pod.status("s2").state, ContainerState::Running);
    assert_eq!(pod.agent_stop("s2"), s(&["signal s2 15"]), "said again");
    assert_eq!(pod.exit("s2", 143), s(&["finish s2 0", "signal s1 15"]));
    // Not yet signalled: a runtime stop of s1 now is the runtime's, not ours coming back.
    let mut pod = running_job();
    assert_eq!(pod.agent_stop("s1"), s(&[]));
}

/// The bounce of a stop for restart (failed liveness) says the stop again and still restarts.
#[test]
fn podinits_stop_for_restart_coming_back_still_restarts() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "livenessProbe": {"exec": {"command": ["true"]}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(
        pod.probe("s", ProbeKind::Liveness, false),
        s(&["unprobe s but readiness", "signal s 15"])
    );
    assert_eq!(pod.agent_stop("s"), s(&["signal s 15"]));
    assert_eq!(pod.exit("s", 143), s(&["restart s"]));
}

#[test]
fn a_repeated_runtime_stop_is_passed_on_again() {
    let mut pod = running_job();
    assert_eq!(pod.agent_stop("app"), s(&["signal app 15"]));
    assert_eq!(
        pod.agent_stop("app"),
        s(&["signal app 15"]),
        "said again: it may be ours"
    );
    assert_eq!(
        pod.agent_stop("intruder"),
        s(&[]),
        "unknown containers are ignored"
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions (issue 15)
// ---------------------------------------------------------------------------------------------

/// Finding 1: a declared container never created and the teardown deadline passed while a
/// killed container still runs: the deadline must not be handed out again.
#[test]
fn a_passed_teardown_deadline_is_not_a_deadline_any_more() {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register("s1");
    pod.run("s1");
    assert_eq!(pod.stop(Some(10)), s(&["signal s1 15"]));
    assert_eq!(pod.timeout_at(secs(10)), s(&["kill s1"]));
    // s1's init has not reported its death yet; s2 and the app were never created.
    assert_eq!(pod.timeout_at(Duration::from_millis(1)), s(&[]));
}

/// Finding 2: the kill deadline of a container the runtime removed must not wake the loop.
#[test]
fn a_kill_deadline_of_a_removed_container_is_dropped() {
    let mut pod = running_job();
    pod.stop(Some(10));
    assert_eq!(pod.gone("app"), s(&["signal s2 15"]));
    // s2 is removed by the runtime before its exit is reported; s1 ignores its SIGTERM.
    assert_eq!(pod.gone("s2"), s(&["signal s1 15"]));
    assert_eq!(pod.timeout_at(secs(10)), s(&["kill s1"]));
}

/// Finding 6: a sidecar restarted in place whose postStart fails during teardown is not
/// stopped before the apps exited.
#[test]
fn a_post_start_failure_in_teardown_does_not_stop_a_sidecar_early() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "lifecycle": {"postStart": {"exec": {"command": ["true"]}}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.handler("s", HandlerKind::PostStart, true);
    pod.run("app");
    assert_eq!(pod.exit("s", 1), s(&["restart s"]));
    assert_eq!(pod.run("s"), s(&["poststart s"]));
    assert_eq!(pod.stop(Some(30)), s(&["signal app 15"]));
    assert_eq!(
        pod.handler("s", HandlerKind::PostStart, false),
        s(&[]),
        "the app still runs: the sidecar waits"
    );
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s 15"]));
}

/// Finding 7: a stop with an absurd grace neither overflows the clock nor extends the budget.
#[test]
fn an_absurd_grace_is_bounded() {
    let mut pod = running_job();
    let out = pod.ev(Event::StopRequested {
        grace: Some(Duration::from_secs(u64::MAX)),
    });
    assert_eq!(out, s(&["signal app 15"]));
    let again = pod.ev(Event::StopRequested {
        grace: Some(Duration::MAX),
    });
    assert_eq!(again, s(&[]));
    assert!(
        pod.engine
            .poll_timeout()
            .is_some_and(|t| t <= pod.now + MAX_GRACE)
    );
}

// ---------------------------------------------------------------------------------------------
// The kubelet's order and hooks (issue 11, deliverable 1)
// ---------------------------------------------------------------------------------------------

/// A sidecar with a preStop and a probe `probe` that fails: preStop runs before the stop
/// signal, as on every kill the kubelet makes (`killContainer`).
fn sidecar_with_pre_stop(probe: &str) -> Pod {
    let mut side = json!({"name": "s", "restartPolicy": "Always",
        "lifecycle": {"preStop": {"exec": {"command": ["flush"]}}}});
    side[probe] = json!({"exec": {"command": ["check"]}, "terminationGracePeriodSeconds": 5});
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 30,
        "initContainers": [side],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod
}

#[rstest]
#[case::liveness("livenessProbe", ProbeKind::Liveness)]
#[case::startup("startupProbe", ProbeKind::Startup)]
fn a_probe_kill_runs_pre_stop_first(#[case] field: &str, #[case] kind: ProbeKind) {
    let mut pod = sidecar_with_pre_stop(field);
    if kind == ProbeKind::Liveness {
        pod.run("app");
    }
    assert_eq!(
        pod.probe("s", kind, false),
        s(&["unprobe s but readiness", "prestop s"])
    );
    assert_eq!(
        pod.handler("s", HandlerKind::PreStop, true),
        s(&["signal s 15"])
    );
    assert_eq!(pod.exit("s", 143), s(&["restart s"]));
    // The restarted process gets its own preStop when it is killed again.
    pod.run("s");
    assert_eq!(
        pod.probe("s", kind, false),
        s(&["unprobe s but readiness", "prestop s"])
    );
}

#[test]
fn a_pre_stop_that_hangs_gets_the_probes_grace_then_the_signal_and_two_seconds() {
    let mut pod = sidecar_with_pre_stop("livenessProbe");
    pod.run("app");
    pod.probe("s", ProbeKind::Liveness, false);
    assert_eq!(pod.advance(Duration::from_millis(4999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["signal s 15"]));
    assert_eq!(
        pod.advance(secs(2)),
        s(&["kill s"]),
        "at least 2 s after the signal"
    );
}

#[test]
fn a_failed_post_start_kill_runs_pre_stop_first() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "s", "restartPolicy": "Always", "lifecycle": {
            "postStart": {"exec": {"command": ["setup"]}},
            "preStop": {"exec": {"command": ["flush"]}}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    assert_eq!(pod.run("s"), s(&["poststart s"]));
    assert_eq!(
        pod.handler("s", HandlerKind::PostStart, false),
        s(&["prestop s"])
    );
    assert_eq!(
        pod.handler("s", HandlerKind::PreStop, true),
        s(&["signal s 15"])
    );
}

/// Regular containers start in declaration order, each after the previous one's postStart
/// returned (kubelet `startContainer`), whatever order they are created in.
#[rstest]
#[case::declaration_order(&["a1", "a2", "a3"])]
#[case::reverse(&["a3", "a2", "a1"])]
fn apps_start_one_by_one_after_each_post_start(#[case] order: &[&str]) {
    let post_start = json!({"postStart": {"exec": {"command": ["warm-up"]}}});
    let mut pod = Pod::new(json!({
        "containers": [
            {"name": "a1", "lifecycle": post_start},
            {"name": "a2", "lifecycle": post_start},
            {"name": "a3"}
        ]
    }));
    let released: Vec<String> = order.iter().flat_map(|c| pod.register(c)).collect();
    assert_eq!(released, s(&["release a1"]), "a2 waits for a1's postStart");
    assert_eq!(pod.run("a1"), s(&["poststart a1"]));
    assert_eq!(
        pod.handler("a1", HandlerKind::PostStart, true),
        s(&["release a2"])
    );
    assert_eq!(pod.run("a2"), s(&["poststart a2"]));
    // A failed postStart returns too: the next one starts, the failed one is killed.
    assert_eq!(
        pod.handler("a2", HandlerKind::PostStart, false),
        s(&["release a3", "signal a2 15"])
    );
}

#[test]
fn apps_without_post_start_do_not_wait_for_each_other() {
    let mut pod = Pod::new(json!({"containers": [{"name": "a1"}, {"name": "a2"}]}));
    assert_eq!(pod.register("a2"), s(&["release a2"]));
    assert_eq!(pod.register("a1"), s(&["release a1"]));
}

// ---------------------------------------------------------------------------------------------
// activeDeadlineSeconds (issue 11, deliverable 4)
// ---------------------------------------------------------------------------------------------

/// A Job past its `activeDeadlineSeconds` (counted from the first registration) is torn down
/// with grace in the usual order and fails with `DeadlineExceeded`, whatever its apps exit with.
#[test]
fn a_pod_past_its_active_deadline_fails_with_deadline_exceeded() {
    let mut spec = job_two_sidecars();
    spec["activeDeadlineSeconds"] = json!(5);
    let mut pod = Pod::new(spec);
    pod.advance(secs(1));
    pod.register_all(&["app", "s2", "s1"]);
    pod.run("s1");
    pod.run("s2");
    pod.run("app");
    // Registered at 1 s: the deadline is at 6 s.
    assert_eq!(pod.advance(Duration::from_millis(4999)), s(&[]));
    assert_eq!(pod.advance(Duration::from_millis(1)), s(&["signal app 15"]));
    assert_eq!(pod.engine.status().reason, "DeadlineExceeded");
    assert_eq!(pod.exit("app", 0), s(&["finish app 0", "signal s2 15"]));
    assert_eq!(pod.exit("s2", 0), s(&["finish s2 0", "signal s1 15"]));
    pod.exit("s1", 0);
    for c in ["app", "s2"] {
        pod.gone(c);
    }
    assert_eq!(
        pod.gone("s1"),
        s(&["pod Failed"]),
        "Failed though the app exited 0"
    );
}

#[test]
fn a_pod_that_finishes_in_time_ignores_its_deadline() {
    let mut spec = job_two_sidecars();
    spec["activeDeadlineSeconds"] = json!(60);
    let mut pod = Pod::new(spec);
    pod.register_all(&["app", "s2", "s1"]);
    pod.run("s1");
    pod.run("s2");
    pod.run("app");
    pod.exit("app", 0);
    pod.advance(secs(120));
    assert_eq!(
        pod.engine.status().reason,
        "JobComplete",
        "the deadline changed nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Pod conditions (issue 11, deliverable 2)
// ---------------------------------------------------------------------------------------------

fn conditions(pod: &Pod) -> Vec<(String, &'static str)> {
    pod.engine
        .status()
        .conditions
        .iter()
        .map(|c| (c.kind.to_owned(), c.status))
        .collect()
}

fn condition(pod: &Pod, kind: &str) -> PodCondition {
    pod.engine
        .status()
        .conditions
        .into_iter()
        .find(|c| c.kind == kind)
        .expect("condition")
}

#[test]
fn conditions_follow_a_job_as_the_kubelet_computes_them() {
    let mut pod = Pod::new(job_two_sidecars());
    pod.register_all(&["app", "s2", "s1"]);
    let want = |v: [&'static str; 4]| -> Vec<(String, &'static str)> {
        CONDITION_TYPES
            .iter()
            .map(|k| k.to_string())
            .zip(v)
            .collect()
    };
    assert_eq!(conditions(&pod), want(["True", "False", "False", "False"]));
    pod.advance(secs(1));
    pod.run("s1");
    pod.run("s2");
    assert_eq!(conditions(&pod), want(["True", "True", "False", "False"]));
    assert_eq!(condition(&pod, "Initialized").last_transition_time, secs(1));
    pod.advance(secs(1));
    pod.run("app");
    assert_eq!(conditions(&pod), want(["True", "True", "True", "True"]));
    assert_eq!(condition(&pod, "Ready").last_transition_time, secs(2));
    assert_eq!(
        condition(&pod, "Initialized").last_transition_time,
        secs(1),
        "unchanged: no transition"
    );
    pod.advance(secs(1));
    pod.exit("app", 0);
    assert_eq!(conditions(&pod), want(["True", "True", "False", "False"]));
    assert_eq!(condition(&pod, "Ready").reason, "ContainersNotReady");
    pod.exit("s2", 0);
    pod.exit("s1", 0);
    for c in ["app", "s2", "s1"] {
        pod.gone(c);
    }
    assert_eq!(conditions(&pod), want(["False", "True", "False", "False"]));
    assert_eq!(condition(&pod, "Ready").reason, "PodCompleted");
}

#[test]
fn a_sidecar_with_ignore_ready_does_not_hold_the_pods_readiness() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "env": [{"name": "__IGNORE_READY__", "value": "true"}],
            "readinessProbe": {"exec": {"command": ["ready"]}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    assert_eq!(
        pod.run("app"),
        s(&[]),
        "sidecar readiness never gates the app"
    );
    assert_eq!(condition(&pod, "ContainersReady").status, "True");
    assert!(!pod.status("s").ready);
}

#[test]
fn a_not_ready_sidecar_holds_the_pods_readiness() {
    let mut pod = Pod::new(json!({
        "initContainers": [{"name": "s", "restartPolicy": "Always",
            "readinessProbe": {"exec": {"command": ["ready"]}}}],
        "containers": [{"name": "app"}]
    }));
    pod.register_all(&["s", "app"]);
    pod.run("s");
    pod.run("app");
    assert_eq!(condition(&pod, "Initialized").status, "True");
    assert_eq!(condition(&pod, "ContainersReady").status, "False");
    pod.probe("s", ProbeKind::Readiness, true);
    assert_eq!(condition(&pod, "Ready").status, "True");
}

// ---------------------------------------------------------------------------------------------
// Exit reasons and termination messages (issue 11 item 4)
// ---------------------------------------------------------------------------------------------

fn one_app(restart: &str) -> Pod {
    let mut pod = Pod::new(json!({"restartPolicy": restart, "containers": [{"name": "app"}]}));
    pod.register("app");
    pod.run("app");
    pod
}

fn exit_with(pod: &mut Pod, name: &str, status: ExitStatus, oom: bool, message: Option<&str>) {
    pod.ev(Event::ProcessExited {
        name: name.into(),
        status,
        details: ExitDetails {
            oom_killed: oom,
            message: message.map(str::to_owned),
        },
    });
}

/// The kubelet's `terminated.reason` and `message` for a container that ended for good.
#[rstest]
#[case::oom_killed(ExitStatus::Signal(9), true, None, "OOMKilled", "")]
#[case::sigkill_without_oom(ExitStatus::Signal(9), false, None, "Error", "")]
#[case::oom_of_a_child_then_success(ExitStatus::Code(0), true, None, "Completed", "")]
#[case::message_on_success(ExitStatus::Code(0), false, Some("done\n"), "Completed", "done\n")]
#[case::message_on_error(
    ExitStatus::Code(2),
    false,
    Some("bad config\n"),
    "Error",
    "bad config\n"
)]
#[case::oom_with_message(ExitStatus::Signal(9), true, Some("alloc\n"), "OOMKilled", "alloc\n")]
#[case::empty_message_is_none(ExitStatus::Code(1), false, Some(""), "Error", "")]
fn an_exit_reports_its_reason_and_message(
    #[case] status: ExitStatus,
    #[case] oom: bool,
    #[case] message: Option<&str>,
    #[case] reason: &str,
    #[case] expected_message: &str,
) {
    let mut pod = one_app("Never");
    exit_with(&mut pod, "app", status, oom, message);
    let st = pod.status("app");
    assert_eq!(st.state, ContainerState::Terminated);
    assert_eq!(st.reason, reason);
    assert_eq!(st.message, expected_message);
    assert_eq!(st.exit_code, Some(status.raw_code()));
    let noted = pod
        .engine
        .status()
        .timeline
        .iter()
        .any(|e| e.event.contains("OOMKilled"));
    assert_eq!(noted, reason == "OOMKilled", "timeline names the OOM kill");
}

/// A restarted container keeps its last run's reason and message for `lastState`; the next run
/// that ends cleanly is not OOMKilled because an earlier one was.
#[test]
fn a_restart_keeps_the_last_runs_reason_and_message() {
    let mut pod = one_app("Always");
    let out = pod.ev(Event::ProcessExited {
        name: "app".into(),
        status: ExitStatus::Signal(9),
        details: ExitDetails {
            oom_killed: true,
            message: Some("alloc\n".into()),
        },
    });
    assert_eq!(out, s(&["restart app"]), "the first restart is immediate");
    pod.run("app");
    let st = pod.status("app");
    assert_eq!(st.state, ContainerState::Running);
    assert_eq!(st.reason, "Running");
    assert_eq!(st.last_reason, Some(TerminationReason::OomKilled));
    assert_eq!(st.last_message.as_deref(), Some("alloc\n"));
    pod.stop(Some(5));
    exit_with(&mut pod, "app", ExitStatus::Code(0), false, None);
    let st = pod.status("app");
    assert_eq!(st.reason, "Completed");
    assert_eq!(st.last_reason, Some(TerminationReason::Completed));
    assert_eq!(st.last_message, None);
    assert_eq!(st.message, "");
}

/// The engine holds a message to the kubelet's 4 KiB, whoever sent it.
#[test]
fn a_long_message_is_capped_to_its_last_4_kib() {
    let mut pod = one_app("Never");
    let long = format!("{}tail", "x".repeat(10_000));
    exit_with(&mut pod, "app", ExitStatus::Code(1), false, Some(&long));
    let st = pod.status("app");
    assert_eq!(st.message.len(), MAX_TERMINATION_MESSAGE);
    assert!(st.message.ends_with("tail"));
}

/// What a container's leftover processes get at its end (`Action::Finish::leftover_grace`):
/// the rest of the stop's grace, or the minimum stop window for an app that ended by itself.
#[rstest]
#[case::ended_by_itself(None, 0, secs(2))]
#[case::stopped_with_grace_left(Some(30), 5, secs(25))]
#[case::stopped_at_the_deadline(Some(10), 10, Duration::ZERO)]
fn leftovers_get_the_rest_of_the_grace(
    #[case] stop_grace: Option<u64>,
    #[case] exits_after: u64,
    #[case] expected: Duration,
) {
    let mut pod = one_app("Never");
    if let Some(g) = stop_grace {
        assert_eq!(pod.stop(Some(g)), s(&["signal app 15"]));
    }
    pod.now += secs(exits_after);
    let actions = pod.engine.handle_event(
        pod.now,
        Event::ProcessExited {
            name: "app".into(),
            status: ExitStatus::Code(0),
            details: ExitDetails::default(),
        },
    );
    let grace = actions.iter().find_map(|a| match a {
        Action::Finish { leftover_grace, .. } => Some(*leftover_grace),
        _ => None,
    });
    assert_eq!(grace, Some(expected), "{actions:?}");
}

// ---------------------------------------------------------------------------------------------
// Probes while a container stops (kubelet prober `worker.doProbe`; e2e L27, P22, P23)
// ---------------------------------------------------------------------------------------------

/// An app with a readiness and a liveness probe and a preStop, started and ready.
fn probed_app() -> Pod {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "containers": [{"name": "app",
            "readinessProbe": {"exec": {"command": ["ready"]}},
            "livenessProbe": {"exec": {"command": ["alive"]}},
            "lifecycle": {"preStop": {"exec": {"command": ["drain"]}}}}]
    }));
    pod.register("app");
    assert_eq!(pod.run("app"), s(&["probes app"]));
    pod.probe("app", ProbeKind::Readiness, true);
    assert!(pod.status("app").ready);
    assert_eq!(condition(&pod, "Ready").status, "True");
    pod
}

/// However a stop begins, startup and liveness stop and readiness goes on: a container whose
/// readiness probe fails during its preStop turns unready, and the pod with it, before it exits.
#[rstest]
#[case::pod_deleted("deleted")]
#[case::liveness_kill("liveness")]
fn a_stopping_container_is_still_probed_for_readiness(#[case] how: &str) {
    let mut pod = probed_app();
    let began = match how {
        "deleted" => pod.stop(None),
        _ => pod.probe("app", ProbeKind::Liveness, false),
    };
    assert_eq!(began, s(&["unprobe app but readiness", "prestop app"]));
    assert_eq!(
        pod.probe("app", ProbeKind::Readiness, false),
        s(&[]),
        "a readiness result changes no action"
    );
    assert!(!pod.status("app").ready, "unready while its preStop runs");
    assert_eq!(condition(&pod, "Ready").status, "False");
    assert_eq!(condition(&pod, "ContainersReady").status, "False");
}

#[test]
fn a_liveness_failure_while_the_pod_is_deleted_changes_nothing() {
    let mut pod = probed_app();
    pod.stop(None);
    assert_eq!(pod.probe("app", ProbeKind::Liveness, false), s(&[]));
    assert_eq!(
        pod.handler("app", HandlerKind::PreStop, true),
        s(&["signal app 15"]),
        "the deletion goes on, not a restart"
    );
    assert_eq!(pod.status("app").restart_count, 0);
}

#[test]
fn once_the_process_is_gone_every_probe_stops_and_results_are_late() {
    let mut pod = probed_app();
    pod.stop(None);
    pod.handler("app", HandlerKind::PreStop, true);
    pod.killed_by("app", 15);
    assert_eq!(pod.probe("app", ProbeKind::Readiness, true), s(&[]));
    assert!(
        !pod.status("app").ready,
        "a late result from a gone process"
    );
}

// ---------------------------------------------------------------------------------------------
// The teardown cause handed to the containers (issue 11 item 6, `teardown_report.rs`)
// ---------------------------------------------------------------------------------------------

/// `name: file text` for every Teardown action among `actions`.
fn told(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Teardown { name, report } => {
                Some(format!("{name}: {}", report.file_text().replace('\n', " ")))
            }
            _ => None,
        })
        .collect()
}

impl Pod {
    /// Like `ev`, keeping the actions whole.
    fn raw(&mut self, e: Event) -> Vec<Action> {
        self.engine.handle_event(self.now, e)
    }
}

fn exited(name: &str, code: i32) -> Event {
    Event::ProcessExited {
        name: name.into(),
        status: ExitStatus::Code(code),
        details: ExitDetails::default(),
    }
}

/// Each container is told before its preStop (at its first teardown step) and again with its
/// stop signal, when the apps' codes are in; the cause says how the pod ends.
#[rstest]
#[case::job_complete(0, "JobComplete", "app=0")]
#[case::app_failed(3, "AppFailed", "app=3")]
fn a_job_s_end_is_told_with_its_cause_and_the_app_codes(
    #[case] code: i32,
    #[case] cause: &str,
    #[case] codes: &str,
) {
    let mut pod = running_job();
    let actions = pod.raw(exited("app", code));
    let line = |who: &str| {
        format!("{who}: PODINIT_TEARDOWN_CAUSE={cause} PODINIT_APP_EXIT_CODES={codes} ")
    };
    // s2 stops first (reverse order): told at t0 and with its signal; s1 at t0 only so far.
    assert_eq!(told(&actions), [line("s1"), line("s2"), line("s2")]);
    let actions = pod.raw(exited("s2", 0));
    assert_eq!(told(&actions), [line("s1")], "s1 with its stop signal");
}

#[test]
fn a_deletion_is_told_with_the_apps_still_running() {
    let mut pod = running_job();
    let actions = pod.raw(Event::StopRequested { grace: None });
    let t = told(&actions);
    assert!(
        t.contains(&"app: PODINIT_TEARDOWN_CAUSE=Deleted PODINIT_APP_EXIT_CODES=app=- ".into()),
        "{t:?}"
    );
    // The sidecars hear it again once the app exited, with its code.
    let actions = pod.raw(exited("app", 143));
    assert_eq!(
        told(&actions),
        ["s2: PODINIT_TEARDOWN_CAUSE=Deleted PODINIT_APP_EXIT_CODES=app=143 "]
    );
}

#[test]
fn a_deadline_is_told_as_deadline_exceeded() {
    let mut pod = Pod::new(json!({
        "restartPolicy": "Never", "activeDeadlineSeconds": 5,
        "containers": [{"name": "app"}]
    }));
    pod.register("app");
    pod.run("app");
    pod.now += secs(5);
    let actions = pod.engine.handle_timeout(pod.now);
    assert_eq!(
        told(&actions),
        [
            "app: PODINIT_TEARDOWN_CAUSE=DeadlineExceeded PODINIT_APP_EXIT_CODES=app=- ",
            "app: PODINIT_TEARDOWN_CAUSE=DeadlineExceeded PODINIT_APP_EXIT_CODES=app=- "
        ],
        "at its first step and with its signal (no preStop: both at once)"
    );
}

mod grace;
mod operator_ops;
mod regate;
// KEP-5307 container restart rules: `tests/restart_rules.rs`.
mod restart_rules;

// The start-wait deadline and what the status says holds a container: `tests/start_wait.rs`.
mod start_wait;
