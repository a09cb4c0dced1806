//! The `podinit hook` command line without clap.
//!
//! The runtime runs `podinit hook STAGE` at every stage of every container, and building clap's
//! parser was most of a hook's instructions (issue 13). [`parse`] accepts exactly the
//! well-formed hook lines (`podinit hook [STAGE] [--socket PATH] [--state-dir PATH]
//! [--on-unreachable POLICY]`, `--opt=value` or `--opt value`, each option at most once), with
//! the meaning clap gives them, environment defaults included; anything else (`-v`, `--help`,
//! an unknown or repeated option, a missing or empty value, `--`, non-UTF-8) returns `None` and
//! the caller hands the line to clap, which prints the usual help or error. `src/main.rs` tests
//! that both parsers agree.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::proto::{DEFAULT_SOCKET, DEFAULT_STATE_DIR};

/// What `podinit hook` was asked, as clap would have parsed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookArgs {
    pub stage: Option<String>,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub on_unreachable: Option<String>,
}

/// `argv` is the whole command line (program name first); `env` reads a variable (the
/// defaults of `--socket` and `--state-dir` are `PODINIT_SOCKET` and `PODINIT_STATE_DIR`).
pub fn parse(argv: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Option<HookArgs> {
    if argv.get(1)? != "hook" {
        return None;
    }
    let mut stage = None;
    let mut socket = None;
    let mut state_dir = None;
    let mut on_unreachable = None;
    let mut words = argv[2..].iter();
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let Some(option) = word.strip_prefix("--") else {
            if word.starts_with('-') || stage.is_some() {
                return None;
            }
            stage = Some(word.to_string());
            continue;
        };
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, value),
            None => (option, words.next()?.to_str()?),
        };
        if value.is_empty() || value.starts_with('-') {
            return None;
        }
        let slot = match name {
            "socket" => &mut socket,
            "state-dir" => &mut state_dir,
            "on-unreachable" => &mut on_unreachable,
            _ => return None,
        };
        if slot.replace(value.to_string()).is_some() {
            return None;
        }
    }
    let path = |given: Option<String>, var: &str, default: &str| match given {
        Some(p) => Some(PathBuf::from(p)),
        None => match env(var) {
            // an empty variable: left to clap
            Some(v) if v.is_empty() => None,
            Some(v) => Some(PathBuf::from(v)),
            None => Some(PathBuf::from(default)),
        },
    };
    Some(HookArgs {
        stage,
        socket: path(socket, "PODINIT_SOCKET", DEFAULT_SOCKET)?,
        state_dir: path(state_dir, "PODINIT_STATE_DIR", DEFAULT_STATE_DIR)?,
        on_unreachable,
    })
}
