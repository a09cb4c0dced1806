//! `podinit status`, `podinit stop`, `podinit restart` and `podinit signal`: asked of the supervisor, or answered from the status
//! files in the state dir when the supervisor is gone (said on stderr), so a pod's status can be
//! read after the pod, and its supervisor, ended.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, ClientError};
use crate::plan::PodKey;
use crate::proto::ControlRequest;
use crate::supervisor::layout::{JOURNAL_FILE, Layout};
use crate::supervisor::listing::{self, Answer};

pub struct Target {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// `--pod KEY`, not validated yet.
    pub pod: Option<String>,
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn pod_key(cmd: &str, raw: Option<&str>) -> Result<Option<PodKey>, i32> {
    match raw.map(PodKey::parse).transpose() {
        Ok(k) => Ok(k),
        Err(e) => {
            eprintln!("podinit {cmd}: --pod: {e}");
            Err(2)
        }
    }
}

/// What the state dir says, for when no supervisor answers. A status file that cannot be read
/// is said on stderr with where it is and what to do, and is an error when it is the pod asked
/// for; the other pods are still answered.
fn from_files(state_dir: &Path, want: Option<&PodKey>) -> Result<Answer, String> {
    let layout = Layout::new(state_dir);
    let mut docs = Vec::new();
    for key in layout.pod_keys() {
        match layout.read_status(&key) {
            Ok(doc) => docs.push((key, doc)),
            Err(e) => {
                let e = format!(
                    "{e}; the pod's journal {} still holds its status: start `podinit \
                     supervise` with this state dir to rewrite it",
                    layout.pod_dir(&key).join(JOURNAL_FILE).display()
                );
                if want == Some(&key) {
                    return Err(e);
                }
                eprintln!("podinit: {e}");
            }
        }
    }
    if docs.is_empty() {
        return Err(format!(
            "no pod status in {} (no pods/*/status.json)",
            layout.pods_dir().display()
        ));
    }
    listing::answer(docs, want)
}

/// How `podinit status` prints one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    /// The status document, as status.json.
    Json,
    /// A Kubernetes core/v1 PodStatus (`k8s_status.rs`).
    K8s,
}

pub fn status(t: &Target, format: Format) -> i32 {
    let json = format != Format::Table;
    let key = match pod_key("status", t.pod.as_deref()) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let req = ControlRequest::Status {
        pod_key: key.clone(),
    };
    let answer = match client::request(&t.socket, &req, TIMEOUT) {
        Ok(reply) => Answer {
            status: reply.status,
            pods: reply.pods.unwrap_or_default(),
        },
        Err(ClientError::Unreachable(m)) => {
            eprintln!(
                "podinit status: no supervisor ({m}); showing the status files in {}",
                t.state_dir.display()
            );
            match from_files(&t.state_dir, key.as_ref()) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("podinit status: {e}");
                    return 1;
                }
            }
        }
        Err(e) => {
            eprintln!("podinit status: {e}");
            return 1;
        }
    };
    let text = match (&answer.status, json) {
        (Some(doc), true) if format != Format::K8s => format!("{doc}\n"),
        // The k8s mapping and the table read the typed document; the JSON goes out as it came.
        (Some(doc), json) => match serde_json::from_value::<crate::status::Document>(doc.clone()) {
            Ok(typed) if json => format!("{}\n", crate::k8s_status::pod_status(&typed)),
            Ok(typed) => crate::cli::status_table(&typed),
            Err(e) => {
                eprintln!("podinit status: the pod's status document does not read: {e}");
                return 1;
            }
        },
        (None, true) => format!("{}\n", serde_json::json!({ "pods": answer.pods })),
        (None, false) => listing::table(&answer.pods),
    };
    print!("{text}");
    0
}

pub fn stop(t: &Target, grace: Option<u64>) -> i32 {
    let key = match pod_key("stop", t.pod.as_deref()) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let req = ControlRequest::Stop {
        grace_seconds: grace,
        pod_key: key.clone(),
    };
    match client::request(&t.socket, &req, TIMEOUT) {
        Ok(_) => 0,
        Err(ClientError::Unreachable(m)) => {
            // Nothing to stop without a supervisor; say what the files say, and fail when a pod
            // there did not finish (its supervisor died: the containers are on their own).
            eprintln!(
                "podinit stop: no supervisor ({m}); reading the status files in {}",
                t.state_dir.display()
            );
            match from_files(&t.state_dir, key.as_ref()) {
                Ok(a) => {
                    let unfinished: Vec<&str> = a
                        .pods
                        .iter()
                        .filter(|p| key.as_ref().is_none_or(|k| k.as_str() == p.pod))
                        .filter(|p| !p.finished)
                        .map(|p| p.pod.as_str())
                        .collect();
                    if unfinished.is_empty() {
                        eprintln!("podinit stop: nothing to stop: the pod(s) finished already");
                        0
                    } else {
                        eprintln!(
                            "podinit stop: pod(s) {} did not finish and no supervisor runs them; \
                             start `podinit supervise` with this state dir to resume and stop them",
                            unfinished.join(", ")
                        );
                        1
                    }
                }
                Err(e) => {
                    eprintln!("podinit stop: {e}");
                    1
                }
            }
        }
        Err(e) => {
            eprintln!("podinit stop: {e}");
            1
        }
    }
}

/// `podinit restart CONTAINER` / `podinit signal CONTAINER SIGNAL`: only a live supervisor can
/// carry them out; the status files cannot, so no supervisor is an error.
pub fn operate(t: &Target, container: &str, op: crate::engine::Operation) -> i32 {
    let cmd = match op {
        crate::engine::Operation::Restart => "restart",
        crate::engine::Operation::Signal(_) => "signal",
    };
    let key = match pod_key(cmd, t.pod.as_deref()) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let req = match op {
        crate::engine::Operation::Restart => ControlRequest::Restart {
            container: container.to_owned(),
            pod_key: key,
        },
        crate::engine::Operation::Signal(signal) => ControlRequest::Signal {
            container: container.to_owned(),
            signal: signal.number(),
            pod_key: key,
        },
    };
    match client::request(&t.socket, &req, TIMEOUT) {
        Ok(_) => 0,
        Err(ClientError::Unreachable(m)) => {
            eprintln!(
                "podinit {cmd}: no supervisor ({m}); only a running supervisor can {cmd} a \
                 container (is --socket / PODINIT_SOCKET the one `podinit supervise` listens on?)"
            );
            1
        }
        Err(e) => {
            eprintln!("podinit {cmd}: {e}");
            1
        }
    }
}
