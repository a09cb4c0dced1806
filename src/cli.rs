//! Drivers for the operator commands (`supervise`, `hook`, `inject`, `status`, `stop`): argument
//! values in, an exit code out (`status` and `stop` in `operator.rs`). The argument parsing itself lives in `main.rs`.

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::ContainerState;
use crate::hook::{self, HookOptions, OnUnreachable, Stage};
use crate::inject::{self, InjectOptions};
use crate::status::{Container, Document};
use crate::supervisor;

pub enum Command {
    Supervise {
        socket: PathBuf,
        state_dir: PathBuf,
        settle_ms: u64,
        exit_with_pod: bool,
    },
    Hook {
        stage: Option<String>,
        socket: PathBuf,
        state_dir: PathBuf,
        on_unreachable: Option<String>,
    },
    Inject {
        bundle: PathBuf,
        socket: PathBuf,
        state_dir: PathBuf,
        binary: Option<PathBuf>,
        /// `--hooks` or `--no-hooks`; `None`: `PODINIT_HOOKS` (or `PODINIT_NO_HOOKS`), else auto.
        hooks: Option<inject::HookMode>,
        /// The id the container will be created with (a claim carries it).
        id: String,
    },
    Status {
        target: crate::operator::Target,
        format: crate::operator::Format,
    },
    Stop {
        target: crate::operator::Target,
        grace: Option<u64>,
    },
    /// `podinit restart` / `podinit signal`.
    Operate {
        target: crate::operator::Target,
        container: String,
        op: crate::engine::Operation,
    },
    Run(crate::run::RunOptions),
    RunVm(crate::run::RunOptions, crate::vm::host::VmOptions),
    SandboxInit,
}

pub fn run(command: Command) -> i32 {
    match command {
        #[cfg(feature = "run")]
        Command::Run(opts) => crate::run::run(opts),
        #[cfg(feature = "run")]
        Command::RunVm(opts, vm) => crate::vm::host::run(&opts, &vm),
        // The shipped binary (scripts/build-release.sh) leaves `podinit run` out to stay under
        // 1 MiB; the code is still compiled, so nothing else changes with the feature.
        #[cfg(not(feature = "run"))]
        Command::Run(_) | Command::RunVm(..) => {
            eprintln!(
                "podinit run: not in this build (built without the `run` feature, as the release \
                 binary is); use a default build: cargo build"
            );
            2
        }
        Command::SandboxInit => crate::vm::guest::run(),
        Command::Supervise {
            socket,
            state_dir,
            settle_ms,
            exit_with_pod,
        } => {
            let engine = crate::engine::Config {
                settle: Duration::from_millis(settle_ms),
                ..Default::default()
            };
            supervisor::run(supervisor::Options {
                socket,
                state_dir,
                engine,
                exit_with_pod,
            })
        }
        Command::Hook {
            stage,
            socket,
            state_dir,
            on_unreachable,
        } => {
            let stage = match stage.as_deref().map(|s| (s, Stage::parse(s))) {
                None => None,
                Some((_, Some(st))) => Some(st),
                Some((raw, None)) => {
                    eprintln!(
                        "podinit hook: unknown stage {raw:?} (expected createRuntime, prestart, poststart or poststop)"
                    );
                    return 2;
                }
            };
            let policy =
                on_unreachable.or_else(|| std::env::var("PODINIT_HOOK_ON_UNREACHABLE").ok());
            let on_unreachable = match policy.as_deref() {
                None => None,
                Some("fail") => Some(OnUnreachable::Fail),
                Some("ignore") => Some(OnUnreachable::Ignore),
                Some(other) => {
                    eprintln!(
                        "podinit hook: unknown unreachable policy {other:?} (expected fail or ignore)"
                    );
                    return 2;
                }
            };
            hook::run(&HookOptions {
                stage,
                socket,
                state_dir,
                on_unreachable,
            })
        }
        Command::Inject {
            bundle,
            socket,
            state_dir,
            binary,
            hooks,
            id,
        } => {
            let binary = match binary.map(Ok).unwrap_or_else(std::env::current_exe) {
                Ok(b) => b.canonicalize().unwrap_or(b),
                Err(e) => {
                    eprintln!(
                        "podinit inject: cannot find the podinit binary ({e}); pass --binary"
                    );
                    return 2;
                }
            };
            let log_level = std::env::var("PODINIT_LOG").ok();
            let from_env = |k: &str| {
                std::env::var(k)
                    .ok()
                    .map(|v| (v, "from the environment".to_owned()))
            };
            let (h, n) = (from_env(inject::HOOKS_VAR), from_env(inject::NO_HOOKS_VAR));
            let settled = hooks.map(Ok).unwrap_or_else(|| {
                inject::HookMode::settle(
                    h.as_ref().map(|(v, w)| (v.as_str(), w.clone())),
                    n.as_ref().map(|(v, w)| (v.as_str(), w.clone())),
                )
            });
            let hooks = match settled {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("podinit inject: {e}");
                    return 2;
                }
            };
            let opts = InjectOptions {
                binary,
                socket,
                state_dir,
                log_level,
                hooks,
                id,
            };
            match inject::inject(&bundle, &opts) {
                Ok(outcome) => {
                    // Which registration the bundle got, and why: the one thing an operator
                    // cannot see in config.json at a glance.
                    let (verb, chosen) = match &outcome {
                        inject::Outcome::Changed(c) => ("prepared", c),
                        inject::Outcome::Unchanged(c) => ("was prepared already", c),
                        inject::Outcome::Sandbox(key) => {
                            println!("{}: {key}=sandbox, left as it is", bundle.display());
                            return 0;
                        }
                    };
                    let id = if chosen.claim {
                        format!(" as container {}", opts.id)
                    } else {
                        String::new()
                    };
                    println!("{}: {verb}{id}: {chosen}", bundle.display());
                    0
                }
                Err(e) => {
                    eprintln!("podinit inject: {e}");
                    2
                }
            }
        }
        Command::Status { target, format } => crate::operator::status(&target, format),
        Command::Stop { target, grace } => crate::operator::stop(&target, grace),
        Command::Operate {
            target,
            container,
            op,
        } => crate::operator::operate(&target, &container, op),
    }
}

/// The REASON column: a container held at its start gate says what holds it.
fn held_reason(c: &Container) -> String {
    match c.message.as_str() {
        m if !m.is_empty() && c.state == ContainerState::Waiting => format!("{}: {m}", c.reason),
        _ => c.reason.clone(),
    }
}

/// `podinit status` for a person: the phase, then one line per container.
pub fn status_table(doc: &Document) -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let mut out = format!("pod: {} {}\n", doc.phase.as_str(), doc.reason);
    if doc.reason == "StartTimeout" {
        out += &format!("why: {}\n", doc.message);
    }
    let conditions: Vec<String> = doc
        .conditions
        .iter()
        .map(|c| format!("{}={}", c.kind, c.status))
        .collect();
    if !conditions.is_empty() {
        out += &format!("conditions: {}\n", conditions.join(" "));
    }
    out += &format!(
        "{:<20} {:<8} {:<11} {:<8} {:<6} {:<8} {:<5} {}\n",
        "NAME", "KIND", "STATE", "STARTED", "READY", "RESTARTS", "EXIT", "REASON"
    );
    for c in &doc.containers {
        let code = or_dash(c.exit_code.map(|e| e.to_string()));
        let exit = match c.raw_exit_code {
            Some(raw) if c.exit_code != Some(raw) => format!("{code}({raw})"),
            _ => code,
        };
        out += &format!(
            "{:<20} {:<8} {:<11} {:<8} {:<6} {:<8} {:<5} {}\n",
            c.name,
            or_dash(c.kind.map(|k| k.as_str().to_owned())),
            c.state.as_str(),
            c.started,
            c.ready,
            c.restart_count,
            exit,
            held_reason(c)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_held_container_says_what_holds_it_and_a_start_timeout_says_why() {
        let doc = json!({"phase": "Failed", "reason": "StartTimeout",
            "message": "container app waited 3s at its start gate, waiting for sidecar proxy: its startupProbe has not passed yet; teardown with a grace budget of 30s",
            "containers": [
                {"name": "proxy", "kind": "sidecar", "state": "running", "reason": "Running", "message": ""},
                {"name": "app", "kind": "app", "state": "waiting", "reason": "Waiting at the start gate",
                 "message": "waiting for sidecar proxy: its startupProbe has not passed yet"}]});
        let doc: Document = serde_json::from_value(doc).expect("a status document");
        let table = status_table(&doc);
        assert!(
            table.contains(
                "\nwhy: container app waited 3s at its start gate, waiting for sidecar proxy"
            ),
            "{table}"
        );
        let app = table
            .lines()
            .find(|l| l.starts_with("app "))
            .expect("app row");
        assert!(
            app.ends_with("Waiting at the start gate: waiting for sidecar proxy: its startupProbe has not passed yet"),
            "{app}"
        );
        let proxy = table
            .lines()
            .find(|l| l.starts_with("proxy "))
            .expect("proxy row");
        assert!(proxy.ends_with("Running"), "{proxy}");
    }
}
