//! Every file under `oci-hooks/` is loaded and checked here (no container runtime needed):
//!
//! - `hooks.d/*.json` (CRI-O / podman): `version` 1.0.0, `hook.path` the installed binary, args
//!   `podinit hook STAGE` for the one stage the file lists, an annotation condition on
//!   `io.podinit.pod-spec` (its regexes evaluated with python3's `re`, which agrees with Go's RE2
//!   on these patterns), and together createRuntime, poststart and poststop;
//! - `containerd/base-runtime-spec.hooks.json`: the same three stages, path and args;
//! - `kata/guest-hooks/{prestart,poststart,poststop}/podinit`: executable, `sh -n` clean, and a
//!   copy run against a fake binary execs `podinit hook STAGE` with the state on stdin;
//! - `containerd/podinit-runc` and `nvidia/podinit-nvidia-runtime` (the runtime front scripts):
//!   executable, `sh -n` clean, and run with the real `podinit runtime` against fake next
//!   runtimes they prepare the right bundle for `create`/`run` only (a pause bundle never), then
//!   exec the next runtime with the same arguments, cwd and exit status; failures name the setting;
//! - `containerd/config.toml`: valid TOML (python3 tomllib), the `podinit` runtime handler with
//!   the front as BinaryName and the `io.podinit.*` annotation globs;
//! - the socket and state dir every channel configures agree with each other and with the
//!   binary's own defaults;
//! - `podinit hook STAGE` accepts every stage name these files use (empty or garbage stdin fails
//!   with exit 1 and no panic; an unknown stage exits 2).
//!
//! A file under `oci-hooks/` that no check knows about fails [`every_file_is_checked`].

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use support::{PODINIT, podinit, run};

const INSTALLED: &str = "/usr/local/bin/podinit";
const SPEC_ANNOTATION: &str = "io.podinit.pod-spec";
/// The stages podinit needs (createRuntime may be replaced by the legacy prestart in Kata guests).
const NEEDED: [&str; 3] = ["createRuntime", "poststart", "poststop"];
const KATA_STAGES: [&str; 3] = ["prestart", "poststart", "poststop"];
const T: Duration = Duration::from_secs(20);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn oci_hooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oci-hooks")
}

/// Every regular file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn load_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn hooks_d_files() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = files_under(&oci_hooks().join("hooks.d"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(!v.is_empty(), "oci-hooks/hooks.d has no *.json file");
    v
}

fn containerd_fragment() -> PathBuf {
    oci_hooks().join("containerd/base-runtime-spec.hooks.json")
}

fn kata_script(stage: &str) -> PathBuf {
    oci_hooks()
        .join("kata/guest-hooks")
        .join(stage)
        .join("podinit")
}

fn nvidia_wrapper() -> PathBuf {
    oci_hooks().join("nvidia/podinit-nvidia-runtime")
}

/// A temp dir removed on drop, also when an assertion fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "podinit-ocihooks-{what}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `KEY=VALUE` entries of a hook's `env` as pairs; panics on a malformed entry.
fn env_pairs(env: &Value, what: &str) -> Vec<(String, String)> {
    let list = env
        .as_array()
        .unwrap_or_else(|| panic!("{what}: env is not a list: {env}"));
    list.iter()
        .map(|e| {
            let s = e
                .as_str()
                .unwrap_or_else(|| panic!("{what}: env entry {e} is not a string"));
            let (k, v) = s
                .split_once('=')
                .unwrap_or_else(|| panic!("{what}: env entry {s:?} is not KEY=VALUE"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The `(PODINIT_SOCKET, PODINIT_STATE_DIR)` a hook's env sets; both must be there, once.
fn paths_of(env: &Value, what: &str) -> (String, String) {
    let pairs = env_pairs(env, what);
    let one = |key: &str| {
        let vals: Vec<&String> = pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            vals.len(),
            1,
            "{what}: env must set {key} exactly once: {env}"
        );
        assert!(
            vals[0].starts_with('/'),
            "{what}: {key} must be an absolute path: {env}"
        );
        vals[0].clone()
    };
    (one("PODINIT_SOCKET"), one("PODINIT_STATE_DIR"))
}

/// The binary's own defaults, from `podinit supervise --help`.
fn binary_defaults() -> (String, String) {
    let out = run(podinit().args(["supervise", "--help"]), T);
    assert!(out.status.success(), "podinit supervise --help: {out:?}");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let default_of = |flag: &str| -> String {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("no {flag} in podinit supervise --help:\n{help}"));
        let rest = &line[line
            .find("[default: ")
            .unwrap_or_else(|| panic!("no default in {line:?}"))
            + "[default: ".len()..];
        rest[..rest.find(']').unwrap()].to_owned()
    };
    (default_of("--socket"), default_of("--state-dir"))
}

/// Evaluates Go-style `MatchString` (an unanchored search) with python3's `re`, for each
/// `(pattern, subject)`; `None` when python3 is not installed.
fn regex_search(cases: &[(&str, &str)]) -> Option<Vec<bool>> {
    let arg = serde_json::to_string(cases).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, re, sys\n\
             print(json.dumps([re.search(p, s) is not None for p, s in json.loads(sys.argv[1])]))",
            &arg,
        ])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    assert!(out.status.success(), "python3 re: {out:?}");
    Some(serde_json::from_slice(&out.stdout).expect("python3 printed JSON"))
}

/// Without python3: the key must be the literal annotation name, anchored, dots escaped.
fn literal_of_anchored_pattern(p: &str) -> Option<String> {
    let inner = p.strip_prefix('^')?.strip_suffix('$')?;
    Some(inner.replace("\\.", ".").replace("\\-", "-"))
}

#[test]
fn every_file_is_checked() {
    let root = oci_hooks();
    let mut known: BTreeSet<PathBuf> = hooks_d_files().into_iter().collect();
    known.insert(root.join("README.md"));
    known.insert(containerd_fragment());
    known.insert(nvidia_wrapper());
    known.insert(containerd_front());
    known.insert(containerd_config());
    for s in KATA_STAGES {
        known.insert(kata_script(s));
    }
    for f in files_under(&root) {
        assert!(
            known.contains(&f),
            "{} is not covered by integration/hooks.rs: add a check for it",
            f.display()
        );
    }
    for f in &known {
        assert!(f.is_file(), "{} is missing", f.display());
    }
}

#[test]
fn hooks_d_files_register_the_three_stages_on_the_pod_spec_annotation() {
    let mut covered = BTreeSet::new();
    for path in hooks_d_files() {
        let what = path.display().to_string();
        let doc = load_json(&path);
        assert_eq!(doc["version"], "1.0.0", "{what}: version");
        let hook = &doc["hook"];
        assert_eq!(hook["path"], INSTALLED, "{what}: hook.path");
        let args: Vec<&str> = hook["args"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: hook.args is not a list"))
            .iter()
            .map(|a| a.as_str().expect("string arg"))
            .collect();
        assert_eq!(
            args.len(),
            3,
            "{what}: args must be podinit hook STAGE: {args:?}"
        );
        assert_eq!(&args[..2], ["podinit", "hook"], "{what}: args");
        let stage = args[2];
        let stages: Vec<&str> = doc["stages"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: stages is not a list"))
            .iter()
            .map(|s| s.as_str().expect("string stage"))
            .collect();
        // The stage is passed explicitly, so a file can serve only that stage.
        assert_eq!(
            stages,
            [stage],
            "{what}: stages must be exactly the stage the args name"
        );
        paths_of(&hook["env"], &what);
        if let Some(t) = hook.get("timeout") {
            assert!(
                t.as_u64().is_some_and(|t| t > 0),
                "{what}: timeout {t} must be a positive integer"
            );
        }

        let when = doc["when"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no when condition"));
        assert_eq!(
            when.keys().collect::<Vec<_>>(),
            ["annotations"],
            "{what}: the condition must be the annotation alone (no always/commands/...)"
        );
        let annotations = when["annotations"].as_object().unwrap();
        assert_eq!(annotations.len(), 1, "{what}: one annotation condition");
        let (key_re, value_re) = annotations.iter().next().unwrap();
        let value_re = value_re.as_str().expect("value regex is a string");
        let pod_spec = serde_json::to_string_pretty(&serde_json::json!({
            "initContainers": [{"name": "s", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        }))
        .unwrap();
        match regex_search(&[
            (key_re, SPEC_ANNOTATION),
            (key_re, "io.podinit.container-name"),
            (key_re, "io.kubernetes.cri.container-type"),
            (value_re, &pod_spec),
            (value_re, "{}"),
        ]) {
            Some(m) => assert_eq!(
                m,
                [true, false, false, true, true],
                "{what}: key regex {key_re:?} must match {SPEC_ANNOTATION} and only it, value \
                 regex {value_re:?} any pod spec (multi-line too)"
            ),
            None => {
                // Only the literal check below runs: the regex part is skipped, the way every
                // skip goes (a failure under PODINIT_REQUIRE_ALL=1).
                let test = format!("{} (regexes)", support::skip::this_test());
                support::skip::skip_unless(&test, &[support::sockets::PYTHON3]);
                assert_eq!(
                    literal_of_anchored_pattern(key_re).as_deref(),
                    Some(SPEC_ANNOTATION),
                    "{what}: key {key_re:?}"
                );
                assert!(
                    ["(?s).*", ".*", "(?s)^.*$", ""].contains(&value_re),
                    "{what}: value {value_re:?}"
                );
            }
        }
        covered.insert(stage.to_owned());
    }
    for s in NEEDED {
        assert!(
            covered.contains(s),
            "no hooks.d file registers {s} (covered: {covered:?})"
        );
    }
}

#[test]
fn containerd_fragment_has_the_three_stages() {
    let path = containerd_fragment();
    let what = path.display().to_string();
    let doc = load_json(&path);
    let hooks = doc["hooks"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no hooks object"));
    for s in NEEDED {
        assert!(hooks.contains_key(s), "{what}: no {s} hook");
    }
    for (stage, list) in hooks {
        let list = list
            .as_array()
            .unwrap_or_else(|| panic!("{what}: hooks.{stage} is not a list"));
        assert_eq!(list.len(), 1, "{what}: one podinit hook per stage");
        let h = &list[0];
        assert_eq!(h["path"], INSTALLED, "{what}: {stage}: path");
        assert_eq!(
            h["args"],
            serde_json::json!(["podinit", "hook", stage]),
            "{what}: {stage}: args"
        );
        paths_of(&h["env"], &format!("{what}: {stage}"));
    }
}

/// A fake `podinit` that records its arguments, the two path variables, its cwd and its stdin.
const FAKE_PODINIT: &str = r#"#!/bin/sh
{
    echo "call podinit"
    echo "cwd $(pwd -P)"
    echo "socket ${PODINIT_SOCKET-<unset>}"
    echo "statedir ${PODINIT_STATE_DIR-<unset>}"
    for a in "$@"; do echo "arg $a"; done
    if [ -n "${FAKE_STDIN:-}" ]; then cat > "$FAKE_STDIN"; fi
    echo "end"
} >> "$FAKE_LOG"
exit "${FAKE_PODINIT_EXIT:-0}"
"#;

/// A fake runtime (`nvidia-container-runtime` or `PODINIT_NEXT_RUNTIME`).
const FAKE_RUNTIME: &str = r#"#!/bin/sh
{
    echo "call $(basename "$0")"
    echo "cwd $(pwd -P)"
    for a in "$@"; do echo "arg $a"; done
    echo "end"
} >> "$FAKE_LOG"
exit "${FAKE_RUNTIME_EXIT:-0}"
"#;

#[derive(Debug, PartialEq)]
struct Call {
    who: String,
    cwd: String,
    socket: Option<String>,
    state_dir: Option<String>,
    args: Vec<String>,
}

fn read_calls(log: &Path) -> Vec<Call> {
    let text = fs::read_to_string(log).unwrap_or_default();
    let mut calls = Vec::new();
    let mut cur: Option<Call> = None;
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "call" => {
                cur = Some(Call {
                    who: rest.to_owned(),
                    cwd: String::new(),
                    socket: None,
                    state_dir: None,
                    args: Vec::new(),
                })
            }
            "cwd" => cur.as_mut().unwrap().cwd = rest.to_owned(),
            "socket" => cur.as_mut().unwrap().socket = Some(rest.to_owned()),
            "statedir" => cur.as_mut().unwrap().state_dir = Some(rest.to_owned()),
            "arg" => cur.as_mut().unwrap().args.push(rest.to_owned()),
            "end" => calls.push(cur.take().unwrap()),
            _ => panic!("unexpected line {line:?} in {}", log.display()),
        }
    }
    calls
}

/// A copy of `script` with the installed binary's path replaced by `fake`.
fn copy_with_fake_binary(script: &Path, fake: &Path, dest: &Path) {
    let text = fs::read_to_string(script).unwrap();
    assert!(
        text.contains(INSTALLED),
        "{} does not call {INSTALLED}",
        script.display()
    );
    write_exec(dest, &text.replace(INSTALLED, fake.to_str().unwrap()));
}

fn sh_n(script: &Path) {
    let out = run(Command::new("sh").arg("-n").arg(script), T);
    assert!(
        out.status.success(),
        "sh -n {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` with `input` on stdin; returns its exit code.
fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> i32 {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let status = support::wait_deadline(&mut child, T, &format!("{cmd:?}"));
    status
        .code()
        .unwrap_or_else(|| panic!("{cmd:?} killed: {status:?}"))
}

#[test]
fn kata_guest_hooks_exec_podinit_hook_with_their_stage() {
    let tmp = TempDir::new("kata");
    let fake = tmp.0.join("podinit");
    write_exec(&fake, FAKE_PODINIT);
    for stage in KATA_STAGES {
        let script = kata_script(stage);
        let what = script.display().to_string();
        let mode = fs::metadata(&script).unwrap().permissions().mode();
        assert!(mode & 0o111 == 0o111, "{what}: not executable ({mode:o})");
        sh_n(&script);
        let text = fs::read_to_string(&script).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{what}: shebang");
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("exec {INSTALLED} hook {stage}")),
            "{what}: no line `exec {INSTALLED} hook {stage}`"
        );

        let copy = tmp.0.join(format!("kata-{stage}"));
        copy_with_fake_binary(&script, &fake, &copy);
        let state = format!(r#"{{"ociVersion":"1.0.2","id":"c-{stage}","status":"created"}}"#);
        for custom in [false, true] {
            let log = tmp.0.join(format!("{stage}-{custom}.log"));
            let stdin_copy = tmp.0.join(format!("{stage}-{custom}.stdin"));
            let mut cmd = Command::new(&copy);
            cmd.env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("FAKE_LOG", &log)
                .env("FAKE_STDIN", &stdin_copy);
            if custom {
                cmd.env("PODINIT_SOCKET", "/x/s.sock")
                    .env("PODINIT_STATE_DIR", "/x");
            }
            assert_eq!(run_with_stdin(&mut cmd, state.as_bytes()), 0, "{what}");
            let calls = read_calls(&log);
            assert_eq!(calls.len(), 1, "{what}: {calls:?}");
            let c = &calls[0];
            assert_eq!(c.args, ["hook", stage], "{what}: arguments");
            assert_eq!(
                fs::read_to_string(&stdin_copy).unwrap(),
                state,
                "{what}: the OCI state must reach podinit on stdin"
            );
            let (want_socket, want_dir) = if custom {
                ("/x/s.sock".to_owned(), "/x".to_owned())
            } else {
                binary_defaults()
            };
            assert_eq!(c.socket.as_deref(), Some(want_socket.as_str()), "{what}");
            assert_eq!(c.state_dir.as_deref(), Some(want_dir.as_str()), "{what}");
        }
    }
    // No stray stage directory (the kata-agent runs every executable it finds there).
    let dirs: BTreeSet<String> = fs::read_dir(oci_hooks().join("kata/guest-hooks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, KATA_STAGES.iter().map(|s| s.to_string()).collect());
}

#[test]
fn every_channel_uses_the_binarys_default_socket_and_state_dir() {
    let defaults = binary_defaults();
    let mut seen = Vec::new();
    for path in hooks_d_files() {
        let what = path.display().to_string();
        seen.push((
            what.clone(),
            paths_of(&load_json(&path)["hook"]["env"], &what),
        ));
    }
    let containerd = load_json(&containerd_fragment());
    for (stage, list) in containerd["hooks"].as_object().unwrap() {
        for h in list.as_array().unwrap() {
            let what = format!("{}: {stage}", containerd_fragment().display());
            seen.push((what.clone(), paths_of(&h["env"], &what)));
        }
    }
    for stage in KATA_STAGES {
        // `${PODINIT_SOCKET:-default}` lines; the run above proves they take effect.
        let text = fs::read_to_string(kata_script(stage)).unwrap();
        let default_of = |var: &str| -> String {
            let prefix = format!("{var}=${{{var}:-");
            let line = text
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{stage}: no {prefix}... line"));
            line[prefix.len()..line.len() - 1].to_owned()
        };
        seen.push((
            kata_script(stage).display().to_string(),
            (
                default_of("PODINIT_SOCKET"),
                default_of("PODINIT_STATE_DIR"),
            ),
        ));
    }
    let readme = fs::read_to_string(oci_hooks().join("README.md")).unwrap();
    for (what, paths) in &seen {
        assert_eq!(
            paths, &defaults,
            "{what}: (PODINIT_SOCKET, PODINIT_STATE_DIR) differ from `podinit supervise`'s defaults"
        );
    }
    assert!(
        readme.contains(&format!("PODINIT_SOCKET={}", defaults.0))
            && readme.contains(&format!("PODINIT_STATE_DIR={}", defaults.1)),
        "oci-hooks/README.md must document the paths the files use: {defaults:?}"
    );
}

struct WrapperCase {
    args: Vec<String>,
    /// The cwd the runtime is called in.
    cwd: PathBuf,
    /// Whether the front must prepare the bundle (`create` and `run` only).
    prepares: bool,
}

/// The two shipped front scripts and the runtime each execs by default.
fn front_scripts() -> [(PathBuf, &'static str); 2] {
    [
        (containerd_front(), "runc"),
        (nvidia_wrapper(), "nvidia-container-runtime"),
    ]
}

fn containerd_front() -> PathBuf {
    oci_hooks().join("containerd/podinit-runc")
}

fn containerd_config() -> PathBuf {
    oci_hooks().join("containerd/config.toml")
}

/// A minimal managed container's config.json; `sandbox` makes it a pod's pause container. No
/// `linux.namespaces`: the runtime's pid namespace, so the front's default gives it the hooks.
fn bundle_config(sandbox: bool) -> Vec<u8> {
    let mut c = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh", "-c", "exit 0"], "env": ["PATH=/bin"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "annotations": {"io.kubernetes.cri.container-name": "app"}
    });
    if sandbox {
        c["annotations"]["io.kubernetes.cri.container-type"] = "sandbox".into();
    }
    serde_json::to_vec_pretty(&c).unwrap()
}

/// The shipped front scripts with the real binary's `podinit runtime`, against fake next
/// runtimes: `create`/`run` bundles are prepared as `inject` prepares them (and a pause bundle
/// is left byte for byte), then the next runtime runs with the same arguments, cwd and exit
/// status; every other command goes straight through.
#[test]
fn runtime_front_scripts_prepare_create_and_run_bundles_then_exec_the_next_runtime() {
    let tmp = TempDir::new("front");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for name in ["runc", "nvidia-container-runtime", "next-runtime"] {
        write_exec(&bin.join(name), FAKE_RUNTIME);
    }
    let state = tmp.0.join("state");
    fs::create_dir_all(state.join("sock")).unwrap();
    // A bundle path with a space, as the shell must keep it one word.
    let bundle = tmp.0.join("bundle dir");
    fs::create_dir_all(&bundle).unwrap();
    let bundle = bundle.canonicalize().unwrap();
    let config = bundle.join("config.json");
    let b = bundle.to_str().unwrap().to_owned();
    let elsewhere = tmp.0.canonicalize().unwrap();
    let binary = Path::new(PODINIT).canonicalize().unwrap();

    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let case = |args: Vec<String>, cwd: &Path, prepares| WrapperCase {
        args,
        cwd: cwd.to_path_buf(),
        prepares,
    };
    let cases = [
        case(s(&["create", "--bundle", &b, "id1"]), &elsewhere, true),
        case(
            s(&["--root", "r", "create", "-b", &b, "id1"]),
            &elsewhere,
            true,
        ),
        case(
            s(&["create", &format!("--bundle={b}"), "id1"]),
            &elsewhere,
            true,
        ),
        // containerd's shim: global options first, then create with its own options.
        case(
            s(&[
                "--root",
                "/run/containerd/runc/k8s.io",
                "--log",
                "/x/log.json",
                "--log-format",
                "json",
                "create",
                "--bundle",
                &b,
                "--pid-file",
                "/x/init.pid",
                "id1",
            ]),
            &elsewhere,
            true,
        ),
        // runc's default bundle is the cwd.
        case(s(&["run", "id1"]), &bundle, true),
        case(s(&["--root", "r", "create", "id1"]), &bundle, true),
        case(s(&["start", "id1"]), &bundle, false),
        case(s(&["delete", "id1"]), &bundle, false),
        case(
            s(&["--root", "r", "delete", "--force", "id1"]),
            &bundle,
            false,
        ),
        case(s(&["kill", "id1", "TERM"]), &bundle, false),
        case(s(&["state", "id1"]), &bundle, false),
        case(s(&["--version"]), &bundle, false),
    ];
    let front = |script: &Path, log: &Path| {
        let mut cmd = Command::new(script);
        cmd.env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKE_LOG", log)
            .env("PODINIT_BINARY", PODINIT)
            .env("PODINIT_SOCKET", state.join("podinit.sock"))
            .env("PODINIT_STATE_DIR", &state);
        cmd
    };
    for (n, (script, default_next)) in front_scripts().into_iter().enumerate() {
        sh_n(&script);
        let mode = fs::metadata(&script).unwrap().permissions().mode();
        assert!(
            mode & 0o111 == 0o111,
            "{}: not executable",
            script.display()
        );
        for (i, case) in cases.iter().enumerate() {
            // Every other case relies on the script's default next runtime found on PATH.
            let explicit_next = i % 2 == 0;
            for runtime_exit in [0, 3] {
                fs::write(&config, bundle_config(false)).unwrap();
                let log = tmp.0.join(format!("s{n}-case{i}-{runtime_exit}.log"));
                let mut cmd = front(&script, &log);
                cmd.args(&case.args)
                    .current_dir(&case.cwd)
                    .env("FAKE_RUNTIME_EXIT", runtime_exit.to_string());
                if explicit_next {
                    cmd.env("PODINIT_NEXT_RUNTIME", bin.join("next-runtime"));
                }
                let what = format!(
                    "{} {:?} in {}",
                    script.display(),
                    case.args,
                    case.cwd.display()
                );
                let code = run_with_stdin(&mut cmd, b"");
                assert_eq!(
                    code, runtime_exit,
                    "{what}: must exit with the next runtime's status"
                );
                let prepared = load_json(&config);
                if case.prepares {
                    assert_eq!(
                        prepared["process"]["args"],
                        serde_json::json!([
                            "/.podinit/podinit",
                            "exec",
                            "--",
                            "sh",
                            "-c",
                            "exit 0"
                        ]),
                        "{what}: process.args"
                    );
                    let hook = &prepared["hooks"]["createRuntime"][0];
                    assert_eq!(hook["path"], binary.to_str().unwrap(), "{what}: hook path");
                    let env = env_pairs(&hook["env"], &what);
                    assert!(
                        env.contains(&("PODINIT_STATE_DIR".into(), state.to_str().unwrap().into())),
                        "{what}: the hook's env {env:?} must carry the front's state dir"
                    );
                } else {
                    assert_eq!(fs::read(&config).unwrap(), bundle_config(false), "{what}");
                }
                let calls = read_calls(&log);
                let want = if explicit_next {
                    "next-runtime"
                } else {
                    default_next
                };
                assert_eq!(calls.len(), 1, "{what}: calls {calls:?}");
                assert_eq!(calls[0].who, want, "{what}: which runtime ran");
                assert_eq!(calls[0].args, case.args, "{what}: the runtime's arguments");
                assert_eq!(
                    Path::new(&calls[0].cwd),
                    case.cwd,
                    "{what}: the runtime's cwd"
                );
            }
        }
    }

    let (script, _) = &front_scripts()[0];
    let create = s(&["create", "--bundle", &b, "id1"]);
    // A pause container: left byte for byte, and the runtime runs it.
    fs::write(&config, bundle_config(true)).unwrap();
    let log = tmp.0.join("sandbox.log");
    assert_eq!(run_with_stdin(front(script, &log).args(&create), b""), 0);
    assert_eq!(
        fs::read(&config).unwrap(),
        bundle_config(true),
        "pause bundle"
    );
    assert_eq!(read_calls(&log).len(), 1, "pause: the runtime must run");

    // Failures name the setting at fault and never run the container unprepared.
    let missing_state = tmp.0.join("no-such-state");
    let missing_runtime = tmp.0.join("no-such-runtime");
    let failures: [(&str, &Path, &str); 2] = [
        ("PODINIT_STATE_DIR", &missing_state, "PODINIT_STATE_DIR="),
        (
            "PODINIT_NEXT_RUNTIME",
            &missing_runtime,
            "PODINIT_NEXT_RUNTIME=",
        ),
    ];
    for (key, value, named) in failures {
        fs::write(&config, bundle_config(false)).unwrap();
        let log = tmp.0.join(format!("fail-{key}.log"));
        let out = front(script, &log)
            .args(&create)
            .env(key, value)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{key}={}: {stderr}",
            value.display()
        );
        assert!(
            stderr.contains(named) && stderr.contains(value.to_str().unwrap()),
            "{key}: the message must name the setting and its value: {stderr}"
        );
        assert!(read_calls(&log).is_empty(), "{key}: nothing may run");
    }
    fs::write(&config, bundle_config(false)).unwrap();
    let before = fs::read(&config).unwrap();
    let out = front(script, &tmp.0.join("nostate.log"))
        .args(&create)
        .env("PODINIT_STATE_DIR", &missing_state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        fs::read(&config).unwrap(),
        before,
        "left unprepared when it fails"
    );

    // A config file (PODINIT_CONFIG) adds what the environment does not set.
    let conf = tmp.0.join("podinit.conf");
    fs::write(
        &conf,
        format!(
            "# test\nPODINIT_NEXT_RUNTIME={}\n",
            bin.join("next-runtime").display()
        ),
    )
    .unwrap();
    let log = tmp.0.join("conf.log");
    let code = run_with_stdin(
        front(script, &log)
            .args(["kill", "id1", "TERM"])
            .env("PODINIT_CONFIG", &conf),
        b"",
    );
    assert_eq!(code, 0);
    assert_eq!(
        read_calls(&log)[0].who,
        "next-runtime",
        "from PODINIT_CONFIG"
    );
    fs::write(&conf, "PODINIT_NEXT_RUNTIMES=crun\n").unwrap();
    let out = front(script, &log)
        .args(["kill", "id1", "TERM"])
        .env("PODINIT_CONFIG", &conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("PODINIT_NEXT_RUNTIMES")
            && stderr.contains("line 1"),
        "a typo in the config file is an error naming it: {stderr}"
    );

    // The multi-call name `podinit-<runtime>` picks the next runtime; pointing the next runtime
    // back at the front is refused instead of looping.
    let multi = tmp.0.join("podinit-next-runtime");
    std::os::unix::fs::symlink(PODINIT, &multi).unwrap();
    let log = tmp.0.join("multi.log");
    assert_eq!(
        run_with_stdin(front(&multi, &log).args(["state", "id1"]), b""),
        0
    );
    assert_eq!(
        read_calls(&log)[0].who,
        "next-runtime",
        "podinit-next-runtime"
    );
    let out = front(script, &log)
        .args(["state", "id1"])
        .env("PODINIT_NEXT_RUNTIME", script)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("leads back"),
        "a front as its own next runtime: {stderr}"
    );
}

/// `config.toml` is the runtime handler the CRI test deploys: runc v2 shim, the annotation
/// globs that let the pod spec through, and the front script as BinaryName.
#[test]
fn containerd_config_is_a_runtime_handler_with_the_front_and_the_annotation_globs() {
    let path = containerd_config();
    let out = run(
        Command::new("python3").args([
            "-c",
            "import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],'rb'))))",
            path.to_str().unwrap(),
        ]),
        T,
    );
    assert!(
        out.status.success(),
        "{} is not valid TOML (python3 tomllib): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["podinit"];
    assert_eq!(
        h["runtime_type"],
        "io.containerd.runc.v2",
        "{}",
        path.display()
    );
    for key in ["pod_annotations", "container_annotations"] {
        assert_eq!(h[key], serde_json::json!(["io.podinit.*"]), "{key}");
    }
    assert_eq!(
        h["options"]["BinaryName"], "/usr/local/bin/podinit-runc",
        "BinaryName: the installed oci-hooks/containerd/podinit-runc"
    );
}

/// Every stage name the files hand to `podinit hook`.
fn stage_names_used() -> BTreeSet<String> {
    let mut stages = BTreeSet::new();
    for path in hooks_d_files() {
        let doc = load_json(&path);
        stages.insert(doc["hook"]["args"][2].as_str().unwrap().to_owned());
        for s in doc["stages"].as_array().unwrap() {
            stages.insert(s.as_str().unwrap().to_owned());
        }
    }
    for (stage, list) in load_json(&containerd_fragment())["hooks"]
        .as_object()
        .unwrap()
    {
        stages.insert(stage.clone());
        for h in list.as_array().unwrap() {
            stages.insert(h["args"][2].as_str().unwrap().to_owned());
        }
    }
    for stage in KATA_STAGES {
        let text = fs::read_to_string(kata_script(stage)).unwrap();
        let prefix = format!("exec {INSTALLED} hook ");
        for l in text.lines() {
            if let Some(s) = l.trim().strip_prefix(&prefix) {
                stages.insert(s.trim().to_owned());
            }
        }
    }
    stages
}

#[test]
fn podinit_hook_accepts_every_stage_the_files_use_and_fails_cleanly_without_a_state() {
    let tmp = TempDir::new("stages");
    let stages = stage_names_used();
    for s in NEEDED {
        assert!(stages.contains(s), "no file uses stage {s}: {stages:?}");
    }
    let socket = tmp.0.join("nobody-listens.sock");
    for stage in &stages {
        for input in [&b""[..], b"garbage{\n", b"\x00\xff\xfe not json"] {
            let mut child = podinit()
                .args(["hook", stage])
                .env("PODINIT_SOCKET", &socket)
                .env("PODINIT_STATE_DIR", &tmp.0)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            let out = {
                let status = support::wait_deadline(&mut child, T, "podinit hook");
                let mut stderr = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
                    .unwrap();
                (status, stderr)
            };
            let what = format!("podinit hook {stage} with stdin {input:?}");
            assert_eq!(out.0.code(), Some(1), "{what}: {}", out.1);
            assert!(
                !out.1.contains("panicked") && !out.1.contains("unknown stage"),
                "{what}: {}",
                out.1
            );
            assert!(
                out.1.contains("podinit") && !out.1.trim().is_empty(),
                "{what}: says nothing"
            );
        }
    }
    // The control: a stage podinit does not know is a usage error.
    let out = run(podinit().args(["hook", "notAStage"]), T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "unknown stage: {stderr}");
    assert!(stderr.contains("unknown stage"), "{stderr}");
    assert!(Path::new(PODINIT).is_file());
}

/// The front's registration mode (issue 13), from the agent's environment: by default a
/// container with a pid namespace of its own gets no hook and a claim carrying the create's
/// container id, and one in the runtime's pid namespace (no `pid` entry) the hooks;
/// `PODINIT_HOOKS=1` forces the hooks, `PODINIT_NO_HOOKS=1` (as before) the claim. The log says
/// which, and why.
#[rstest::rstest]
#[case::default_own_pid_namespace(&[], true, true, "the default for a pid namespace of its own")]
#[case::default_host_pid_namespace(&[], false, false, "OCI hooks, as it has the runtime's (host's) pid namespace")]
#[case::hooks_forced(&[("PODINIT_HOOKS", "1")], true, false, "OCI hooks (--hooks / PODINIT_HOOKS=1 asked)")]
#[case::no_hooks_as_before(&[("PODINIT_NO_HOOKS", "1")], true, true, "PODINIT_NO_HOOKS=1 / --no-hooks asked")]
fn the_runtime_front_claims_by_default_where_the_pid_namespace_is_its_own(
    #[case] env: &[(&str, &str)],
    #[case] own_pid_ns: bool,
    #[case] claims: bool,
    #[case] said: &str,
) {
    let tmp = TempDir::new("front-nohooks");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    write_exec(&bin.join("runc"), FAKE_RUNTIME);
    let state = tmp.0.join("state");
    fs::create_dir_all(state.join("sock")).unwrap();
    let bundle = tmp.0.join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    let mut config: Value = serde_json::from_slice(&bundle_config(false)).unwrap();
    if own_pid_ns {
        config["linux"] = serde_json::json!({"namespaces": [{"type": "pid"}, {"type": "mount"}]});
    }
    fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    let mut cmd = Command::new(containerd_front());
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("FAKE_LOG", tmp.0.join("fake.log"))
        .env("PODINIT_BINARY", PODINIT)
        .env("PODINIT_SOCKET", state.join("podinit.sock"))
        .env("PODINIT_STATE_DIR", &state)
        .env("PODINIT_LOG", "info")
        .envs(env.iter().copied())
        .args(["create", "--bundle", bundle.to_str().unwrap(), "ctr-7"]);
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("container ctr-7") && stderr.contains(said),
        "the front's log says the mode and why ({said:?}): {stderr}"
    );
    let prepared = load_json(&bundle.join("config.json"));
    let claim_mount = prepared["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["destination"] == "/.podinit/claim");
    assert_eq!(
        (prepared.get("hooks").is_some(), claim_mount),
        (!claims, claims),
        "(hooks, claim mount): {prepared}"
    );
    let claims_dir: Vec<_> = fs::read_dir(state.join("claims"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert_eq!(claims_dir.len(), usize::from(claims));
    if claims {
        // The claim is the file's first line (its pod's declaration the second).
        let text = fs::read_to_string(claims_dir[0].path()).unwrap();
        let claim: serde_json::Value =
            serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap();
        assert_eq!(claim["id"], "ctr-7");
        assert_eq!(claim["plan"]["name"], "app");
    }
}
