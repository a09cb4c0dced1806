//! `podinit status --format k8s`: a pod's status document (status.json) as a Kubernetes core/v1
//! `PodStatus`, which an agent can send to the API server as is. Pure: the typed document in
//! (`podinit_core::status::Document`, the type every reader shares), JSON out, so it works the
//! same on the supervisor's answer and on a status file left after the pod.
//!
//! Mapping (the kubelet's `convertToAPIContainerStatuses`):
//! - `initContainers` entries (regular init containers and native sidecars) go to
//!   `initContainerStatuses`, the rest to `containerStatuses`, in declaration order;
//! - state: not created → `waiting` `ContainerCreating`; held at the start gate → `waiting`
//!   `PodInitializing`; waiting for a restart → `waiting` with its reason (`CrashLoopBackOff`);
//!   running → `running {startedAt}`; ended → `terminated {exitCode, signal, reason, message,
//!   startedAt, finishedAt}`, the code being the one reported (0 for a sidecar stopped with its
//!   pod), as the runtime saw it;
//! - a run reported 0 though it ended otherwise (podinit's `Stopped`: a sidecar stopped with its
//!   pod, an ignored exit code) is `Completed` with no `signal`, the real end in `message` — the
//!   way ECI documents `ECI_CONTAINER_IGNORE_EXIT_CODE` ("forces it to a succeeded terminated
//!   state and writes the real exit code, reason and message into the Message field"), and so
//!   the API sees only the kubelet's reason tokens and a consistent `exitCode`/`signal` pair.
//!   (The kubelet itself would report the sidecar's 137/`Error`; podinit promises 0, SPEC 3,
//!   so that a Job's `podFailurePolicy` `onExitCodes` never matches a stopped sidecar.)
//! - `lastState.terminated` for a restarted container that runs again: its previous exit, with
//!   the reason (`OOMKilled`, `Error`, `Completed`) and termination message of that run;
//! - termination messages are cut to the pod's share as the kubelet's status manager cuts them
//!   (`normalizeStatus`, `pkg/kubelet/status/status_manager.go`): 12 KiB
//!   (`MaxPodTerminationMessageLogLength`) split evenly between the pod's containers, each
//!   message keeping its first bytes;
//! - `image` and `imageID` are required by the API and unknown to podinit: empty, for the agent
//!   to fill in.

use serde_json::{Map, Value, json};

use crate::engine::ContainerState;
use crate::status::{Container, Document};

/// `MaxPodTerminationMessageLogLength` (`pkg/kubelet/container/runtime.go`).
const MAX_POD_TERMINATION_MESSAGES: usize = 12 * 1024;

/// The first `max` bytes of `m`, cut at a character boundary.
fn first_bytes(m: &str, max: usize) -> &str {
    let mut end = m.len().min(max);
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    &m[..end]
}

/// `m` unless it is empty (the API's omitempty).
fn non_empty(m: &str) -> Option<&str> {
    (!m.is_empty()).then_some(m)
}

fn state_of(c: &Container, message_share: usize) -> Value {
    match c.state {
        ContainerState::Expected => json!({"waiting": {"reason": "ContainerCreating"}}),
        // The message says what holds it at the start gate (`engine/start_wait.rs`).
        ContainerState::Waiting => match non_empty(&c.message) {
            Some(m) => json!({"waiting": {"reason": "PodInitializing", "message": m}}),
            None => json!({"waiting": {"reason": "PodInitializing"}}),
        },
        ContainerState::BackOff => {
            let reason = non_empty(&c.reason).unwrap_or("CrashLoopBackOff");
            json!({"waiting": {"reason": reason, "message": c.message}})
        }
        ContainerState::Running => match &c.started_at {
            Some(t) => json!({"running": {"startedAt": t}}),
            None => json!({"waiting": {"reason": "ContainerCreating"}}),
        },
        ContainerState::Terminated => {
            let mut t = Map::new();
            t.insert("exitCode".into(), json!(c.exit_code.unwrap_or(0)));
            let message = non_empty(&c.message);
            if c.reason == "Stopped" {
                t.insert("reason".into(), json!("Completed"));
                let end = match (c.raw_exit_code, c.signal) {
                    (Some(code), Some(sig)) => format!("exit code {code}, signal {sig}"),
                    (Some(code), None) => format!("exit code {code}"),
                    _ => "an unknown end".to_owned(),
                };
                let stopped = format!("reported as 0: the process ended with {end}");
                let m = match message {
                    Some(m) => format!("{stopped}; {m}"),
                    None => stopped,
                };
                t.insert("message".into(), json!(first_bytes(&m, message_share)));
            } else {
                if let Some(s) = c.signal {
                    t.insert("signal".into(), json!(s));
                }
                t.insert("reason".into(), json!(c.reason));
                if let Some(m) = message {
                    t.insert("message".into(), json!(first_bytes(m, message_share)));
                }
            }
            for (key, at) in [("startedAt", &c.started_at), ("finishedAt", &c.finished_at)] {
                if let Some(at) = at {
                    t.insert(key.into(), json!(at));
                }
            }
            json!({ "terminated": t })
        }
    }
}

fn container_status(c: &Container, message_share: usize) -> Value {
    let mut out = json!({
        "name": c.name,
        "state": state_of(c, message_share),
        "lastState": {},
        "ready": c.ready,
        "started": c.started,
        "restartCount": c.restart_count,
        "image": "",
        "imageID": "",
    });
    if let Some(id) = &c.id {
        out["containerID"] = json!(id);
    }
    let running_again = matches!(c.state, ContainerState::Running | ContainerState::BackOff);
    if let Some(code) = c
        .raw_exit_code
        .filter(|_| c.restart_count > 0 && running_again)
    {
        let mut t = Map::new();
        t.insert("exitCode".into(), json!(code));
        if let Some(s) = c.signal {
            t.insert("signal".into(), json!(s));
        }
        let reason = match c.last_reason.as_deref() {
            Some(r) => r,
            // A status document from before podinit kept the last run's reason.
            None if code == 0 => "Completed",
            None => "Error",
        };
        t.insert("reason".into(), json!(reason));
        if let Some(m) = c.last_message.as_deref().and_then(non_empty) {
            t.insert("message".into(), json!(first_bytes(m, message_share)));
        }
        if let Some(at) = &c.finished_at {
            t.insert("finishedAt".into(), json!(at));
        }
        out["lastState"] = json!({ "terminated": t });
    }
    out
}

/// The pod's status document → a core/v1 `PodStatus`.
pub fn pod_status(doc: &Document) -> Value {
    let message_share = MAX_POD_TERMINATION_MESSAGES / doc.containers.len().max(1);
    let (init, regular): (Vec<&Container>, Vec<&Container>) =
        doc.containers.iter().partition(|c| c.init_container);
    let conditions: Vec<Value> = doc
        .conditions
        .iter()
        .map(|c| {
            let mut v = json!({
                "type": c.kind,
                "status": c.status,
                "lastTransitionTime": c.last_transition_time,
            });
            if let Some(r) = non_empty(&c.reason) {
                v["reason"] = json!(r);
            }
            v
        })
        .collect();
    let statuses = |cs: Vec<&Container>| -> Vec<Value> {
        cs.into_iter()
            .map(|c| container_status(c, message_share))
            .collect()
    };
    let mut out = json!({
        "phase": doc.phase,
        "conditions": conditions,
        "initContainerStatuses": statuses(init),
        "containerStatuses": statuses(regular),
    });
    // The API has a pod-level reason only for what ended the pod from outside its containers.
    if doc.reason == "DeadlineExceeded" {
        out["reason"] = json!("DeadlineExceeded");
        out["message"] = json!("Pod was active on the node longer than the specified deadline");
    }
    // podinit's own (io.podinit.on-start-timeout: fail): which container waited, for what.
    if doc.reason == "StartTimeout" {
        out["reason"] = json!("StartTimeout");
        out["message"] = json!(doc.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pod_status` of a document written as JSON (the fixtures read as status.json does).
    fn k8s(doc: &Value) -> Value {
        pod_status(&serde_json::from_value(doc.clone()).expect("a status document"))
    }

    fn doc() -> Value {
        json!({
            "phase": "Running", "reason": "",
            "conditions": [
                {"type": "Initialized", "status": "True", "reason": "", "lastTransitionTime": "2026-12-01T10:00:00.000Z"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": "2026-12-01T10:00:01.000Z"}
            ],
            "containers": [
                {"name": "proxy", "id": "c1", "kind": "sidecar", "initContainer": true, "state": "running",
                 "started": true, "ready": true, "restartCount": 2, "exitCode": null, "rawExitCode": 137,
                 "signal": 9, "reason": "Running", "message": "",
                 "startedAt": "2026-12-01T10:00:02.000Z", "finishedAt": "2026-12-01T10:00:01.500Z"},
                {"name": "app", "id": "c2", "kind": "app", "initContainer": false, "state": "terminated",
                 "started": false, "ready": false, "restartCount": 0, "exitCode": 3, "rawExitCode": 3,
                 "reason": "Error", "message": "", "startedAt": "2026-12-01T10:00:03.000Z",
                 "finishedAt": "2026-12-01T10:00:04.000Z"},
                {"name": "late", "id": null, "kind": "app", "initContainer": false, "state": "expected",
                 "started": false, "ready": false, "restartCount": 0, "exitCode": null, "rawExitCode": null,
                 "reason": "", "message": "", "startedAt": null, "finishedAt": null}
            ],
            "timeline": []
        })
    }

    #[test]
    fn init_and_regular_containers_with_their_states() {
        let s = k8s(&doc());
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["initContainerStatuses"][0]["name"], "proxy");
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["running"]["startedAt"],
            "2026-12-01T10:00:02.000Z"
        );
        assert_eq!(
            s["initContainerStatuses"][0]["lastState"]["terminated"],
            json!({"exitCode": 137, "signal": 9, "reason": "Error", "finishedAt": "2026-12-01T10:00:01.500Z"})
        );
        let app = &s["containerStatuses"][0];
        assert_eq!(app["state"]["terminated"]["exitCode"], 3);
        assert_eq!(app["state"]["terminated"]["reason"], "Error");
        assert_eq!(app["lastState"], json!({}));
        assert_eq!(
            s["containerStatuses"][1]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        assert!(
            s["conditions"][0].get("reason").is_none(),
            "no reason when True"
        );
        assert_eq!(s["conditions"][1]["reason"], "ContainersNotReady");
        assert!(s.get("reason").is_none());
    }

    #[test]
    fn a_held_container_and_a_start_timeout_say_why() {
        let mut d = doc();
        d["phase"] = json!("Failed");
        d["reason"] = json!("StartTimeout");
        d["message"] = json!(
            "container late waited 3s at its start gate, waiting for sidecar proxy: not created yet"
        );
        d["containers"][2]["state"] = json!("waiting");
        d["containers"][2]["message"] = json!("waiting for sidecar proxy: not created yet");
        let s = k8s(&d);
        assert_eq!(
            s["containerStatuses"][1]["state"],
            json!({"waiting": {"reason": "PodInitializing", "message": "waiting for sidecar proxy: not created yet"}})
        );
        assert_eq!(s["reason"], "StartTimeout");
        assert_eq!(s["message"], d["message"]);
        // Without a message the waiting state has none (the API's omitempty).
        d["containers"][2]["message"] = json!("");
        let s = k8s(&d);
        assert_eq!(
            s["containerStatuses"][1]["state"],
            json!({"waiting": {"reason": "PodInitializing"}})
        );
    }

    #[test]
    fn oom_kills_and_termination_messages_reach_state_and_last_state() {
        let mut d = doc();
        d["containers"][0]["lastReason"] = json!("OOMKilled");
        d["containers"][0]["lastMessage"] = json!("ran out\n");
        d["containers"][1]["reason"] = json!("OOMKilled");
        d["containers"][1]["rawExitCode"] = json!(137);
        d["containers"][1]["exitCode"] = json!(137);
        d["containers"][1]["message"] = json!("allocating 200 MiB\n");
        let s = k8s(&d);
        let last = &s["initContainerStatuses"][0]["lastState"]["terminated"];
        assert_eq!(last["reason"], "OOMKilled");
        assert_eq!(last["message"], "ran out\n");
        let t = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(t["reason"], "OOMKilled");
        assert_eq!(t["exitCode"], 137);
        assert_eq!(t["message"], "allocating 200 MiB\n");
    }

    /// Three containers share 12 KiB: 4 KiB each, first bytes kept (kubelet `normalizeStatus`).
    #[test]
    fn messages_are_cut_to_the_pods_share() {
        let mut d = doc();
        d["containers"][1]["message"] = json!("é".repeat(3000));
        let s = k8s(&d);
        let m = s["containerStatuses"][0]["state"]["terminated"]["message"]
            .as_str()
            .unwrap();
        assert_eq!(m.len(), 4096);
        assert!(m.chars().all(|c| c == 'é'));
    }

    /// A sidecar stopped with its pod (reported 0, SIGKILLed at the end of the grace): the API
    /// gets a kubelet reason and a consistent pair, the real end in the message.
    #[test]
    fn a_run_reported_as_zero_is_completed_with_its_real_end_in_the_message() {
        let mut d = doc();
        let c = &mut d["containers"][0];
        c["state"] = json!("terminated");
        c["exitCode"] = json!(0);
        c["rawExitCode"] = json!(137);
        c["signal"] = json!(9);
        c["reason"] = json!("Stopped");
        let s = k8s(&d);
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["terminated"],
            json!({"exitCode": 0, "reason": "Completed",
                   "message": "reported as 0: the process ended with exit code 137, signal 9",
                   "startedAt": "2026-12-01T10:00:02.000Z", "finishedAt": "2026-12-01T10:00:01.500Z"})
        );
        d["containers"][0]["message"] = json!("flushed 3 files");
        d["containers"][0]["signal"] = json!(null);
        d["containers"][0]["rawExitCode"] = json!(1);
        let s = k8s(&d);
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["terminated"]["message"],
            "reported as 0: the process ended with exit code 1; flushed 3 files"
        );
    }

    #[test]
    fn documents_of_the_wrong_shape_are_refused_before_the_mapping() {
        for d in [
            json!(null),
            json!([]),
            json!({"containers": 3}),
            json!({"phase": "Running", "containers": [1, "x", {}]}),
        ] {
            assert!(
                serde_json::from_value::<Document>(d.clone()).is_err(),
                "{d}"
            );
        }
    }
}
