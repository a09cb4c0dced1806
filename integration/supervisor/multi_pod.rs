//! One long-running `podinit supervise` serving several pods (issue 9, finding 4 and 6): real runc
//! containers of pods with the same container names, at once and one after another, a supervisor
//! SIGKILLed between pods, a registration refused before it is tracked, and `podinit status`
//! after everything ended. Every pod joins a `SharedSupervisor` (no `--exit-with-pod`); each has
//! its own runc root, netns and timeline, as pods on one machine would.
//!
//! | test | what |
//! |---|---|
//! | m01 | two Job pods, same container names, at once; keyed by containerd's and CRI-O's sandbox ids: both Succeed, each status holds only its own containers, `podinit status` lists both |
//! | m02 | three Job pods of the default key one after another: each Succeeds, the finished ones are archived, the supervisor stays up, SIGTERM ends it with 0 |
//! | m03 | the supervisor SIGKILLed after pod 1 finished and restarted: pod 1 is not replayed, pod 2 runs normally, SIGTERM ends the supervisor |
//! | m04 | `podinit status [--json]` and `podinit stop` after the pod and its supervisor ended: answered from the status files |
//! | m05 | a same-named container of the same pod key while the first is alive: the create fails naming the live one; nothing of it is tracked or journalled |

use crate::pod;

use std::time::Duration;

use serde_json::{Value, json};

use pod::{Container, CreateOrder, PodOutcome, PodTest, SharedSupervisor, SupervisorExit};

fn job(name: &str, work_s: &str) -> PodTest {
    PodTest::new(name)
        .timeout(Duration::from_secs(25))
        .cmd_timeout(Duration::from_secs(10))
        .supervisor_timeout(Duration::from_secs(10))
        .spec(json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "initContainers": [{
                "name": "sidecar", "image": "busybox", "restartPolicy": "Always",
                // Started once it logged: the app's start is after the sidecar's on the timeline.
                "startupProbe": {
                    "exec": {"command": ["sh", "-c", "until test -f /dev/shm/ready; do sleep 0.01; done"]},
                    "timeoutSeconds": 20, "periodSeconds": 1, "failureThreshold": 100,
                },
            }],
            "containers": [{"name": "app", "image": "busybox"}],
        }))
        .add(Container::script(
            "sidecar",
            "trap 'tlog got TERM; exit 0' TERM\ntlog started; touch /dev/shm/ready\n\
             while :; do sleep 0.05; done",
        ))
        .add(Container::script(
            "app",
            &format!("tlog started\nsleep {work_s}\ntlog exiting\nexit 0"),
        ))
}

/// Succeeded, both reaped 0, and the status holds exactly this pod's containers.
#[track_caller]
fn assert_job_succeeded(out: &PodOutcome, sup: &SharedSupervisor) {
    assert_eq!(
        out.phase(),
        Some("Succeeded"),
        "{out}\n--- supervisor\n{}",
        sup.log()
    );
    assert_eq!(out.exit_code("app"), Some(0), "{out}");
    assert_eq!(out.exit_code("sidecar"), Some(0), "{out}");
    out.assert_order(&[
        "sidecar started",
        "app started",
        "app exiting",
        "sidecar got TERM",
    ]);
    let status = out.status_json.as_ref().expect("status");
    assert_eq!(status["finished"], true, "{out}");
    let ids: Vec<&str> = status["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or("-"))
        .collect();
    let mut own: Vec<&str> = out.ids.values().map(String::as_str).collect();
    let mut got = ids.clone();
    own.sort_unstable();
    got.sort_unstable();
    assert_eq!(
        got, own,
        "the pod's status holds another pod's containers\n{out}"
    );
    for c in status["containers"].as_array().into_iter().flatten() {
        assert_ne!(c["reason"], "NeverStarted", "{out}");
    }
}

fn podinit_json(sup: &SharedSupervisor, args: &[&str]) -> Value {
    let out = sup.podinit(args);
    assert!(out.status.success(), "podinit {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("podinit {args:?}: not JSON ({e}): {out:?}"))
}

#[test]
fn m01_two_pods_with_the_same_names_at_once_never_mix() {
    pod::require!();
    let sup = SharedSupervisor::start("m01");
    let key_a = format!("sbx-a-{}", std::process::id());
    let key_b = format!("sbx-b-{}", std::process::id());
    let a = job("m01-a", "1.5")
        .pod_annotation("io.kubernetes.cri.sandbox-id", &key_a)
        .on(&sup)
        .start(CreateOrder::Spec);
    let b = job("m01-b", "1.5")
        .pod_annotation("io.kubernetes.cri-o.SandboxID", &key_b)
        .on(&sup)
        .start(CreateOrder::Reverse);
    let (a, b) = (a.finish(), b.finish());
    assert_job_succeeded(&a, &sup);
    assert_job_succeeded(&b, &sup);
    // They really ran at the same time.
    let t = |o: &PodOutcome, e: &str| o.first(e).map(|x| x.at_us).unwrap_or(u64::MAX);
    assert!(
        t(&a, "app started") < t(&b, "app exiting") && t(&b, "app started") < t(&a, "app exiting"),
        "the pods did not overlap\n{a}\n{b}"
    );
    let mut keys = vec![key_a.clone(), key_b.clone()];
    keys.sort();
    assert_eq!(sup.pod_dirs("pods"), keys, "{}", sup.log());
    assert_eq!(a.status_json.as_ref().unwrap()["pod"], key_a.as_str());
    assert_eq!(b.status_json.as_ref().unwrap()["pod"], key_b.as_str());

    // `podinit status` lists both pods; `--pod` shows one, the same document as its file.
    let list = sup.podinit(&["status"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    for k in &keys {
        assert!(
            text.lines()
                .any(|l| l.starts_with(k.as_str()) && l.contains("Succeeded")),
            "{text}"
        );
    }
    let listed = podinit_json(&sup, &["status", "--json"]);
    assert_eq!(listed["pods"].as_array().map(Vec::len), Some(2), "{listed}");
    let one = podinit_json(&sup, &["status", "--json", "--pod", &key_b]);
    assert_eq!(&one, b.status_json.as_ref().unwrap());
    let bad = sup.podinit(&["status", "--pod", "../etc"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    let mut sup = sup;
    assert_eq!(
        sup.terminate(Duration::from_secs(10)),
        Some(SupervisorExit::Exited(0))
    );
}

#[test]
fn m02_three_pods_one_after_another_on_one_supervisor() {
    pod::require!();
    let mut sup = SharedSupervisor::start("m02");
    for i in 0..3 {
        // No sandbox id, no io.podinit.pod: the default pod, three times over.
        let out = job(&format!("m02-{i}"), "0.3")
            .on(&sup)
            .run(CreateOrder::Spec);
        assert_job_succeeded(&out, &sup);
        assert_eq!(out.status_json.as_ref().unwrap()["pod"], "default");
        assert!(
            sup.is_running(),
            "the supervisor ended with pod {i}\n{}",
            sup.log()
        );
    }
    assert_eq!(sup.pod_dirs("pods"), ["default"]);
    let archived = sup.pod_dirs("archive");
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(
        archived.iter().all(|a| a.starts_with("default@")),
        "{archived:?}"
    );
    assert_eq!(
        sup.terminate(Duration::from_secs(5)),
        Some(SupervisorExit::Exited(0)),
        "{}",
        sup.log()
    );
}

#[test]
fn m03_supervisor_killed_after_a_finished_pod_replays_nothing() {
    pod::require!();
    let mut sup = SharedSupervisor::start("m03");
    let first = job("m03-1", "0.3").on(&sup).run(CreateOrder::Spec);
    assert_job_succeeded(&first, &sup);
    sup.kill();
    sup.restart();
    let second = job("m03-2", "0.3").on(&sup).run(CreateOrder::Reverse);
    assert_job_succeeded(&second, &sup);
    let status = second.status_json.as_ref().unwrap();
    let events: Vec<&str> = status["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(
        !events.iter().any(|e| e.contains("ignored")),
        "the second pod met the first one's state: {events:?}"
    );
    assert_eq!(
        sup.terminate(Duration::from_secs(5)),
        Some(SupervisorExit::Exited(0)),
        "the restarted supervisor did not honour SIGTERM\n{}",
        sup.log()
    );
}

#[test]
fn m04_status_answers_from_the_files_once_everything_ended() {
    pod::require!();
    let mut sup = SharedSupervisor::start("m04");
    let out = job("m04", "0.2").on(&sup).run(CreateOrder::Spec);
    assert_job_succeeded(&out, &sup);
    assert_eq!(
        sup.terminate(Duration::from_secs(5)),
        Some(SupervisorExit::Exited(0))
    );

    let json_out = sup.podinit(&["status", "--json"]);
    assert!(json_out.status.success(), "{json_out:?}");
    assert!(
        String::from_utf8_lossy(&json_out.stderr).contains("no supervisor"),
        "{json_out:?}"
    );
    let doc: Value = serde_json::from_slice(&json_out.stdout).expect("status --json is JSON");
    assert_eq!(&doc, out.status_json.as_ref().unwrap());
    // The one-pod table, as with a running supervisor.
    let table = sup.podinit(&["status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("pod: Succeeded"), "{text}");
    assert!(text.contains("sidecar") && text.contains("app"), "{text}");
    // Nothing left to stop: said, and not an error.
    let stop = sup.podinit(&["stop"]);
    assert!(stop.status.success(), "{stop:?}");
    assert!(
        String::from_utf8_lossy(&stop.stderr).contains("finished already"),
        "{stop:?}"
    );
    let missing = sup.podinit(&["status", "--pod", "nope"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no pod nope (known: default)"),
        "{missing:?}"
    );
}

#[test]
fn m05_registration_refused_before_anything_is_tracked() {
    pod::require!();
    let mut sup = SharedSupervisor::start("m05");
    let key = format!("shared-{}", std::process::id());
    // Pod A: an app that runs until deleted.
    let a = job("m05-a", "60")
        .pod_annotation("io.podinit.pod", &key)
        .on(&sup)
        .start(CreateOrder::Spec);
    assert!(
        a.wait_for("app started", Duration::from_secs(15)),
        "{}",
        sup.log()
    );
    // Pod B claims the same pod key with the same container names: refused at create, by its
    // createRuntime hook (with inject's default a refused claim ends the init instead).
    let b = job("m05-b", "0.1")
        .inject_mode(pod::Inject::Hooks)
        .pod_annotation("io.podinit.pod", &key)
        .on(&sup)
        .run(CreateOrder::Spec);
    for name in ["sidecar", "app"] {
        assert_eq!(
            b.unfinished.get(name).map(String::as_str),
            Some("create failed"),
            "{b}"
        );
        let err = b.stderr(name);
        assert!(
            err.contains("still alive") && err.contains(a.id(name)) && err.contains(&key),
            "the refusal does not name the live container and the pod:\n{err}"
        );
    }
    // A's containers run on, untouched.
    for name in ["sidecar", "app"] {
        let pid = a.pid(name).expect("A's init pid");
        assert!(pod::alive(pid), "A's {name} ended when B was refused");
    }
    // Nothing of B was tracked or journalled; A's status is A's alone.
    let journal = std::fs::read_to_string(
        sup.state_dir()
            .join("pods")
            .join(&key)
            .join("journal.jsonl"),
    )
    .expect("journal");
    for id in b.ids.values() {
        assert!(
            !journal.contains(id.as_str()),
            "{id} journalled:\n{journal}"
        );
    }
    let st = a.status().expect("A's status");
    for c in st["containers"].as_array().into_iter().flatten() {
        assert_eq!(c["id"], a.id(c["name"].as_str().unwrap_or("-")), "{st}");
    }
    // `stop --pod` ends A alone; the supervisor keeps serving.
    let stop = sup.podinit(&["stop", "--pod", &key, "--grace", "5"]);
    assert!(stop.status.success(), "{stop:?}");
    let a = a.finish();
    assert_eq!(a.status_json.as_ref().unwrap()["finished"], true, "{a}");
    assert_eq!(a.exit_code("sidecar"), Some(0), "{a}");
    assert!(sup.is_running(), "{}", sup.log());
    assert_eq!(
        sup.terminate(Duration::from_secs(5)),
        Some(SupervisorExit::Exited(0))
    );
}
