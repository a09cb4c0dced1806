//! `podinit inject BUNDLE`: prepare a bundle for supervision by rewriting its `config.json` in
//! place — edited as a JSON value so every field of the agent's survives, written atomically
//! (temp file + rename), and idempotent (a second run changes nothing):
//! - hooks `createRuntime`, `poststart`, `poststop` → `podinit hook STAGE`, appended after the
//!   existing ones (an NVIDIA prestart/createRuntime hook keeps its place and order), with
//!   `PODINIT_SOCKET`, `PODINIT_STATE_DIR` and the log level in their env;
//! - read-only bind mounts of the podinit binary at `/.podinit/podinit` and of the supervisor's
//!   `<state-dir>/sock` directory at `/.podinit/sock` (a directory, so a restarted supervisor's
//!   new socket is visible; read-only, so the container cannot touch the state dir);
//! - a 64 KiB tmpfs at `/.podinit/run`, owned by the process's uid/gid, for the init to write to
//!   on any rootfs, read-only ones too (the teardown file, `src/init/teardown_note.rs`);
//! - `process.args` wrapped as `/.podinit/podinit exec -- ARGS...`.
//!
//! Without hooks (issue 13) — the default wherever the container has a pid namespace of its
//! own ([`HookMode`], [`choose`]) — there are no hooks (podinit's own are removed): `inject`
//! writes the registration the createRuntime hook would send as a pending claim in
//! `<state-dir>/claims/`, and a one-shot token in `BUNDLE/podinit-claim-NONCE/`, bind-mounted
//! at `/.podinit/claim` for the container's init to claim it with (`claim.rs`). A container
//! that shares the host's pid namespace or joins another one gets the hooks: the supervisor
//! accepts a claim only from PID 1 of a pid namespace of the container's own, the one proof
//! that the claiming process is the init the runtime started for this bundle (`claim.rs`).
//!
//! A config.json that is not JSON, or not an OCI config, is refused and left byte for byte as it was.
//! A pod's sandbox (pause) bundle is left byte for byte as it was too ([`Outcome::Sandbox`]).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::proto::{CONTAINER_BINARY, CONTAINER_RUN_DIR, CONTAINER_SOCK_DIR};

#[derive(Clone)]
pub struct InjectOptions {
    /// The podinit binary on the host (hooks run in the runtime's namespace).
    pub binary: PathBuf,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// `PODINIT_LOG` for the hooks, if set.
    pub log_level: Option<String>,
    /// Hooks or a claim; [`HookMode::Auto`] decides per bundle.
    pub hooks: HookMode,
    /// The id the runtime creates the container with: a claim carries it (a hook reads it from
    /// the OCI state instead).
    pub id: String,
}

/// What the caller asked for: `--hooks`, `--no-hooks`, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookMode {
    /// A claim where the container has a pid namespace of its own, hooks otherwise.
    #[default]
    Auto,
    /// `--hooks` (`PODINIT_HOOKS=1`): OCI hooks whatever the bundle.
    Hooks,
    /// `--no-hooks` (`PODINIT_HOOKS=0`): a claim; a bundle that cannot have one is refused.
    NoHooks,
}

/// The variable and the flag for the mode; `PODINIT_NO_HOOKS` is its older, inverted spelling
/// (`PODINIT_NO_HOOKS=1` is `PODINIT_HOOKS=0`), still read.
pub const HOOKS_VAR: &str = "PODINIT_HOOKS";
pub const NO_HOOKS_VAR: &str = "PODINIT_NO_HOOKS";

impl HookMode {
    /// `key=value` of [`HOOKS_VAR`] (`1`/`true`/`yes`/`on`, `0`/`false`/`no`/`off`, `auto`) or
    /// of [`NO_HOOKS_VAR`] (the same booleans, inverted). Anything else is an error naming it,
    /// so a typo never silently picks a mode.
    pub fn parse(key: &str, value: &str) -> Result<HookMode, String> {
        let on = match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            "auto" | "" => return Ok(HookMode::Auto),
            _ => {
                return Err(format!(
                    "{key}={value}: expected 1 (hooks), 0 (no hooks) or auto"
                ));
            }
        };
        Ok(if on == (key == HOOKS_VAR) {
            HookMode::Hooks
        } else {
            HookMode::NoHooks
        })
    }

    /// The mode from [`HOOKS_VAR`] and [`NO_HOOKS_VAR`], each `(value, where it came from)`:
    /// both set and disagreeing is an error naming both.
    pub fn settle(
        hooks: Option<(&str, String)>,
        no_hooks: Option<(&str, String)>,
    ) -> Result<HookMode, String> {
        let parse = |key: &str, v: &Option<(&str, String)>| -> Result<Option<HookMode>, String> {
            v.as_ref()
                .map(|(value, _)| HookMode::parse(key, value))
                .transpose()
        };
        match (parse(HOOKS_VAR, &hooks)?, parse(NO_HOOKS_VAR, &no_hooks)?) {
            (Some(a), Some(b)) if a != b => {
                let (h, hw) = hooks.unwrap_or_default();
                let (n, nw) = no_hooks.unwrap_or_default();
                Err(format!(
                    "{HOOKS_VAR}={h} ({hw}) and {NO_HOOKS_VAR}={n} ({nw}) disagree; set only \
                     {HOOKS_VAR}"
                ))
            }
            (Some(m), _) | (None, Some(m)) => Ok(m),
            (None, None) => Ok(HookMode::Auto),
        }
    }
}

/// The container's pid namespace, as its config.json's `linux.namespaces` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidNamespace {
    /// A `pid` entry without a path: the runtime makes a new one, whose PID 1 is the init.
    Own,
    /// No `pid` entry: the runtime's, usually the host's.
    Host,
    /// A `pid` entry with this path: another container's (a pod sharing its process namespace).
    Joined(String),
}

pub fn pid_namespace(config: &Value) -> PidNamespace {
    let entry = config
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .and_then(|ns| {
            ns.iter()
                .find(|n| n.get("type").and_then(Value::as_str) == Some("pid"))
        });
    match entry {
        None => PidNamespace::Host,
        Some(n) => match n.get("path").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => PidNamespace::Joined(p.to_owned()),
            _ => PidNamespace::Own,
        },
    }
}

/// The registration a bundle got, and why (for `inject`'s output and the front's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Its init claims the registration (no hooks), else the hooks register it.
    pub claim: bool,
    pub asked: HookMode,
    pub pid_ns: PidNamespace,
}

impl std::fmt::Display for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = match &self.pid_ns {
            PidNamespace::Own => "a pid namespace of its own".to_owned(),
            PidNamespace::Host => {
                "the runtime's (host's) pid namespace (no \"pid\" entry in linux.namespaces)".into()
            }
            PidNamespace::Joined(p) => format!("the pid namespace {p} it joins"),
        };
        match (self.claim, self.asked) {
            (true, HookMode::NoHooks) => write!(
                f,
                "no hooks, its init claims its registration ({NO_HOOKS_VAR}=1 / --no-hooks asked; {ns})"
            ),
            (true, _) => write!(
                f,
                "no hooks, its init claims its registration (the default for {ns}; --hooks or \
                 {HOOKS_VAR}=1 for hooks)"
            ),
            (false, HookMode::Hooks) => write!(f, "OCI hooks (--hooks / {HOOKS_VAR}=1 asked)"),
            (false, _) => write!(
                f,
                "OCI hooks, as it has {ns}: only PID 1 of a pid namespace of the container's own \
                 can claim a registration"
            ),
        }
    }
}

/// Hooks or a claim for `config`: the caller's choice, or by the pid namespace in
/// [`HookMode::Auto`]. `--no-hooks` on a bundle that cannot claim is an error saying why.
pub fn choose(config: &Value, asked: HookMode) -> Result<Chosen, String> {
    let pid_ns = pid_namespace(config);
    let claim = match asked {
        HookMode::Hooks => false,
        HookMode::Auto => pid_ns == PidNamespace::Own,
        HookMode::NoHooks if pid_ns == PidNamespace::Own => true,
        HookMode::NoHooks => {
            return Err(
                "--no-hooks needs a pid namespace of the container's own (a \"pid\" entry \
                 without a path in linux.namespaces): its init is known as PID 1 of it; prepare \
                 this bundle without --no-hooks (hooks)"
                    .into(),
            );
        }
    };
    Ok(Chosen {
        claim,
        asked,
        pid_ns,
    })
}

#[derive(Debug)]
pub enum InjectError {
    Read(PathBuf, std::io::Error),
    NotJson(PathBuf, serde_json::Error),
    NotOci(PathBuf, &'static str),
    Write(PathBuf, std::io::Error),
    /// The caller's check before the rewrite failed (the runtime front: no supervisor state dir).
    Precondition(PathBuf, String),
    /// Without hooks: the pending claim could not be made; config.json is left unchanged.
    Claim(PathBuf, String),
}

impl std::fmt::Display for InjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InjectError::Read(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            InjectError::NotJson(p, e) => {
                write!(f, "{}: not valid JSON ({e}); left unchanged", p.display())
            }
            InjectError::NotOci(p, why) => write!(
                f,
                "{}: not an OCI runtime config: {why}; left unchanged",
                p.display()
            ),
            InjectError::Write(p, e) => {
                write!(f, "{}: cannot write: {e}; left unchanged", p.display())
            }
            InjectError::Precondition(p, why) => write!(f, "{}: {why}", p.display()),
            InjectError::Claim(p, why) => write!(
                f,
                "{}: no hooks (the claim): {why}; config.json left unchanged",
                p.display()
            ),
        }
    }
}

impl std::error::Error for InjectError {}

const STAGES: [&str; 3] = ["createRuntime", "poststart", "poststop"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Changed(Chosen),
    /// Prepared already (a second run changes nothing).
    Unchanged(Chosen),
    /// A pod's pause container, marked by this annotation: never touched.
    Sandbox(&'static str),
}

pub fn inject(bundle: &Path, opts: &InjectOptions) -> Result<Outcome, InjectError> {
    inject_checked(bundle, opts, || Ok(()))
}

/// [`inject`], with `check` run once the bundle is known to be a managed container, before
/// anything is written.
pub fn inject_checked(
    bundle: &Path,
    opts: &InjectOptions,
    check: impl FnOnce() -> Result<(), String>,
) -> Result<Outcome, InjectError> {
    let path = crate::explain::config_path(bundle);
    let bytes = std::fs::read(&path).map_err(|e| InjectError::Read(path.clone(), e))?;
    let mut config: Value =
        serde_json::from_slice(&bytes).map_err(|e| InjectError::NotJson(path.clone(), e))?;
    if let Some(key) = crate::plan::sandbox_marker(&config) {
        return Ok(Outcome::Sandbox(key));
    }
    check().map_err(|why| InjectError::Precondition(path.clone(), why))?;
    let chosen =
        choose(&config, opts.hooks).map_err(|why| InjectError::Precondition(path.clone(), why))?;
    let mut changed = rewrite_as(&mut config, opts, chosen.claim)
        .map_err(|why| InjectError::NotOci(path.clone(), why))?;
    let mut written = None;
    if chosen.claim {
        let claim = crate::inject_claim::prepare(&path, &mut config, opts)?;
        changed |= claim.mount_added;
        written = Some(claim);
    }
    if !changed {
        return Ok(Outcome::Unchanged(chosen));
    }
    write_config(&path, &config).inspect_err(|_| {
        if let Some(w) = &written {
            w.undo();
        }
    })?;
    Ok(Outcome::Changed(chosen))
}

fn write_config(path: &Path, config: &Value) -> Result<(), InjectError> {
    // Invariant: a Value always serializes.
    let mut out = serde_json::to_vec_pretty(&config).expect("JSON value serializes");
    out.push(b'\n');
    let tmp = path.with_extension("json.podinit-tmp");
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, &out)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        InjectError::Write(path.to_path_buf(), e)
    })
}

/// The rewrite itself, on a JSON value, without the claim's files. Returns whether anything
/// changed.
pub fn rewrite(config: &mut Value, opts: &InjectOptions) -> Result<bool, &'static str> {
    let claim = choose(config, opts.hooks)
        .map_err(|_| "--no-hooks needs a pid namespace of the container's own")?
        .claim;
    rewrite_as(config, opts, claim)
}

/// The rewrite for hooks (`claim` false) or a claim (its mount comes from `inject_claim`).
fn rewrite_as(config: &mut Value, opts: &InjectOptions, claim: bool) -> Result<bool, &'static str> {
    let obj = config
        .as_object_mut()
        .ok_or("the top level is not an object")?;
    let args = obj
        .get("process")
        .and_then(|p| p.get("args"))
        .and_then(Value::as_array)
        .ok_or("process.args is missing")?;
    if args.is_empty() || !args.iter().all(Value::is_string) {
        return Err("process.args must be a non-empty array of strings");
    }
    let mut changed = false;

    let already_wrapped = args.first().and_then(Value::as_str) == Some(CONTAINER_BINARY);
    if !already_wrapped {
        let mut wrapped = vec![json!(CONTAINER_BINARY), json!("exec"), json!("--")];
        wrapped.extend(args.iter().cloned());
        obj["process"]["args"] = Value::Array(wrapped);
        changed = true;
    }

    let mounts = obj.entry("mounts").or_insert_with(|| json!([]));
    let mounts = mounts.as_array_mut().ok_or("mounts is not an array")?;
    let sock_dir = opts.state_dir.join("sock");
    for (dest, source) in [
        (CONTAINER_BINARY, &opts.binary),
        (CONTAINER_SOCK_DIR, &sock_dir),
    ] {
        if !mounts
            .iter()
            .any(|m| m.get("destination").and_then(Value::as_str) == Some(dest))
        {
            mounts.push(json!({
                "destination": dest,
                "type": "bind",
                "source": source.to_string_lossy(),
                "options": ["rbind", "ro", "nosuid", "nodev"],
            }));
            changed = true;
        }
    }
    if !mounts
        .iter()
        .any(|m| m.get("destination").and_then(Value::as_str) == Some(CONTAINER_RUN_DIR))
    {
        let user = obj.get("process").and_then(|p| p.get("user"));
        let id = |k: &str| {
            user.and_then(|u| u.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let (uid, gid) = (id("uid"), id("gid"));
        let mounts = obj["mounts"]
            .as_array_mut()
            .ok_or("mounts is not an array")?;
        mounts.push(json!({
            "destination": CONTAINER_RUN_DIR,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", "mode=0755", "size=64k",
                        format!("uid={uid}"), format!("gid={gid}")],
        }));
        changed = true;
    }

    let mut env = vec![
        format!("PODINIT_SOCKET={}", opts.socket.display()),
        format!("PODINIT_STATE_DIR={}", opts.state_dir.display()),
    ];
    let annotated = obj
        .get("annotations")
        .and_then(|a| a.get(crate::plan::keys::LOG_LEVEL))
        .and_then(Value::as_str);
    if let Some(level) = annotated
        .map(str::to_owned)
        .or_else(|| opts.log_level.clone())
    {
        env.push(format!("PODINIT_LOG={level}"));
    }
    if claim {
        return Ok(remove_own_hooks(obj)? || changed);
    }
    // A bundle prepared without hooks before: its claim mount goes, the hooks register it now.
    if let Some(mounts) = obj.get_mut("mounts").and_then(Value::as_array_mut) {
        let before = mounts.len();
        mounts.retain(|m| {
            m.get("destination").and_then(Value::as_str) != Some(crate::proto::CONTAINER_CLAIM_DIR)
        });
        changed |= mounts.len() != before;
    }
    let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
    let hooks = hooks.as_object_mut().ok_or("hooks is not an object")?;
    let binary = opts.binary.to_string_lossy().into_owned();
    for stage in STAGES {
        let list = hooks.entry(stage).or_insert_with(|| json!([]));
        let list = list.as_array_mut().ok_or("a hooks stage is not an array")?;
        if !list.iter().any(|h| is_own_hook(h, stage)) {
            list.push(json!({ "path": binary, "args": ["podinit", "hook", stage], "env": env, "timeout": 10 }));
            changed = true;
        }
    }
    Ok(changed)
}

/// `podinit hook STAGE` as `inject` adds it.
fn is_own_hook(h: &Value, stage: &str) -> bool {
    h.get("args").and_then(Value::as_array).is_some_and(|a| {
        a.len() == 3 && a[1].as_str() == Some("hook") && a[2].as_str() == Some(stage)
    }) && h
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.ends_with("podinit"))
}

/// A claim for a bundle prepared with hooks before: podinit's hooks go (an NVIDIA hook
/// stays), and a stage left empty by that goes too.
fn remove_own_hooks(obj: &mut serde_json::Map<String, Value>) -> Result<bool, &'static str> {
    let Some(hooks) = obj.get_mut("hooks") else {
        return Ok(false);
    };
    let hooks = hooks.as_object_mut().ok_or("hooks is not an object")?;
    let mut changed = false;
    for stage in STAGES {
        let Some(list) = hooks.get_mut(stage) else {
            continue;
        };
        let list = list.as_array_mut().ok_or("a hooks stage is not an array")?;
        let before = list.len();
        list.retain(|h| !is_own_hook(h, stage));
        if list.len() != before {
            changed = true;
            if list.is_empty() {
                hooks.remove(stage);
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> InjectOptions {
        InjectOptions {
            binary: "/usr/local/bin/podinit".into(),
            socket: "/run/p/podinit.sock".into(),
            state_dir: "/run/p".into(),
            log_level: None,
            hooks: HookMode::Auto,
            id: "app".into(),
        }
    }

    fn gpu_config() -> Value {
        json!({
            "ociVersion": "1.0.2-dev",
            "process": {"args": ["python", "train.py"], "env": ["NVIDIA_VISIBLE_DEVICES=all"], "x-agent-field": 1},
            "hooks": {
                "prestart": [{"path": "/usr/bin/nvidia-container-runtime-hook", "args": ["nvidia-container-runtime-hook", "prestart"]}],
                "createRuntime": [{"path": "/usr/bin/other-hook"}]
            },
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "vendorExtension": {"keep": true}
        })
    }

    #[test]
    fn wraps_mounts_and_appends_hooks_keeping_everything_else() {
        let mut c = gpu_config();
        assert!(rewrite(&mut c, &opts()).unwrap());
        assert_eq!(
            c["process"]["args"],
            json!(["/.podinit/podinit", "exec", "--", "python", "train.py"])
        );
        assert_eq!(c["process"]["x-agent-field"], 1);
        assert_eq!(c["vendorExtension"], json!({"keep": true}));
        assert_eq!(
            c["hooks"]["prestart"][0]["path"],
            "/usr/bin/nvidia-container-runtime-hook"
        );
        assert_eq!(
            c["hooks"]["createRuntime"][0]["path"], "/usr/bin/other-hook",
            "existing hooks keep their place"
        );
        assert_eq!(
            c["hooks"]["createRuntime"][1]["args"],
            json!(["podinit", "hook", "createRuntime"])
        );
        assert_eq!(
            c["hooks"]["poststop"][0]["env"][0],
            "PODINIT_SOCKET=/run/p/podinit.sock"
        );
        let dests: Vec<&str> = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["destination"].as_str())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/.podinit/podinit",
                "/.podinit/sock",
                "/.podinit/run"
            ]
        );
        let run = &c["mounts"][3];
        assert_eq!(run["type"], "tmpfs");
        let opts: Vec<&str> = run["options"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            opts.contains(&"uid=0") && opts.contains(&"noexec"),
            "{opts:?}"
        );
    }

    #[test]
    fn is_idempotent() {
        let mut c = gpu_config();
        rewrite(&mut c, &opts()).unwrap();
        let once = c.clone();
        assert!(!rewrite(&mut c, &opts()).unwrap());
        assert_eq!(c, once);
    }

    #[test]
    fn refuses_what_is_not_an_oci_config() {
        for bad in [
            json!([]),
            json!({"process": {}}),
            json!({"process": {"args": []}}),
            json!({"process": {"args": [1]}}),
        ] {
            let mut c = bad.clone();
            assert!(rewrite(&mut c, &opts()).is_err(), "{bad}");
        }
    }

    #[rstest::rstest]
    #[case::containerd("io.kubernetes.cri.container-type")]
    #[case::cri_o("io.kubernetes.cri-o.ContainerType")]
    fn a_sandbox_bundle_is_left_byte_for_byte(#[case] key: &'static str) {
        let dir = std::env::temp_dir().join(format!(
            "podinit-inject-sandbox-{}-{}",
            std::process::id(),
            key.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let mut c = gpu_config();
        c["annotations"] = json!({ key: "sandbox" });
        let bytes = serde_json::to_vec(&c).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(inject(&dir, &opts()).unwrap(), Outcome::Sandbox(key));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_broken_file_is_left_byte_for_byte() {
        let dir = std::env::temp_dir().join(format!("podinit-inject-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let broken = b"{\"ociVersion\": \"1.0.2\", ";
        std::fs::write(&path, broken).unwrap();
        assert!(matches!(
            inject(&dir, &opts()),
            Err(InjectError::NotJson(..))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), broken);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
