//! Runs `podinit explain --json` over every fixture bundle in `testdata/bundles/` and checks it
//! against the bundle's `expected.json`, which holds exactly one of:
//!
//! - `{"name": N, "kind": "init" | "sidecar" | "app"}`: exit 0, stdout is one JSON object with
//!   that `name` and `kind`, a non-empty string `reason` and its source as data
//!   (`sources.kind`, tagged by `kind`);
//! - `{"ignored": true}`: exit 0, stdout is one JSON object with `"ignored": true` and a non-empty
//!   `reason` (pause/sandbox containers);
//! - `{"error_contains": [S, ...]}`: a refusal, i.e. a non-zero exit (not a signal, not a panic)
//!   whose stderr contains every S (the annotation or env key at fault and the container name).
//!
//! Every bundle is checked and every mismatch is collected; the test then fails once, listing them
//! all, so one run shows every failing bundle.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// The fixtures must not pass vacuously (e.g. a moved directory).
const MIN_BUNDLES: usize = 25;
/// `explain` only reads one file; anything near this is a hang.
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
enum Expected {
    Classified { name: String, kind: String },
    Ignored,
    Error { contains: Vec<String> },
}

struct Outcome {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

fn bundles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join("bundles")
}

fn parse_expected(path: &Path) -> Result<Expected, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("{} is not a JSON object", path.display()))?;
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = obj.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    };
    let string = |key: &str| -> Result<String, String> {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{}: `{key}` must be a string", path.display()))
    };
    match keys.as_slice() {
        ["kind", "name"] => {
            let kind = string("kind")?;
            if !matches!(kind.as_str(), "init" | "sidecar" | "app") {
                return Err(format!("{}: unknown kind {kind:?}", path.display()));
            }
            Ok(Expected::Classified {
                name: string("name")?,
                kind,
            })
        }
        ["ignored"] if obj["ignored"] == Value::Bool(true) => Ok(Expected::Ignored),
        ["error_contains"] => {
            let list = obj["error_contains"]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    format!(
                        "{}: `error_contains` must be a non-empty array",
                        path.display()
                    )
                })?;
            let contains = list
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            format!(
                                "{}: `error_contains` holds a non-string or empty entry",
                                path.display()
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expected::Error { contains })
        }
        _ => Err(format!(
            "{}: expected exactly {{name, kind}}, {{ignored: true}} or {{error_contains}}, got keys {keys:?}",
            path.display()
        )),
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn run_explain(bundle: &Path) -> Result<Outcome, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podinit"))
        .arg("explain")
        .arg("--json")
        .arg(bundle)
        .env_remove("PODINIT_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot spawn podinit: {e}"))?;
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for podinit: {e}")),
        }
    };
    Ok(Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn describe(o: &Outcome) -> String {
    let status = match o.status {
        None => format!("killed after {TIMEOUT:?} (hang)"),
        Some(s) => format!("{s}"),
    };
    format!(
        "{status}\n      stdout: {}\n      stderr: {}",
        o.stdout.trim_end(),
        o.stderr.trim_end()
    )
}

/// Checks one bundle; returns the problems found (empty when it matches).
fn check(expected: &Expected, o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(status) = o.status else {
        return vec![format!("did not finish: {}", describe(o))];
    };
    if status.code().is_none() {
        problems.push(format!("killed by a signal: {}", describe(o)));
    }
    if o.stderr.contains("panicked") {
        problems.push(format!("panicked: {}", describe(o)));
    }
    match expected {
        Expected::Classified { .. } | Expected::Ignored => {
            if !status.success() {
                problems.push(format!("expected exit 0, got {}", describe(o)));
                return problems;
            }
            let obj: Map<String, Value> = match serde_json::from_str::<Value>(&o.stdout) {
                Ok(Value::Object(m)) => m,
                Ok(other) => {
                    problems.push(format!("stdout is JSON but not one object: {other}"));
                    return problems;
                }
                Err(e) => {
                    problems.push(format!(
                        "stdout is not one JSON object ({e}): {}",
                        describe(o)
                    ));
                    return problems;
                }
            };
            match obj.get("reason") {
                Some(Value::String(r)) if !r.trim().is_empty() => {}
                other => problems.push(format!(
                    "`reason` must be a non-empty string, got {other:?}"
                )),
            }
            match expected {
                Expected::Classified { name, kind } => {
                    // The provenance as data (`sources`), beside the sentence.
                    if !obj
                        .get("sources")
                        .and_then(|s| s.get("kind"))
                        .and_then(|k| k.get("kind"))
                        .is_some_and(Value::is_string)
                    {
                        problems.push(format!(
                            "`sources.kind.kind` must be a string, got {:?}",
                            obj.get("sources")
                        ));
                    }
                    if obj.get("name").and_then(Value::as_str) != Some(name.as_str()) {
                        problems.push(format!(
                            "name: expected {name:?}, got {:?}",
                            obj.get("name")
                        ));
                    }
                    if obj.get("kind").and_then(Value::as_str) != Some(kind.as_str()) {
                        problems.push(format!(
                            "kind: expected {kind:?}, got {:?} (reason: {:?})",
                            obj.get("kind"),
                            obj.get("reason")
                        ));
                    }
                    if obj.get("ignored") == Some(&Value::Bool(true)) {
                        problems
                            .push("a classified container must not be `ignored: true`".to_owned());
                    }
                }
                Expected::Ignored => {
                    if obj.get("ignored") != Some(&Value::Bool(true)) {
                        problems.push(format!(
                            "expected `\"ignored\": true`, got {:?}",
                            obj.get("ignored")
                        ));
                    }
                }
                Expected::Error { .. } => unreachable!(),
            }
        }
        Expected::Error { contains } => {
            if status.success() {
                problems.push(format!(
                    "expected a refusal (non-zero exit), got {}",
                    describe(o)
                ));
                return problems;
            }
            let missing: Vec<&String> = contains
                .iter()
                .filter(|s| !o.stderr.contains(s.as_str()))
                .collect();
            if !missing.is_empty() {
                problems.push(format!("stderr lacks {missing:?}: {}", describe(o)));
            }
        }
    }
    problems
}

#[test]
fn explain_matches_every_fixture_bundle() {
    let root = bundles_dir();
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= MIN_BUNDLES,
        "only {} bundles under {} (expected at least {MIN_BUNDLES}); the test would pass vacuously",
        dirs.len(),
        root.display()
    );

    let mut failures: Vec<(String, String)> = Vec::new();
    for dir in &dirs {
        let case = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected = match parse_expected(&dir.join("expected.json")) {
            Ok(e) => e,
            Err(e) => {
                failures.push((case, format!("bad fixture: {e}")));
                continue;
            }
        };
        if !dir.join("config.json").is_file() {
            failures.push((case, "bad fixture: no config.json".to_owned()));
            continue;
        }
        match run_explain(dir) {
            Err(e) => failures.push((case, e)),
            Ok(outcome) => {
                for problem in check(&expected, &outcome) {
                    failures.push((case.clone(), problem));
                }
            }
        }
    }

    let failing: BTreeSet<&str> = failures.iter().map(|(c, _)| c.as_str()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} bundles do not match their expected.json ({}):\n  - {}",
        failing.len(),
        dirs.len(),
        failing.into_iter().collect::<Vec<_>>().join(", "),
        failures
            .iter()
            .map(|(c, p)| format!("{c}: {p}"))
            .collect::<Vec<_>>()
            .join("\n  - ")
    );
}
