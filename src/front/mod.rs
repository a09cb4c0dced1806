//! The runtime front: `podinit runtime ARGS...` (or the multi-call name `podinit-<runtime>`) is a
//! complete OCI runtime command line for an agent that cannot rewrite bundles itself — set it as
//! containerd's `BinaryName`, CRI-O's `runtime_path` or podman's `--runtime`. At `create` and
//! `run` it prepares the bundle as `podinit inject` does (never a sandbox/pause bundle), then it
//! execs the next runtime (runc, crun, nvidia-container-runtime, any path) with the agent's
//! arguments unchanged; every other command goes straight through.
//!
//! This is the channel that can make podinit the container's init whatever the agent does with
//! the image's entrypoint: a Kubernetes `command` replaces the ENTRYPOINT, and a
//! `base_runtime_spec` hook cannot change `process.args` (issue 9 finding 1).
//!
//! Settings: `settings.rs` (environment, then `podinit.conf` next to the binary, then the
//! multi-call name, then defaults).

mod args;
mod settings;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

pub use args::{Invocation, parse as parse_args};
pub use settings::{Settings, Source};

use crate::inject::{self, InjectOptions, Outcome};
use crate::{log_debug, log_error, log_info};

/// Set in the next runtime's environment: a front that finds it was reached through itself.
const REENTERED: &str = "PODINIT_FRONT_NEXT";

/// Runs the front and never returns on success (the next runtime replaces this process).
pub fn main(argv0: &str, args: Vec<OsString>) -> i32 {
    // Our own binary: the config file sits next to it, and at create it is what the bundle's
    // hooks run and its mount shows the container.
    let exe = std::env::current_exe().and_then(|b| b.canonicalize());
    let settings = match load_settings(argv0, exe.as_deref().ok()) {
        Ok(s) => s,
        Err(e) => {
            log_error!("runtime: {e}");
            return 1;
        }
    };
    if let Some(level) = settings
        .log
        .as_ref()
        .and_then(|l| crate::log::Level::parse(&l.value))
    {
        crate::log::set_level(level);
    }
    if std::env::var_os(REENTERED).is_some() {
        log_error!(
            "runtime: {} leads back to the podinit runtime front; point it at the real runtime (runc, crun, nvidia-container-runtime)",
            settings.next_runtime.describe(settings::NEXT_RUNTIME)
        );
        return 1;
    }
    let inv = parse_args(&args);
    if inv.creates() {
        let prepared = match &exe {
            Ok(exe) => prepare(&inv, &settings, exe),
            Err(e) => Err(format!(
                "container {}: cannot find the podinit binary: {e}",
                inv.id.as_deref().unwrap_or("?")
            )),
        };
        if let Err(e) = prepared {
            log_error!("runtime: {e}");
            return 1;
        }
    }
    let next = &settings.next_runtime;
    log_debug!(
        "runtime: {} → {}",
        inv.command.as_deref().unwrap_or("-"),
        next.describe(settings::NEXT_RUNTIME)
    );
    let err = std::process::Command::new(&next.value)
        .args(&args)
        .env(REENTERED, "1")
        .exec();
    log_error!(
        "runtime: cannot run the next runtime, {}: {err}; install it or set {} (in the agent's environment or podinit.conf)",
        next.describe(settings::NEXT_RUNTIME),
        settings::NEXT_RUNTIME
    );
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// The config file: `PODINIT_CONFIG` if set (then it must exist), else `podinit.conf` next to
/// the podinit binary, if there is one.
fn load_settings(argv0: &str, exe: Option<&Path>) -> Result<Settings, String> {
    let explicit = std::env::var_os(settings::CONFIG).map(PathBuf::from);
    let path = explicit
        .clone()
        .or_else(|| Some(exe?.parent()?.join(settings::CONFIG_FILE_NAME)));
    let mut parsed = None;
    if let Some(path) = path {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                parsed = Some(settings::parse_config(&path, &text).map_err(|e| e.to_string())?);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {}
            Err(e) => {
                return Err(format!(
                    "{}={}: cannot read the config file: {e}",
                    settings::CONFIG,
                    path.display()
                ));
            }
        }
    }
    Ok(settings::resolve(
        |k| std::env::var(k).ok(),
        parsed.as_ref(),
        argv0,
    ))
}

fn prepare(inv: &Invocation, s: &Settings, binary: &Path) -> Result<(), String> {
    let bundle = match &inv.bundle {
        Some(b) => PathBuf::from(b),
        None => std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?,
    };
    let id = inv.id.as_deref().unwrap_or("?");
    let state_dir = PathBuf::from(&s.state_dir.value);
    let opts = InjectOptions {
        binary: binary.to_path_buf(),
        socket: PathBuf::from(&s.socket.value),
        state_dir: state_dir.clone(),
        log_level: s.log.as_ref().map(|l| l.value.clone()),
        hooks: s.hook_mode().map_err(|e| format!("container {id}: {e}"))?,
        id: id.to_owned(),
    };
    // The sandbox check comes first inside `inject`; only a managed container needs the socket.
    match inject::inject_checked(&bundle, &opts, || sock_dir_exists(&state_dir, s)) {
        Ok(Outcome::Sandbox(key)) => {
            log_debug!("runtime: container {id}: {key}=sandbox, left as it is");
            Ok(())
        }
        Ok(Outcome::Changed(chosen)) => {
            log_info!(
                "runtime: container {id}: bundle {} prepared: {chosen}",
                bundle.display()
            );
            Ok(())
        }
        Ok(Outcome::Unchanged(chosen)) => {
            log_info!(
                "runtime: container {id}: bundle {} was prepared already: {chosen}",
                bundle.display()
            );
            Ok(())
        }
        Err(e) => Err(format!("container {id}: {e}")),
    }
}

/// The runtime bind-mounts `<state-dir>/sock` into the container: without it the create fails
/// with a mount error that names neither podinit nor the setting (issue 9 finding 3).
fn sock_dir_exists(state_dir: &Path, s: &Settings) -> Result<(), String> {
    let sock = state_dir.join("sock");
    if sock.is_dir() {
        return Ok(());
    }
    Err(format!(
        "{} does not exist: no `podinit supervise` runs with {}; start it, or set {} in the agent's environment (or podinit.conf) to the state dir it uses",
        sock.display(),
        s.state_dir.describe(settings::STATE_DIR),
        settings::STATE_DIR
    ))
}
