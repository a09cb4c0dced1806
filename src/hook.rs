//! `podinit hook [STAGE]`: called by the OCI runtime. Reads the state on stdin (leniently), reads
//! the bundle's config.json, and reports the container's lifecycle to the supervisor. It never
//! waits for another container and never holds the runtime's stdio after it exits (it starts no
//! children): it is on the path of every `runc create`.
//!
//! Failure policy when the supervisor is unreachable (`--on-unreachable` or
//! `PODINIT_HOOK_ON_UNREACHABLE`): `fail` (default for createRuntime/prestart: the container is
//! not created, so nothing runs unsupervised) or `ignore` (the container runs; its `podinit exec`
//! then follows its own unreachable-supervisor policy). poststart/poststop always ignore: the
//! runtime cannot undo them anyway.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, ClientError};
use crate::explain;
use crate::oci_state;
use crate::plan::{self, BundleInput, Classified, PodDeclaration};
use crate::proto::ControlRequest;
use crate::{log_debug, log_error, log_warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prestart" => Some(Self::Prestart),
            "createRuntime" | "create-runtime" | "createruntime" => Some(Self::CreateRuntime),
            "poststart" => Some(Self::Poststart),
            "poststop" => Some(Self::Poststop),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnreachable {
    Fail,
    Ignore,
}

pub struct HookOptions {
    pub stage: Option<Stage>,
    pub socket: PathBuf,
    /// The supervisor's state dir: its `sock/` is what a container needs (see [`provide_socket`]).
    pub state_dir: PathBuf,
    pub on_unreachable: Option<OnUnreachable>,
}

/// A hook's answer is in milliseconds or not at all.
const TIMEOUT: Duration = Duration::from_secs(2);

pub fn run(opts: &HookOptions) -> i32 {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(oci_state::MAX_STATE_BYTES as u64 + 1)
        .read_to_end(&mut input)
    {
        log_error!("hook: cannot read the OCI state on stdin: {e}");
        return 1;
    }
    let state = match oci_state::parse(&input) {
        Ok(s) => s,
        Err(e) => {
            log_error!("hook: {e}");
            return 1;
        }
    };
    // Without a stage argument, the state's status tells: creating → createRuntime, stopped → poststop.
    let stage = opts.stage.or(match state.status.as_str() {
        "creating" => Some(Stage::CreateRuntime),
        "stopped" => Some(Stage::Poststop),
        "running" => Some(Stage::Poststart),
        _ => None,
    });
    let Some(stage) = stage else {
        log_error!(
            "hook: container {}: cannot tell the hook stage from status {:?}; pass it as an argument",
            state.id,
            state.status
        );
        return 1;
    };
    let sent = match stage {
        Stage::Prestart | Stage::CreateRuntime => match register_request(&state, &opts.state_dir) {
            Ok(Some(r)) => register(&opts.socket, r),
            Ok(None) => return 0, // a pause container: nothing to supervise
            Err(e) => {
                log_error!("hook: container {}: {e}", state.id);
                return 1;
            }
        },
        Stage::Poststart => {
            let id = state.id.clone();
            client::request(&opts.socket, &ControlRequest::Poststart { id }, TIMEOUT).map(drop)
        }
        Stage::Poststop => {
            let id = state.id.clone();
            client::request(&opts.socket, &ControlRequest::Poststop { id }, TIMEOUT).map(drop)
        }
    };
    let policy = match stage {
        Stage::Prestart | Stage::CreateRuntime => {
            opts.on_unreachable.unwrap_or(OnUnreachable::Fail)
        }
        Stage::Poststart | Stage::Poststop => OnUnreachable::Ignore,
    };
    match sent {
        Ok(()) => {
            log_debug!("hook: {stage:?} of {} reported", state.id);
            0
        }
        Err(ClientError::Unreachable(m)) if policy == OnUnreachable::Ignore => {
            log_warn!(
                "hook: {stage:?} of {}: supervisor unreachable ({m}); continuing unsupervised",
                state.id
            );
            0
        }
        Err(e) => {
            log_error!("hook: {stage:?} of container {}: {e}", state.id);
            1
        }
    }
}

/// A registration, and the pod declaration it names, for when the supervisor asks for it.
struct Registering {
    /// With the declaration's digest only.
    request: ControlRequest,
    pod: PodDeclaration,
    /// The pod spec annotation's text the declaration was built from, if it was.
    pod_spec: Option<String>,
}

/// What a supervisor from before the once-per-pod declaration answers a registration that
/// names its declaration by digest (serde's error for its required `pod`).
const OLDER_SUPERVISOR: &str = "missing field `pod`";

/// The registration by digest; again with the declaration when the supervisor does not have it
/// (the pod's first container, or a race of two), or with every plan for an older supervisor.
fn register(socket: &Path, r: Registering) -> Result<(), ClientError> {
    let reply = client::exchange(socket, &r.request, TIMEOUT)?;
    if reply.ok {
        return Ok(());
    }
    let error = reply.error.unwrap_or_default();
    let older = error.contains(OLDER_SUPERVISOR);
    if !reply.need_declaration && !older {
        return Err(ClientError::Refused(error));
    }
    let mut again = r.request;
    if let ControlRequest::Register { pod, pod_spec, .. } = &mut again {
        match (r.pod, r.pod_spec) {
            (PodDeclaration::Spec { .. }, Some(text)) if !older => *pod_spec = Some(text),
            (declared, _) => *pod = Some(declared),
        }
    }
    client::request(socket, &again, TIMEOUT).map(drop)
}

fn register_request(
    state: &oci_state::OciState,
    state_dir: &Path,
) -> Result<Option<Registering>, String> {
    let bundle = state
        .bundle
        .clone()
        .ok_or("the OCI state has no bundle path")?;
    let pid = state.pid.ok_or(
        "the OCI state has no init pid (createRuntime/prestart must run in the runtime namespace)",
    )?;
    let path = explain::config_path(Path::new(&bundle));
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    match plan::classify_bundle(&BundleInput {
        config: &config,
        fallback_name: &state.id,
    })
    .map_err(|e| e.to_string())?
    {
        Classified::Ignored { .. } => Ok(None),
        Classified::Container { plan, pod, pod_key } => {
            provide_socket(&config, Path::new(&bundle), pid, state_dir)?;
            let pod_spec = config
                .pointer("/annotations")
                .and_then(|a| a.get(plan::keys::POD_SPEC))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            Ok(Some(Registering {
                request: ControlRequest::Register {
                    id: state.id.clone(),
                    pid,
                    bundle,
                    plan,
                    pod: None,
                    pod_spec: None,
                    pod_digest: Some(plan::declaration::digest(&pod)),
                    pod_key: Some(pod_key.key),
                },
                pod,
                pod_spec,
            }))
        }
    }
}

/// For bundles `podinit inject` did not prepare (hooks.d, Kata guest hooks, containerd's base
/// spec, with podinit as the init through `--init-path` or the image): bind-mount the
/// supervisor's `sock/` directory read-only at `/.podinit/sock` inside the container, the way the
/// NVIDIA hook injects devices. createRuntime runs after the runtime set up the container's mounts
/// and before pivot_root, so the rootfs is still at its host path inside the container's mount
/// namespace. Done in a forked child, which enters that namespace and exits.
fn provide_socket(
    config: &serde_json::Value,
    bundle: &Path,
    pid: i32,
    state_dir: &Path,
) -> Result<(), String> {
    let injected = config["mounts"].as_array().is_some_and(|ms| {
        ms.iter().any(|m| {
            m.get("destination").and_then(serde_json::Value::as_str)
                == Some(crate::proto::CONTAINER_SOCK_DIR)
        })
    });
    if injected {
        return Ok(());
    }
    let root = config
        .pointer("/root/path")
        .and_then(serde_json::Value::as_str)
        .ok_or("config.json has no root.path")?;
    let root = if Path::new(root).is_absolute() {
        PathBuf::from(root)
    } else {
        bundle.join(root)
    };
    let target = root.join(crate::proto::CONTAINER_SOCK_DIR.trim_start_matches('/'));
    let source = state_dir.join("sock");
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|e| format!("container init {pid}: mount namespace: {e}"))?;
    // SAFETY: the hook is single-threaded; the child only makes system calls and leaves by _exit.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            use nix::mount::{MsFlags, mount};
            let remount = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV;
            let ok = nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS).is_ok()
                && std::fs::create_dir_all(&target).is_ok()
                && mount(
                    Some(&source),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .is_ok()
                && mount(None::<&str>, &target, None::<&str>, remount, None::<&str>).is_ok();
            // SAFETY: end the child without running the hook's exit path twice.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => {
                log_debug!(
                    "hook: mounted {} at {} in container init {pid}",
                    source.display(),
                    target.display()
                );
                Ok(())
            }
            other => Err(format!(
                "could not mount the supervisor socket into the container at {} ({other:?})",
                target.display()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ContainerPlan;
    use crate::proto;

    /// The request as a supervisor from before the once-per-pod declaration decodes it.
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", tag = "op")]
    #[allow(dead_code)] // only decoded
    enum OlderRequest {
        Register {
            id: String,
            pid: i32,
            bundle: String,
            plan: Box<ContainerPlan>,
            pod: PodDeclaration,
        },
    }

    /// The hook tells an older supervisor by the error it gives a registration by digest, and
    /// then sends the plans: the marker must be what that supervisor says.
    #[test]
    fn an_older_supervisor_is_recognised_by_its_refusal() {
        let config = serde_json::json!({"annotations": {"io.podinit.container-name": "a"}});
        let Ok(Classified::Container { plan, pod, .. }) = plan::classify_bundle(&BundleInput {
            config: &config,
            fallback_name: "a",
        }) else {
            panic!("not a container")
        };
        let line = proto::encode(&ControlRequest::Register {
            id: "a-1".into(),
            pid: 7,
            bundle: "/b".into(),
            plan,
            pod_digest: Some(plan::declaration::digest(&pod)),
            pod: None,
            pod_spec: None,
            pod_key: None,
        });
        let e = proto::decode::<OlderRequest>(&line)
            .unwrap_err()
            .to_string();
        assert!(e.contains(OLDER_SUPERVISOR), "{e}");
    }
}
