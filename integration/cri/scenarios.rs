//! podinit under containerd 1.6 through CRI v1, deployed exactly as `oci-hooks/containerd/`
//! ships it (issue 9, deliverable 5). Each test starts its own containerd (see `cri/`), with
//! the `podinit` runtime handler whose BinaryName is the `podinit-runc` front script, and its own
//! `podinit supervise`; pods are declared as a kubelet or a virtual kubelet declares them. That
//! handler takes inject's default: no OCI hook in a bundle whose container has a pid namespace
//! of its own (every container here), its init claims the registration (issue 13).
//!
//! Every scenario asserts on (a) the containers' own timeline (what really started and got
//! signals, in which order), (b) the exit codes CRI's ContainerStatus reports, and (c) podinit's
//! status of the pod (`podinit status --json --pod SANDBOX_ID`). Containers are created in
//! adversarial orders (the app created and started before its sidecar). A failure lists every
//! broken expectation, then the timeline, CRI's statuses, podinit's status, the container logs
//! and the tails of the supervisor's and containerd's logs.
//!
//! Timing trick (as in the pod scenarios, `pods/`): an app logs `exiting` and then sleeps 300 ms before
//! it exits, so a sidecar's `got TERM` at least 300 ms after the app's `exiting` came after the
//! app's exit. No assertion is about speed: timeouts only bound a broken run.
//!
//! | test | what |
//! |---|---|
//! | seed_job | the ACS document's Job: native sidecar + app, `command:` set, restartPolicy Never; spec order and app first |
//! | seed_job_on_the_hookless_front | the seed Job on a second handler, the multi-call symlink front with `PODINIT_NO_HOOKS=1` in its podinit.conf: no hook in any bundle, the inits claim |
//! | is_sidecar_job | the same Job with `__IS_SIDECAR__` on a container declared after the app, no pod spec, restart policy and container set as annotations |
//! | two_jobs_at_once | two Job pods with the same container names on one supervisor, containers interleaved |
//! | three_jobs_in_a_row | three Job pods one after another on one supervisor |
//! | kubelet_deletes_long_running_pod | StopContainer on every container at once: the app's TERM first, nothing restarts, codes 0; on a front with `PODINIT_HOOKS=1` (podinit's OCI hooks in every bundle) and on the hookless front |
//! | supervisor_killed_between_pods | the supervisor SIGKILLed and restarted between two Job pods |
//! | sidecar_replaced_in_place | stop, remove and re-create the sidecar with a new command under a running app |
//!
//! Needs root, containerd (Debian `containerd`), runc and busybox-static; fails (never skips)
//! when one is missing. `PODINIT_CRI_KEEP=1` keeps each test's directory.

// The pod harness's timeline (`tlog`, parsing, ordering) and busybox rootfs; not its agent.
use crate::pod;
use crate::support;

use crate::cri;

use std::collections::BTreeMap;
use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};

use cri::image::BUSYBOX_IMAGE;
use cri::{Checks, CriEnv, Ctr, Pod};
use pod::{TimelineEntry, order_of, waiting_probe};

/// Bound on a pod's run to completion (a broken teardown waits out the 10 s grace).
const POD_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on one container's start (the gate, the probe).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// StopContainer's timeout, as a kubelet passes the pod's grace period.
const STOP_TIMEOUT_S: i64 = 10;

/// The sidecars' readiness file, for `waiting_probe`: in `/tmp`, the container's own rootfs
/// (under CRI `/dev/shm` is the sandbox's, shared by the pod's containers).
const READY: &str = "/tmp/ready";

/// A sidecar: logs `<started>`, makes `/tmp/ready`, runs until SIGTERM, logs `got TERM`, exits 0.
fn sidecar(started: &str) -> Ctr {
    Ctr::new(
        "sidecar",
        &format!(
            "trap 'tlog got TERM; exit 0' TERM\n\
             tlog {started}; touch {READY}\n\
             while :; do sleep 1 & wait $!; done"
        ),
    )
}

/// A Job's app: logs `started`, works 0.5 s, logs `exiting`, exits 0 300 ms later.
fn job_app() -> Ctr {
    Ctr::new(
        "app",
        "tlog started; sleep 0.5\ntlog exiting; sleep 0.3; exit 0",
    )
}

/// A long-running app: on SIGTERM logs `got TERM` and `exiting`, exits 0 300 ms later.
fn service_app() -> Ctr {
    Ctr::new(
        "app",
        "trap 'tlog got TERM; tlog exiting; sleep 0.3; exit 0' TERM\n\
         tlog started\n\
         while :; do sleep 1 & wait $!; done",
    )
}

/// A PodSpec entry as the agent has it: name, image, the Kubernetes `command`, and `extra`.
fn k8s(c: &Ctr, extra: Value) -> Value {
    let mut v = json!({"name": c.name, "image": BUSYBOX_IMAGE, "command": c.command()});
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// The pod annotations of a native-sidecar pod: `io.podinit.pod-spec`, the PodSpec JSON.
fn native_spec(restart_policy: &str, sidecar: &Ctr, app: &Ctr) -> String {
    json!({
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": STOP_TIMEOUT_S,
        "initContainers": [k8s(sidecar, json!({
            "restartPolicy": "Always",
            "startupProbe": waiting_probe(READY),
        }))],
        "containers": [k8s(app, json!({}))],
    })
    .to_string()
}

#[derive(Clone, Copy, Debug)]
enum Order {
    /// Declaration order.
    Spec,
    /// The app created and started first; the sidecar 0.5 s later (long enough for an
    /// ungated app to have run).
    AppFirst,
}

/// The ACS document's Job with a native sidecar, as a sandbox.
fn run_native_job<'e>(env: &'e CriEnv, name: &str) -> Pod<'e> {
    let spec = native_spec("Never", &sidecar("started"), &job_app());
    env.run_pod(name, &[("io.podinit.pod-spec", &spec)])
}

/// Creates and starts `sidecar` and `app` in `order` (both StartContainer calls must return:
/// holding a container never blocks the runtime); a failed start is a failed check.
fn create_in_order(ch: &mut Checks, p: &mut Pod<'_>, order: Order, sidecar: &Ctr, app: &Ctr) {
    let first_app = matches!(order, Order::AppFirst);
    let (first, second) = if first_app {
        (app, sidecar)
    } else {
        (sidecar, app)
    };
    start_checked(ch, p, first);
    if first_app {
        std::thread::sleep(Duration::from_millis(500));
    }
    start_checked(ch, p, second);
}

fn start_checked(ch: &mut Checks, p: &mut Pod<'_>, c: &Ctr) {
    if let Err(e) = p.create_start(c) {
        ch.fail(format!("pod {}: {e}", p.name));
    }
}

/// Polls `podinit status --json --pod` until the phase is final (the supervisor may lag the
/// exit CRI saw by a loop iteration); the last answer. A failing command is final: the status
/// must answer at any time, also once the pod or the supervisor is gone.
fn final_status(env: &CriEnv, sandbox_id: &str) -> Result<Value, String> {
    let mut last = Err("never asked".to_owned());
    support::eventually(Duration::from_secs(10), || {
        last = env.pod_status(sandbox_id);
        match &last {
            Ok(s) => matches!(s["phase"].as_str(), Some("Succeeded" | "Failed")),
            Err(_) => true,
        }
    });
    last
}

/// The `containers[]` entry named `name` of a podinit status document.
fn status_of<'v>(status: &'v Value, name: &str) -> Option<&'v Value> {
    status["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// Checks podinit's status of `p`: exactly the pod's containers (`ids`: name → CRI id, so
/// pods never mix), each with these `(field, value)` pairs.
fn check_podinit_containers(
    ch: &mut Checks,
    p: &Pod<'_>,
    status: &Value,
    ids: &BTreeMap<String, String>,
    fields: &[(&str, &str, Value)],
) {
    let mut names: Vec<&str> = status["containers"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort();
    let want: Vec<&str> = ids.keys().map(String::as_str).collect();
    ch.eq(
        &format!("pod {}: podinit's containers", p.name),
        names,
        want,
    );
    for (name, id) in ids {
        let Some(c) = status_of(status, name) else {
            continue;
        };
        ch.eq(
            &format!("pod {}: podinit's id of {name}", p.name),
            c["id"].as_str(),
            Some(id.as_str()),
        );
        for (who, field, value) in fields {
            if who == name {
                ch.eq(
                    &format!("pod {}: podinit's {field} of {name}", p.name),
                    &c[*field],
                    value,
                );
            }
        }
    }
}

/// Waits for a Job pod (`sidecar` + `app`) to end and checks it: the sidecar started before
/// the app and got SIGTERM only after the app exited, each started once; CRI exit codes 0 and 0;
/// podinit's status Succeeded with exactly this pod's two containers, the sidecar reported 0.
/// Then removes the pod the kubelet way and checks podinit still answers for it.
fn check_job(ch: &mut Checks, p: &mut Pod<'_>) {
    let codes = p.wait_exited(&["sidecar", "app"], POD_TIMEOUT);
    let tl = p.timeline();
    let events = [
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar got TERM",
    ];
    ch.check(order_of(&tl, &events), || {
        format!("pod {}: timeline not in order {events:?}", p.name)
    });
    check_term_after_exit(ch, &p.name, &tl);
    for c in ["sidecar", "app"] {
        ch.eq(
            &format!("pod {}: times {c} started", p.name),
            p.count(c, "started"),
            1,
        );
    }
    match codes {
        Ok(codes) => ch.eq(
            &format!("pod {}: CRI exit codes", p.name),
            codes,
            BTreeMap::from([("app".to_owned(), 0), ("sidecar".to_owned(), 0)]),
        ),
        Err(e) => ch.fail(format!("pod {}: {e}", p.name)),
    }
    let ids = p.ids.clone();
    match final_status(p.env, &p.sandbox_id) {
        Ok(s) => {
            ch.eq(
                &format!("pod {}: podinit phase", p.name),
                s["phase"].as_str(),
                Some("Succeeded"),
            );
            check_podinit_containers(
                ch,
                p,
                &s,
                &ids,
                &[
                    ("sidecar", "kind", json!("sidecar")),
                    ("sidecar", "state", json!("terminated")),
                    ("sidecar", "exitCode", json!(0)),
                    ("app", "kind", json!("app")),
                    ("app", "state", json!("terminated")),
                    ("app", "exitCode", json!(0)),
                ],
            );
            // Finding 7 of issue 9: CRI's startedAt is containerd's task start, i.e. the
            // init's, which reads app-first when the app was created first; podinit's is the
            // held process's exec, after the gate: the sidecar's comes first in every order.
            let started = |n: &str| {
                status_of(&s, n)
                    .and_then(|c| c["startedAt"].as_str())
                    .map(str::to_owned)
            };
            match (started("sidecar"), started("app")) {
                (Some(side), Some(app)) => ch.check(side < app, || {
                    format!(
                        "pod {}: podinit's startedAt: sidecar {side} not before app {app}",
                        p.name
                    )
                }),
                other => ch.fail(format!("pod {}: podinit's startedAt {other:?}", p.name)),
            }
        }
        Err(e) => ch.fail(format!("pod {}: {e}", p.name)),
    }
    for e in p.remove() {
        ch.fail(format!("pod {}: removal: {e}", p.name));
    }
    // Finding 6 of issue 9: the status outlives the pod (and its containers).
    match p.env.pod_status(&p.sandbox_id) {
        Ok(s) => ch.eq(
            &format!("pod {}: podinit phase after RemovePodSandbox", p.name),
            s["phase"].as_str(),
            Some("Succeeded"),
        ),
        Err(e) => ch.fail(format!("pod {}: after RemovePodSandbox: {e}", p.name)),
    }
}

// ---------------------------------------------------------------------------------------------

/// The seed Job (`../shared/docs/acs-sidecar-start-stop-order.txt`): a native sidecar
/// (initContainers, restartPolicy Always) and an app, `command:` set, restartPolicy Never.
#[rstest]
#[case::spec_order(Order::Spec)]
#[case::app_first(Order::AppFirst)]
fn seed_job(#[case] order: Order) {
    let env = CriEnv::start(&format!("seed_job-{order:?}"));
    let mut p = run_native_job(&env, "test");
    let mut ch = Checks::default();
    create_in_order(&mut ch, &mut p, order, &sidecar("started"), &job_app());
    // The default handler: inject's default, no hooks for containers of their own pid namespace.
    check_bundles(&mut ch, &env, &p, false);
    check_job(&mut ch, &mut p);
    ch.finish(&[&p]);
}

/// The seed Job on the hookless front as an operator deploys it (issue 13): handler
/// `podinit-nohooks`, BinaryName the multi-call symlink `podinit-runc` → podinit with
/// `PODINIT_NO_HOOKS=1` in the `podinit.conf` beside it. No bundle containerd hands runc has an
/// OCI hook or lacks the claim mount; each init claims its registration; the Job's checks as in
/// `seed_job`, in both orders.
#[rstest]
#[case::spec_order(Order::Spec)]
#[case::app_first(Order::AppFirst)]
fn seed_job_on_the_hookless_front(#[case] order: Order) {
    let env = CriEnv::start(&format!("seed_job_on_the_hookless_front-{order:?}"));
    let spec = native_spec("Never", &sidecar("started"), &job_app());
    let mut p = env.run_pod_on(
        cri::containerd::NO_HOOKS_HANDLER,
        "test",
        &[("io.podinit.pod-spec", &spec)],
    );
    let mut ch = Checks::default();
    create_in_order(&mut ch, &mut p, order, &sidecar("started"), &job_app());
    check_bundles(&mut ch, &env, &p, false);
    check_job(&mut ch, &mut p);
    ch.finish(&[&p]);
}

/// The bundles containerd handed runc, as the front left them: podinit's three hook stages and
/// no claim mount when `hooked`, else no hook and the claim mount (issue 13).
fn check_bundles(ch: &mut Checks, env: &CriEnv, p: &Pod<'_>, hooked: bool) {
    for (name, id) in &p.ids {
        // containerd's copy of the bundle the front rewrote (its task state dir).
        let path = env
            .paths
            .dir
            .join("state/io.containerd.runtime.v2.task/k8s.io")
            .join(id)
            .join("config.json");
        let config: Value = match std::fs::read(&path).map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(v)) => v,
            other => {
                ch.fail(format!("{name}: {}: {other:?}", path.display()));
                continue;
            }
        };
        let hooks: Vec<&str> = config["hooks"]
            .as_object()
            .map(|h| {
                h.iter()
                    .filter(|(_, l)| l.as_array().is_some_and(|l| !l.is_empty()))
                    .map(|(stage, _)| stage.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<&str> = if hooked {
            vec!["createRuntime", "poststart", "poststop"]
        } else {
            Vec::new()
        };
        ch.eq(
            &format!("{name}: OCI hook stages in its bundle"),
            hooks,
            want,
        );
        let claim = config["mounts"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|m| m["destination"] == "/.podinit/claim"));
        ch.check(claim != hooked, || {
            format!(
                "{name}: a claim mount {claim} in {}, with hooks {hooked}",
                path.display()
            )
        });
    }
}

/// The seed Job the ACS way for Kubernetes ≤ 1.28: `__IS_SIDECAR__=true` on a regular
/// container declared after the app, no pod spec. The agent declares the container set
/// (`io.podinit.pod-containers`, a pod annotation) and the pod's restart policy on the app
/// (`io.podinit.restart-policy=Never`; CRI carries no restart policy). An env-dialect sidecar
/// gates on its readiness probe (annotation).
#[rstest]
#[case::spec_order_app_first(Order::AppFirst)]
#[case::sidecar_first(Order::Spec)]
fn is_sidecar_job(#[case] order: Order) {
    let env = CriEnv::start(&format!("is_sidecar_job-{order:?}"));
    let mut p = env.run_pod("test", &[("io.podinit.pod-containers", "app,sidecar")]);
    let side = sidecar("started").env("__IS_SIDECAR__", "true").annotation(
        "io.podinit.readiness-probe",
        &waiting_probe(READY).to_string(),
    );
    let app = job_app().annotation("io.podinit.restart-policy", "Never");
    let mut ch = Checks::default();
    create_in_order(&mut ch, &mut p, order, &side, &app);
    check_job(&mut ch, &mut p);
    ch.finish(&[&p]);
}

/// Two Job pods with the same container names at once on one supervisor, their containers
/// created interleaved, apps first: each pod runs as its own, Succeeded with its own status.
#[test]
fn two_jobs_at_once() {
    let env = CriEnv::start("two_jobs_at_once");
    let mut a = run_native_job(&env, "job-a");
    let mut b = run_native_job(&env, "job-b");
    let mut ch = Checks::default();
    start_checked(&mut ch, &mut a, &job_app());
    start_checked(&mut ch, &mut b, &job_app());
    std::thread::sleep(Duration::from_millis(500));
    start_checked(&mut ch, &mut a, &sidecar("started"));
    start_checked(&mut ch, &mut b, &sidecar("started"));
    check_job(&mut ch, &mut a);
    check_job(&mut ch, &mut b);
    ch.finish(&[&a, &b]);
}

/// Three Job pods one after another on one long-running supervisor.
#[test]
fn three_jobs_in_a_row() {
    let mut env = CriEnv::start("three_jobs_in_a_row");
    let mut reports = Vec::new();
    let mut ch = Checks::default();
    for (i, order) in [Order::AppFirst, Order::Spec, Order::AppFirst]
        .into_iter()
        .enumerate()
    {
        if let Some(how) = env.supervisor_exit() {
            ch.fail(format!(
                "before pod {}: the supervisor is gone ({how})",
                i + 1
            ));
        }
        let mut p = run_native_job(&env, &format!("job-{}", i + 1));
        create_in_order(&mut ch, &mut p, order, &sidecar("started"), &job_app());
        check_job(&mut ch, &mut p);
        reports.push(p.report());
    }
    if !ch.is_empty() {
        ch.fail(reports.join("\n"));
    }
    ch.finish(&[]);
}

/// A kubelet deleting a long-running pod (restartPolicy Always): StopContainer on every
/// container at once. podinit still applies the teardown order (the app's SIGTERM first, the
/// sidecar's after the app exited), nothing restarts, CRI reports 0 for both.
#[rstest]
#[case::hooks(cri::containerd::HOOKS_HANDLER)]
#[case::hookless_front(cri::containerd::NO_HOOKS_HANDLER)]
fn kubelet_deletes_long_running_pod(#[case] handler: &str) {
    let env = CriEnv::start(&format!("kubelet_deletes-{handler}"));
    let (side, app) = (sidecar("started"), service_app());
    let spec = native_spec("Always", &side, &app);
    let mut p = env.run_pod_on(handler, "svc", &[("io.podinit.pod-spec", &spec)]);
    let mut ch = Checks::default();
    create_in_order(&mut ch, &mut p, Order::AppFirst, &side, &app);
    ch.check(p.wait_for("app started", START_TIMEOUT), || {
        "the app never started".into()
    });
    check_bundles(&mut ch, &env, &p, handler == cri::containerd::HOOKS_HANDLER);
    let stop_errors = p.stop_all(STOP_TIMEOUT_S);
    for e in stop_errors {
        ch.fail(e);
    }
    let codes = p.wait_exited(&["sidecar", "app"], POD_TIMEOUT);
    let events = [
        "sidecar started",
        "app started",
        "app got TERM",
        "app exiting",
        "sidecar got TERM",
    ];
    let tl = p.timeline();
    ch.check(order_of(&tl, &events), || {
        format!("timeline not in order {events:?}")
    });
    check_term_after_exit(&mut ch, &p.name, &tl);
    for c in ["sidecar", "app"] {
        ch.eq(&format!("times {c} started"), p.count(c, "started"), 1);
    }
    match codes {
        Ok(codes) => ch.eq(
            "CRI exit codes",
            codes,
            BTreeMap::from([("app".to_owned(), 0), ("sidecar".to_owned(), 0)]),
        ),
        Err(e) => ch.fail(e),
    }
    match env.pod_status(&p.sandbox_id) {
        Ok(s) => {
            let ids = p.ids.clone();
            let mut fields = Vec::new();
            for c in ["sidecar", "app"] {
                fields.push((c, "state", json!("terminated")));
                fields.push((c, "exitCode", json!(0)));
                fields.push((c, "restartCount", json!(0)));
            }
            check_podinit_containers(&mut ch, &p, &s, &ids, &fields);
        }
        Err(e) => ch.fail(e),
    }
    for e in p.remove() {
        ch.fail(format!("removal: {e}"));
    }
    ch.finish(&[&p]);
}

/// `sidecar got TERM` at least 300 ms after `app exiting` (first occurrences in `tl`): after
/// the app's exit, which comes 300 ms after its `exiting`.
fn check_term_after_exit(ch: &mut Checks, pod: &str, tl: &[TimelineEntry]) {
    if let (Some(a), Some(b)) = (
        tl.iter().find(|e| e.matches("app exiting")),
        tl.iter().find(|e| e.matches("sidecar got TERM")),
    ) {
        let gap_ms = (b.at_us as f64 - a.at_us as f64) / 1000.0;
        ch.check(gap_ms >= 300.0, || {
            format!(
                "pod {pod}: sidecar got TERM {gap_ms:.1} ms after `app exiting`: before the app exited"
            )
        });
    }
}

/// The supervisor SIGKILLed and restarted (same socket and state dir) between two Job pods:
/// the finished pod is not replayed onto the second, which runs normally.
#[test]
fn supervisor_killed_between_pods() {
    let mut env = CriEnv::start("supervisor_killed");
    let mut ch = Checks::default();
    let mut first = run_native_job(&env, "job-1");
    create_in_order(
        &mut ch,
        &mut first,
        Order::Spec,
        &sidecar("started"),
        &job_app(),
    );
    check_job(&mut ch, &mut first);
    let first_report = first.report();
    let first_id = first.sandbox_id.clone();
    drop(first);
    env.kill_supervisor();
    env.start_supervisor();
    let mut second = run_native_job(&env, "job-2");
    create_in_order(
        &mut ch,
        &mut second,
        Order::AppFirst,
        &sidecar("started"),
        &job_app(),
    );
    check_job(&mut ch, &mut second);
    match env.pod_status(&first_id) {
        Ok(s) => ch.eq(
            "the first pod's phase after the restart",
            s["phase"].as_str(),
            Some("Succeeded"),
        ),
        Err(e) => ch.fail(format!("the first pod after the restart: {e}")),
    }
    if !ch.is_empty() {
        ch.fail(first_report);
    }
    ch.finish(&[&second]);
}

/// An in-place sidecar upgrade under a running app: StopContainer + RemoveContainer on the
/// sidecar, CreateContainer with the same name and a new command, StartContainer. The new
/// command runs (never the old one again), the app is not touched; then the pod is deleted.
#[test]
fn sidecar_replaced_in_place() {
    let env = CriEnv::start("sidecar_replaced");
    let (v1, app) = (sidecar("started v1"), service_app());
    let spec = native_spec("Always", &v1, &app);
    let mut p = env.run_pod("svc", &[("io.podinit.pod-spec", &spec)]);
    let mut ch = Checks::default();
    create_in_order(&mut ch, &mut p, Order::Spec, &v1, &app);
    ch.check(p.wait_for("app started", START_TIMEOUT), || {
        "the app never started".into()
    });
    let old = p.id("sidecar").to_owned();
    if let Err(e) = env.cri.stop_container(&old, STOP_TIMEOUT_S) {
        ch.fail(e);
    }
    match p.wait_exited(&["sidecar"], POD_TIMEOUT) {
        Ok(codes) => ch.eq("CRI exit code of the old sidecar", codes["sidecar"], 0),
        Err(e) => ch.fail(e),
    }
    if let Err(e) = env.cri.remove_container(&old) {
        ch.fail(e);
    }
    start_checked(&mut ch, &mut p, &sidecar("started v2"));
    ch.check(p.wait_for("sidecar started v2", START_TIMEOUT), || {
        "the new sidecar's command never ran".into()
    });
    // Time for a wrong restart of the old command, or a signal to the app, to show.
    std::thread::sleep(Duration::from_secs(1));
    ch.eq(
        "times the old command ran",
        p.count("sidecar", "started v1"),
        1,
    );
    ch.eq(
        "times the new command ran",
        p.count("sidecar", "started v2"),
        1,
    );
    ch.eq("times the app started", p.count("app", "started"), 1);
    ch.eq("app got TERM (it must not)", p.count("app", "got TERM"), 0);
    match p.status("app") {
        Ok(s) => ch.eq(
            "CRI state of the app",
            cri::state_name(s.state),
            "CONTAINER_RUNNING",
        ),
        Err(e) => ch.fail(e),
    }
    match env.pod_status(&p.sandbox_id) {
        Ok(s) => {
            let ids = p.ids.clone();
            check_podinit_containers(
                &mut ch,
                &p,
                &s,
                &ids,
                &[
                    ("app", "state", json!("running")),
                    ("app", "restartCount", json!(0)),
                    ("sidecar", "state", json!("running")),
                ],
            );
        }
        Err(e) => ch.fail(e),
    }
    // Then the pod is deleted, kubelet-style.
    let marks = p.timeline().len();
    for e in p.stop_all(STOP_TIMEOUT_S) {
        ch.fail(e);
    }
    match p.wait_exited(&["sidecar", "app"], POD_TIMEOUT) {
        Ok(codes) => ch.eq(
            "CRI exit codes at deletion",
            codes,
            BTreeMap::from([("app".to_owned(), 0), ("sidecar".to_owned(), 0)]),
        ),
        Err(e) => ch.fail(e),
    }
    let after: Vec<_> = p.timeline().into_iter().skip(marks).collect();
    let events = ["app got TERM", "app exiting", "sidecar got TERM"];
    ch.check(order_of(&after, &events), || {
        format!("deletion: timeline not in order {events:?}")
    });
    check_term_after_exit(&mut ch, &p.name, &after);
    for e in p.remove() {
        ch.fail(format!("removal: {e}"));
    }
    ch.finish(&[&p]);
}
