//! The supervisor's socket protocol: versioned, line-delimited JSON (see `docs/protocol.md`).
//!
//! Two sockets, two audiences:
//! - the **control socket** (`PODINIT_SOCKET`, default `/run/podinit/podinit.sock`, mode 0600):
//!   hooks and the CLI, in the runtime's namespaces; never mounted into a container;
//! - the **init socket** (`<state-dir>/sock/init.sock`, mode 0666, its directory bind-mounted
//!   read-only into every managed container at [`CONTAINER_SOCK_DIR`]): each container's
//!   `podinit exec`. A connection acts for the container whose registered init pid equals the
//!   peer's `SO_PEERCRED` pid, and for nothing else; what a client says about itself is never
//!   trusted.

use serde::{Deserialize, Serialize};

use crate::engine::{ExitStatus, HandlerKind, Phase, ProbeKind, TeardownReport};
use crate::plan::{ContainerPlan, PodDeclaration, PodKey};

/// Field names inside a message are snake_case on the wire (`pod_key`, `grace_seconds`,
/// `exit_code`): `rename_all` renames the variants (the `op`) only. The camelCase spellings the
/// protocol document once gave are accepted as aliases on decode; the wire keeps snake_case so
/// inits of running containers, which may be an older binary, still understand their
/// supervisor.
pub const VERSION: u32 = 1;

/// One message is one line; a longer line is a protocol error and closes the connection.
/// The longest a message may be on either socket (the control socket's limit).
pub const MAX_LINE: usize = MAX_CONTROL_LINE;

/// Control socket (root-only: hooks and the CLI). The longest line is a pod's first `register`:
/// the container's own plan and the pod spec annotation's text once (issue 15 finding 7; the
/// 256 KiB limit this replaced refused a ~140 KB spec whose plans it sent). Kubernetes bounds
/// all of a pod's annotations at 256 KiB; an agent that declares a whole PodSpec some other way
/// is bounded by what etcd stores (a 1.5 MiB request). Escaped inside a JSON string that is at
/// most 3 MiB, and the own plan at most about as much again: 8 MiB. A line never carries every
/// container's plan any more (a minimal container's plan is ~40 times its spec entry), except
/// from a hook older than that, whose plans get the same 8 MiB.
pub const MAX_CONTROL_LINE: usize = 8 << 20;

/// Containers' socket (any container): an init's messages are a few hundred bytes; a
/// container cannot make the supervisor buffer more than this per connection.
pub const MAX_INIT_LINE: usize = 64 * 1024;

/// Where a container sees the init socket's directory, and the binary (bind mounts by `inject`).
pub const CONTAINER_DIR: &str = "/.podinit";
pub const CONTAINER_SOCK_DIR: &str = "/.podinit/sock";
pub const CONTAINER_BINARY: &str = "/.podinit/podinit";
/// A small tmpfs `inject` mounts for the container's init to write to (the rootfs may be
/// read-only), owned by the container's user.
pub const CONTAINER_RUN_DIR: &str = "/.podinit/run";
/// Why the pod ends, written by the container's init when its teardown reaches it
/// (`engine::TeardownReport::file_text`: `KEY=VALUE` lines a shell can source).
pub const CONTAINER_TEARDOWN_FILE: &str = "/.podinit/run/teardown";
/// `inject --no-hooks`: the bundle's claim directory, seen by that container only; its init
/// reads the token there and unlinks it (`claim.rs`).
pub const CONTAINER_CLAIM_DIR: &str = "/.podinit/claim";
pub const INIT_SOCKET_NAME: &str = "init.sock";

pub const DEFAULT_SOCKET: &str = "/run/podinit/podinit.sock";
pub const DEFAULT_STATE_DIR: &str = "/run/podinit";

/// Hooks and the CLI → supervisor (control socket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum ControlRequest {
    /// createRuntime/prestart: the container exists, its init (`pid`, host namespace) is held by
    /// the runtime until `start`. The pod's declaration travels once per pod: a registration
    /// names it by `pod_digest`, and brings it (`pod_spec`, the pod spec annotation's text, or
    /// `pod` for the other declarations) only when the supervisor answers `need_declaration`.
    /// A hook older than that sends `pod` every time and no digest: still taken.
    Register {
        id: String,
        pid: i32,
        bundle: String,
        plan: Box<ContainerPlan>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod: Option<PodDeclaration>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod_spec: Option<String>,
        /// `plan::declaration::digest` of the declaration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pod_digest: Option<String>,
        /// The pod the container belongs to (`plan::identify`); absent (a hook older than
        /// multi-pod supervisors): the default pod.
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "podKey")]
        pod_key: Option<PodKey>,
    },
    /// poststart: informational (runc runs it before the user process exists).
    Poststart { id: String },
    /// poststop: the container was deleted.
    Poststop { id: String },
    /// One pod's status document (`pod_key`), or, without a key, the list of pods and the one
    /// pod's document when there is exactly one.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "podKey")]
        pod_key: Option<PodKey>,
    },
    /// Pod deletion; a later stop with a smaller grace shortens the deadline. Without a key:
    /// every pod, and the supervisor exits once they are all gone.
    Stop {
        #[serde(alias = "graceSeconds")]
        grace_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "podKey")]
        pod_key: Option<PodKey>,
    },
    /// `podinit restart`: one container's process stopped and started again, the others
    /// untouched. Without a key: the only live pod.
    Restart {
        container: String,
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "podKey")]
        pod_key: Option<PodKey>,
    },
    /// `podinit signal`: a signal to one container's main process.
    Signal {
        container: String,
        signal: i32,
        #[serde(default, skip_serializing_if = "Option::is_none", alias = "podKey")]
        pod_key: Option<PodKey>,
    },
}

/// One line of `podinit status`'s pod list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSummary {
    pub pod: String,
    pub phase: String,
    /// The supervisor is done with the pod (its journal ends with the final record).
    pub finished: bool,
    pub containers: Vec<ContainerSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSummary {
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlReply {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    /// For `Status`: the same document as the pod's `status.json`.
    pub status: Option<serde_json::Value>,
    /// For `Status` without a pod key: every pod the supervisor knows, live or finished.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pods: Option<Vec<PodSummary>>,
    /// For `Register` (with `ok: false`): the supervisor does not have the pod's declaration
    /// the registration names; send the registration again with it.
    #[serde(
        rename = "need_declaration",
        skip_serializing_if = "std::ops::Not::not",
        default
    )]
    pub need_declaration: bool,
}

/// A container's init → supervisor (init socket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum InitMessage {
    /// First message: the supervisor answers with `Welcome` (or closes the connection).
    Hello,
    /// First message of an init of a bundle `inject --no-hooks` prepared: the pending
    /// registration `claim` (its nonce) with its one-shot `token`. Answered with `Welcome`, or
    /// `Refused` and the connection closed (`claim.rs`). Later connections say `Hello`.
    Claim {
        claim: String,
        token: String,
    },
    /// The process was exec'd (after a release or a restart).
    Started {
        pid: i32,
    },
    /// `oom_killed` and `message` (the termination message) are optional on the wire: an
    /// older init sends neither, an older supervisor ignores both.
    Exited {
        status: ExitStatus,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        oom_killed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    HandlerDone {
        handler: HandlerKind,
        ok: bool,
    },
    Probe {
        probe: ProbeKind,
        ok: bool,
    },
    /// A stop signal reached the init from outside podinit (the runtime's `kill`). The init did
    /// not pass it on: the supervisor decides when the app gets it, and that nothing restarts it.
    AgentStop {
        signal: i32,
    },
}

/// Supervisor → a container's init.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum SupervisorMessage {
    Welcome {
        name: String,
        plan: Box<ContainerPlan>,
    },
    /// A claim was refused: why. The connection is closed after it.
    Refused {
        error: String,
    },
    Release,
    Restart,
    RunHandler {
        handler: HandlerKind,
    },
    StartProbes,
    /// `keep_readiness`: stop startup and liveness only (a container being stopped stays probed
    /// for readiness). Absent, from an older supervisor, or ignored by an older init: all stop.
    StopProbes {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keep_readiness: bool,
    },
    Signal {
        signal: i32,
    },
    Kill,
    /// The pod's teardown reached this container: why, and the apps' exit codes. An older init
    /// ignores it (and logs that it did).
    Teardown {
        #[serde(flatten)]
        report: TeardownReport,
    },
    /// Exit with this code; nothing in the container runs again. Processes still left get the
    /// stop signal, then SIGKILL after `leftover_grace_ms` (absent, from an older supervisor:
    /// at once, as before).
    Finish {
        #[serde(alias = "exitCode")]
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leftover_grace_ms: Option<u64>,
    },
}

/// Every line carries the version, so either side can refuse a peer it does not speak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub v: u32,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooLong,
    NotJson(String),
    Version(u32),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLong => write!(f, "message longer than {MAX_LINE} bytes"),
            DecodeError::NotJson(e) => write!(f, "not a protocol message: {e}"),
            DecodeError::Version(v) => write!(
                f,
                "protocol version {v} is not supported (this podinit speaks {VERSION})"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

pub fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    // Invariant: our message types contain only strings, numbers, bools, maps and sequences
    // with string keys, which serde_json always serializes.
    let mut line =
        serde_json::to_vec(&Envelope { v: VERSION, body }).expect("protocol types serialize");
    line.push(b'\n');
    line
}

/// The version check reads only `v`; serde skips every other field without building it.
#[derive(Deserialize)]
struct VersionOnly {
    v: Option<u64>,
}

/// One line → one message. The body is parsed straight from the bytes (`v` is an unknown field
/// to it and ignored): going through a `serde_json::Value` and the flattened [`Envelope`] parsed
/// and buffered every `register` (which carries the whole pod's plans) three times, a quarter of
/// the supervisor's CPU while a 64-container pod registered.
pub fn decode<T: for<'de> Deserialize<'de>>(line: &[u8]) -> Result<T, DecodeError> {
    if line.len() > MAX_LINE {
        return Err(DecodeError::TooLong);
    }
    let not_json = |e: serde_json::Error| DecodeError::NotJson(e.to_string());
    match serde_json::from_slice::<VersionOnly>(line)
        .map_err(not_json)?
        .v
    {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Err(DecodeError::Version(v.min(u64::from(u32::MAX)) as u32)),
        None => return Err(DecodeError::NotJson("missing \"v\"".into())),
    }
    serde_json::from_slice(line).map_err(not_json)
}

/// The pod result as a process exit code: 0 iff Succeeded.
pub fn phase_exit_code(phase: Phase) -> i32 {
    if phase == Phase::Succeeded { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn round_trip() {
        let msgs = [
            InitMessage::Hello,
            InitMessage::Started { pid: 7 },
            InitMessage::Exited {
                status: ExitStatus::Signal(9),
                oom_killed: false,
                message: None,
            },
            InitMessage::Exited {
                status: ExitStatus::Signal(9),
                oom_killed: true,
                message: Some("out of memory\n".into()),
            },
            InitMessage::HandlerDone {
                handler: HandlerKind::PreStop,
                ok: false,
            },
            InitMessage::Probe {
                probe: ProbeKind::Readiness,
                ok: true,
            },
            InitMessage::AgentStop { signal: 15 },
            InitMessage::Claim {
                claim: "0123456789abcdef".into(),
                token: "ab".repeat(32),
            },
        ];
        for m in msgs {
            let line = encode(&m);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(decode::<InitMessage>(&line[..line.len() - 1]).unwrap(), m);
        }
        let s = SupervisorMessage::Finish {
            exit_code: 0,
            leftover_grace_ms: Some(1500),
        };
        assert_eq!(decode::<SupervisorMessage>(&encode(&s)).unwrap(), s);
    }

    #[rstest]
    #[case::garbage(b"\x00\xff".as_slice())]
    #[case::no_version(br#"{"op":"hello"}"#.as_slice())]
    #[case::future_version(br#"{"v":2,"op":"hello"}"#.as_slice())]
    #[case::huge_version(br#"{"v":99999999999999,"op":"hello"}"#.as_slice())]
    #[case::unknown_op(br#"{"v":1,"op":"release-everyone"}"#.as_slice())]
    #[case::wrong_type(br#"{"v":1,"op":"started","pid":"1"}"#.as_slice())]
    #[case::array(br#"[1]"#.as_slice())]
    #[case::version_string(br#"{"v":"1","op":"hello"}"#.as_slice())]
    #[case::version_negative(br#"{"v":-1,"op":"hello"}"#.as_slice())]
    #[case::trailing_garbage(br#"{"v":1,"op":"hello"} x"#.as_slice())]
    fn hostile_lines_are_errors(#[case] line: &[u8]) {
        assert!(decode::<InitMessage>(line).is_err());
    }

    #[rstest]
    #[case::version_last(br#"{"op":"started","pid":7,"v":1}"#.as_slice())]
    #[case::unknown_field(br#"{"v":1,"op":"started","pid":7,"newer":{"x":[1]}}"#.as_slice())]
    fn field_order_and_unknown_fields_do_not_matter(#[case] line: &[u8]) {
        assert_eq!(
            decode::<InitMessage>(line),
            Ok(InitMessage::Started { pid: 7 })
        );
    }

    /// The camelCase field names the protocol document once gave still work; the wire keeps
    /// snake_case.
    #[test]
    fn documented_camel_case_field_names_are_accepted() {
        let stop: ControlRequest =
            decode(br#"{"v":1,"op":"stop","graceSeconds":3,"podKey":"p1"}"#).unwrap();
        let ControlRequest::Stop {
            grace_seconds,
            pod_key,
        } = stop
        else {
            panic!("not a stop: {stop:?}")
        };
        assert_eq!(grace_seconds, Some(3));
        assert_eq!(pod_key.as_ref().map(PodKey::as_str), Some("p1"));
        let finish: SupervisorMessage = decode(br#"{"v":1,"op":"finish","exitCode":7}"#).unwrap();
        assert_eq!(
            finish,
            SupervisorMessage::Finish {
                exit_code: 7,
                leftover_grace_ms: None
            }
        );
        let wire = encode(&SupervisorMessage::Finish {
            exit_code: 7,
            leftover_grace_ms: None,
        });
        assert!(String::from_utf8_lossy(&wire).contains("\"exit_code\":7"));
    }

    /// An init from before OOM and termination-message reporting, and one after, both decode;
    /// an exit without either says nothing more on the wire than it did.
    #[test]
    fn exit_details_are_optional_both_ways() {
        let old: InitMessage = decode(br#"{"v":1,"op":"exited","status":{"code":3}}"#).unwrap();
        assert_eq!(
            old,
            InitMessage::Exited {
                status: ExitStatus::Code(3),
                oom_killed: false,
                message: None
            }
        );
        assert_eq!(
            String::from_utf8_lossy(&encode(&old)).trim_end(),
            r#"{"v":1,"op":"exited","status":{"code":3}}"#
        );
    }

    /// A plan and declaration as the hook makes them, for a pod of `sc` and `app`.
    fn classified() -> (Box<ContainerPlan>, PodDeclaration) {
        let spec = r#"{"initContainers":[{"name":"sc","restartPolicy":"Always"}],"containers":[{"name":"app"}]}"#;
        let config = serde_json::json!({"annotations": {
            "io.podinit.container-name": "app", "io.podinit.pod-spec": spec}});
        match crate::plan::classify_bundle(&crate::plan::BundleInput {
            config: &config,
            fallback_name: "app",
        }) {
            Ok(crate::plan::Classified::Container { plan, pod, .. }) => (plan, pod),
            other => panic!("{other:?}"),
        }
    }

    fn register(pod: Option<PodDeclaration>, pod_digest: Option<String>) -> ControlRequest {
        ControlRequest::Register {
            id: "c-1".into(),
            pid: 7,
            bundle: "/b".into(),
            plan: classified().0,
            pod,
            pod_spec: None,
            pod_digest,
            pod_key: None,
        }
    }

    /// A registration by digest carries no declaration on the wire; one that brings it, and an
    /// older hook's (the declaration, no digest), decode as sent.
    #[test]
    fn a_registration_names_its_declaration_by_digest() {
        let (_, pod) = classified();
        let digest = crate::plan::declaration::digest(&pod);
        let by_digest = register(None, Some(digest.clone()));
        let wire = encode(&by_digest);
        let text = String::from_utf8_lossy(&wire);
        assert!(
            !text.contains("\"pod\"") && text.contains(&digest),
            "{text}"
        );
        assert_eq!(decode::<ControlRequest>(&wire), Ok(by_digest));
        for req in [
            register(Some(pod.clone()), Some(digest)),
            register(Some(pod), None),
        ] {
            assert_eq!(decode::<ControlRequest>(&encode(&req)), Ok(req));
        }
    }

    #[test]
    fn need_declaration_is_said_only_when_true() {
        let ask = ControlReply {
            ok: false,
            error: Some("send it".into()),
            status: None,
            pods: None,
            need_declaration: true,
        };
        assert_eq!(decode::<ControlReply>(&encode(&ask)), Ok(ask.clone()));
        let plain = ControlReply {
            need_declaration: false,
            ..ask
        };
        assert!(!String::from_utf8_lossy(&encode(&plain)).contains("need_declaration"));
        let old: ControlReply = decode(br#"{"v":1,"ok":false,"error":"x"}"#).unwrap();
        assert!(!old.need_declaration);
    }

    /// Hostile digests: wrong shape, or megabytes long, are refused by name, and the error
    /// does not echo megabytes back.
    #[rstest]
    #[case::garbage("sha256:xyz".to_owned())]
    #[case::md5(format!("md5:{}", "0".repeat(32)))]
    #[case::huge(format!("sha256:{}", "a".repeat(4 << 20)))]
    fn a_malformed_digest_is_refused(#[case] digest: String) {
        let req = register(None, Some(digest));
        let req: ControlRequest = decode(&encode(&req)).expect("well-typed");
        let e = crate::ranges::control(&req).unwrap_err();
        assert_eq!(e.field, "pod_digest");
        assert!(e.to_string().len() < 300, "{e}");
    }

    #[test]
    fn oversized_lines_are_refused() {
        let line = vec![b' '; MAX_LINE + 1];
        assert_eq!(decode::<InitMessage>(&line), Err(DecodeError::TooLong));
    }
}
