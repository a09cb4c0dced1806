//! `inject` without hooks: what the container's init will claim (`claim.rs` says why each part):
//! the pending claim in `<state-dir>/claims/NONCE.json` (root's, 0600; the claim, then its
//! pod's declaration on a line of its own), the token in
//! `BUNDLE/podinit-claim-NONCE/token` (the container user's, 0400, in a 0700 directory of its
//! own), and the bind mount of that directory at `/.podinit/claim`. A second `inject` keeps the
//! mount's nonce and writes a fresh token over the old claim.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::claim::{self, PendingClaim};
use crate::inject::{InjectError, InjectOptions};
use crate::plan::{self, BundleInput, Classified};
use crate::proto::CONTAINER_CLAIM_DIR;

/// What [`prepare`] wrote, to take back if config.json cannot be written.
pub struct Written {
    pub mount_added: bool,
    files: Vec<PathBuf>,
}

impl Written {
    pub fn undo(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Adds the claim mount to `config` (in memory) and writes the claim and its token, for the
/// container `opts.id`. `path` is the bundle's config.json, whose container has a pid namespace
/// of its own (`inject::choose` said so).
pub fn prepare(
    path: &Path,
    config: &mut Value,
    opts: &InjectOptions,
) -> Result<Written, InjectError> {
    let fail = |why: String| InjectError::Claim(path.to_path_buf(), why);
    let bundle = path
        .parent()
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| fail(format!("the bundle directory: {e}")))?;
    let (nonce, mount_added) = claim_mount(config, &bundle)?;
    let classified = plan::classify_bundle(&BundleInput {
        config,
        fallback_name: &opts.id,
    })
    .map_err(|e| fail(e.to_string()))?;
    let Classified::Container { plan, pod, pod_key } = classified else {
        // Nothing to supervise: nothing to claim.
        return Ok(Written {
            mount_added,
            files: Vec::new(),
        });
    };
    let (uid, gid) = host_ids(config);
    let start_at_once = claim::starts_ahead_of_plan(&plan, &pod);
    let token =
        claim::random_hex(claim::TOKEN_HEX / 2).map_err(|e| fail(format!("getrandom: {e}")))?;
    let pending = PendingClaim {
        id: opts.id.clone(),
        bundle: bundle.to_string_lossy().into_owned(),
        plan,
        pod_digest: Some(plan::declaration::digest(&pod)),
        pod_key: pod_key.key,
        token: token.clone(),
        uid,
        created_ns: claim::boottime_ns(),
    };
    let claims = claim::claims_dir(&opts.state_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&claims)
        .map_err(|e| fail(format!("{}: {e}", claims.display())))?;
    // Invariant: `nonce` is hex (made or checked by `claim_mount`).
    let claim_file = claim::claim_file(&opts.state_dir, &nonce).expect("a hex nonce");
    claim::write_private(&claim_file, &claim::encode(&pending, &pod), 0o600, None)
        .map_err(|e| fail(format!("{}: {e}", claim_file.display())))?;
    let written = Written {
        mount_added,
        files: vec![claim_file],
    };
    let dir = bundle.join(format!("{}{nonce}", claim::DIR_PREFIX));
    let token_file = dir.join(claim::TOKEN_FILE);
    let made = (|| -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        claim::write_private(
            &token_file,
            claim::token_file_text(&nonce, &token, start_at_once).as_bytes(),
            0o400,
            Some((uid, gid)),
        )
    })();
    if let Err(e) = made {
        written.undo();
        return Err(fail(format!("{}: {e}", token_file.display())));
    }
    Ok(written)
}

/// The nonce of the claim mount already there, or a new one with its mount added.
fn claim_mount(config: &mut Value, bundle: &Path) -> Result<(String, bool), InjectError> {
    let not_oci = |why| InjectError::NotOci(bundle.join("config.json"), why);
    let mounts = config
        .as_object_mut()
        .ok_or_else(|| not_oci("the top level is not an object"))?
        .entry("mounts")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| not_oci("mounts is not an array"))?;
    let existing = mounts
        .iter()
        .find(|m| m.get("destination").and_then(Value::as_str) == Some(CONTAINER_CLAIM_DIR))
        .and_then(|m| m.get("source").and_then(Value::as_str))
        .and_then(|s| s.rsplit('/').next())
        .and_then(|d| d.strip_prefix(claim::DIR_PREFIX))
        .filter(|n| claim::is_hex(n, claim::NONCE_HEX))
        .map(str::to_owned);
    if let Some(nonce) = existing {
        return Ok((nonce, false));
    }
    mounts.retain(|m| m.get("destination").and_then(Value::as_str) != Some(CONTAINER_CLAIM_DIR));
    let nonce = claim::random_hex(claim::NONCE_HEX / 2)
        .map_err(|e| InjectError::Claim(bundle.join("config.json"), format!("getrandom: {e}")))?;
    let source = bundle.join(format!("{}{nonce}", claim::DIR_PREFIX));
    mounts.push(json!({
        "destination": CONTAINER_CLAIM_DIR,
        "type": "bind",
        "source": source.to_string_lossy(),
        "options": ["rbind", "rw", "nosuid", "nodev", "noexec"],
    }));
    Ok((nonce, true))
}

/// The process's uid and gid as the host sees them: through the user namespace's mappings
/// where the container has one.
pub fn host_ids(config: &Value) -> (u32, u32) {
    let user = config.pointer("/process/user");
    let id = |k: &str| {
        user.and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    let map = |inner: u32, key: &str| {
        config
            .pointer(&format!("/linux/{key}"))
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter().find_map(|m| {
                    let f = |k: &str| m.get(k).and_then(Value::as_u64);
                    let (c, h, n) = (f("containerID")?, f("hostID")?, f("size")?);
                    let inner = u64::from(inner);
                    (inner >= c && inner < c + n)
                        .then(|| u32::try_from(h + (inner - c)).ok())
                        .flatten()
                })
            })
            .unwrap_or(inner)
    };
    (map(id("uid"), "uidMappings"), map(id("gid"), "gidMappings"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::{HookMode, Outcome, inject};
    use crate::inject::{PidNamespace, pid_namespace};
    use rstest::rstest;
    use std::os::unix::fs::MetadataExt;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podinit-nohooks-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("bundle")).unwrap();
        d
    }

    fn opts(dir: &Path) -> InjectOptions {
        InjectOptions {
            binary: "/usr/local/bin/podinit".into(),
            socket: dir.join("ctl.sock"),
            state_dir: dir.join("state"),
            log_level: None,
            hooks: HookMode::NoHooks,
            id: "pod-1-app".into(),
        }
    }

    fn config(namespaces: Value) -> Value {
        json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["sh"], "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "annotations": {"io.podinit.container-name": "app"},
            "hooks": {"prestart": [{"path": "/usr/bin/nvidia-container-runtime-hook"}],
                      "createRuntime": [{"path": "/usr/local/bin/podinit", "args": ["podinit", "hook", "createRuntime"]}]},
            "linux": {"namespaces": namespaces}
        })
    }

    /// The claim dir's nonce, the token file and the claim file's token.
    fn claim_state(dir: &Path) -> (String, claim::Token, String) {
        let c: Value =
            serde_json::from_slice(&std::fs::read(dir.join("bundle/config.json")).unwrap())
                .unwrap();
        let mounts = c["mounts"].as_array().unwrap();
        let m = mounts
            .iter()
            .find(|m| m["destination"] == CONTAINER_CLAIM_DIR)
            .expect("the claim mount");
        let source = PathBuf::from(m["source"].as_str().unwrap());
        let nonce = source
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .strip_prefix(claim::DIR_PREFIX)
            .unwrap()
            .to_owned();
        let token_path = source.join(claim::TOKEN_FILE);
        let meta = std::fs::metadata(&token_path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o400, "the token file's mode");
        assert_eq!(
            std::fs::metadata(&source).unwrap().mode() & 0o777,
            0o700,
            "the claim directory's mode"
        );
        let text = std::fs::read_to_string(&token_path).unwrap();
        let file = claim::claim_file(&dir.join("state"), &nonce).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let bytes = std::fs::read(&file).unwrap();
        let decoded = claim::decode(&bytes).unwrap();
        let declared = plan::declaration::digest(&decoded.pod.parse().unwrap());
        let pending = decoded.claim;
        assert_eq!(
            pending.pod_digest.as_deref(),
            Some(declared.as_str()),
            "the declaration follows the claim, and the claim names its digest"
        );
        assert_eq!(
            (pending.id.as_str(), pending.plan.name.as_str()),
            ("pod-1-app", "app")
        );
        assert!(
            !c.to_string().contains(&pending.token),
            "the token is not in config.json"
        );
        (
            nonce,
            claim::parse_token_file(&text).unwrap(),
            pending.token,
        )
    }

    #[test]
    fn no_hooks_leaves_a_claim_and_a_token_and_no_hook_of_ours() {
        let dir = scratch("claim");
        let path = dir.join("bundle/config.json");
        let c = config(json!([{"type": "pid"}, {"type": "mount"}]));
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        assert!(matches!(
            inject(&dir.join("bundle"), &opts(&dir)).unwrap(),
            Outcome::Changed(c) if c.claim
        ));
        let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            after["hooks"],
            json!({"prestart": [{"path": "/usr/bin/nvidia-container-runtime-hook"}]}),
            "podinit's hooks removed, the NVIDIA hook kept"
        );
        assert_eq!(after["process"]["args"][0], crate::proto::CONTAINER_BINARY);
        let (nonce, file, claimed) = claim_state(&dir);
        assert_eq!(
            (file.nonce.as_str(), file.token.as_str()),
            (nonce.as_str(), claimed.as_str())
        );
        assert!(
            !file.start_at_once,
            "a pod that declares nothing waits for its supervisor's settle rule"
        );
        let token = file.token;
        // Again: the same mount (config.json unchanged), a fresh token for the same claim.
        assert!(matches!(
            inject(&dir.join("bundle"), &opts(&dir)).unwrap(),
            Outcome::Unchanged(c) if c.claim
        ));
        let (nonce2, file2, claimed2) = claim_state(&dir);
        let token2 = file2.token;
        assert_eq!(nonce2, nonce);
        assert_ne!(token2, token, "a fresh token");
        assert_eq!(token2, claimed2);
        // And back to hooks: the claim mount goes, the hooks come back.
        let hooked = InjectOptions {
            hooks: HookMode::Hooks,
            ..opts(&dir)
        };
        assert!(matches!(
            inject(&dir.join("bundle"), &hooked).unwrap(),
            Outcome::Changed(c) if !c.claim
        ));
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(!back.to_string().contains(CONTAINER_CLAIM_DIR), "{back}");
        assert_eq!(back["hooks"]["createRuntime"].as_array().unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The token file says `start-at-once` where the pod's declaration opens the container's
    /// gate as it registers and its plan keeps the termination message's defaults.
    #[rstest]
    #[case::a_plain_app(json!({"containers": [{"name": "app"}, {"name": "b"}]}), true)]
    #[case::an_app_behind_a_native_sidecar(
        json!({"initContainers": [{"name": "sc", "restartPolicy": "Always"}],
               "containers": [{"name": "app"}]}), false)]
    #[case::an_app_behind_an_earlier_post_start(
        json!({"containers": [
            {"name": "b", "lifecycle": {"postStart": {"exec": {"command": ["true"]}}}},
            {"name": "app"}]}), false)]
    #[case::a_termination_message_elsewhere(
        json!({"containers": [{"name": "app", "terminationMessagePath": "/tmp/msg"}]}), false)]
    #[case::fallback_to_logs(
        json!({"containers": [
            {"name": "app", "terminationMessagePolicy": "FallbackToLogsOnError"}]}), false)]
    fn no_hooks_says_whether_the_app_starts_at_once(#[case] spec: Value, #[case] at_once: bool) {
        let dir = scratch(&format!("at-once-{at_once}-{}", spec.to_string().len()));
        let path = dir.join("bundle/config.json");
        let mut c = config(json!([{"type": "pid"}, {"type": "mount"}]));
        c["annotations"]["io.podinit.pod-spec"] = json!(spec.to_string());
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        inject(&dir.join("bundle"), &opts(&dir)).unwrap();
        let (_, file, _) = claim_state(&dir);
        assert_eq!(file.start_at_once, at_once, "{spec}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_hooks_refuses_a_shared_pid_namespace_leaving_all_unchanged() {
        let dir = scratch("sharedpid");
        let path = dir.join("bundle/config.json");
        let bytes = serde_json::to_vec(&config(json!([{"type": "pid", "path": "/proc/1/ns/pid"}])))
            .unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let e = inject(&dir.join("bundle"), &opts(&dir)).unwrap_err();
        assert!(e.to_string().contains("pid namespace"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert!(!claim::claims_dir(&dir.join("state")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[rstest]
    #[case::root(json!({}), (0, 0))]
    #[case::user(json!({"process": {"user": {"uid": 1000, "gid": 100}}}), (1000, 100))]
    #[case::mapped(json!({"process": {"user": {"uid": 5, "gid": 0}},
        "linux": {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                  "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10}]}}), (100005, 200000))]
    #[case::outside_the_mapping(json!({"process": {"user": {"uid": 70000}},
        "linux": {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}), (70000, 0))]
    fn host_ids_follow_the_user_namespace(#[case] config: Value, #[case] want: (u32, u32)) {
        assert_eq!(host_ids(&config), want);
    }

    #[rstest]
    #[case::own(json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}), PidNamespace::Own)]
    #[case::own_empty_path(json!({"linux": {"namespaces": [{"type": "pid", "path": ""}]}}), PidNamespace::Own)]
    #[case::joined(json!({"linux": {"namespaces": [{"type": "pid", "path": "/proc/1/ns/pid"}]}}),
        PidNamespace::Joined("/proc/1/ns/pid".into()))]
    #[case::none(json!({"linux": {"namespaces": [{"type": "mount"}]}}), PidNamespace::Host)]
    #[case::no_linux(json!({}), PidNamespace::Host)]
    fn the_pid_namespace(#[case] config: Value, #[case] want: PidNamespace) {
        assert_eq!(pid_namespace(&config), want);
    }

    /// The default (no `--hooks`, no `--no-hooks`): a claim and no hook of ours for a container
    /// with a pid namespace of its own; hooks and no claim for one in the host's pid namespace
    /// or joining another's; `--hooks` forces the hooks on the first too. The outcome says
    /// which and why.
    #[rstest]
    #[case::own(json!([{"type": "pid"}, {"type": "mount"}]), HookMode::Auto, true, "the default for a pid namespace of its own")]
    #[case::host(json!([{"type": "mount"}]), HookMode::Auto, false, "the runtime's (host's) pid namespace")]
    #[case::joined(json!([{"type": "pid", "path": "/proc/4242/ns/pid"}]), HookMode::Auto, false,
        "the pid namespace /proc/4242/ns/pid it joins")]
    #[case::forced_hooks(json!([{"type": "pid"}]), HookMode::Hooks, false, "--hooks")]
    #[case::forced_claim(json!([{"type": "pid"}]), HookMode::NoHooks, true, "--no-hooks asked")]
    fn the_default_claims_only_in_a_pid_namespace_of_its_own(
        #[case] namespaces: Value,
        #[case] asked: HookMode,
        #[case] claim: bool,
        #[case] why: &str,
    ) {
        let dir = scratch(&format!("auto-{claim}-{}", why.len()));
        let path = dir.join("bundle/config.json");
        std::fs::write(&path, serde_json::to_vec(&config(namespaces)).unwrap()).unwrap();
        let o = InjectOptions {
            hooks: asked,
            ..opts(&dir)
        };
        let chosen = match inject(&dir.join("bundle"), &o).unwrap() {
            Outcome::Changed(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(chosen.claim, claim);
        assert!(chosen.to_string().contains(why), "{chosen}");
        let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ours = after["hooks"]["createRuntime"]
            .as_array()
            .is_some_and(|l| l.iter().any(|h| h["args"][1] == "hook"));
        let mounted = after.to_string().contains(CONTAINER_CLAIM_DIR);
        let pending =
            std::fs::read_dir(claim::claims_dir(&dir.join("state"))).map_or(0, |d| d.count());
        assert_eq!(
            (ours, mounted, pending),
            if claim {
                (false, true, 1)
            } else {
                (true, false, 0)
            },
            "(podinit's hooks, the claim mount, pending claims): {after}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
