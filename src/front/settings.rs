//! The runtime front's settings and where each one came from. An agent starts its runtime with
//! no flags of ours, so settings come from the environment the agent hands its runtimes
//! (containerd's service environment reaches the shims and runc; CRI-O and podman pass theirs
//! too), then from a config file next to the podinit binary, then from the name the front was
//! invoked as (`podinit-crun` → next runtime `crun`), then from the built-in defaults. The
//! environment always wins: it is the one channel every agent has. Pure: the environment and the
//! file's text are handed in.

use std::fmt;
use std::path::PathBuf;

use crate::proto::{DEFAULT_SOCKET, DEFAULT_STATE_DIR};

pub const NEXT_RUNTIME: &str = "PODINIT_NEXT_RUNTIME";
pub const SOCKET: &str = "PODINIT_SOCKET";
pub const STATE_DIR: &str = "PODINIT_STATE_DIR";
pub const LOG: &str = "PODINIT_LOG";
/// `1`: bundles prepared `inject --hooks`; `0`: `inject --no-hooks`; unset or `auto`: as
/// `inject` decides (no hooks where the container has a pid namespace of its own).
pub const HOOKS: &str = crate::inject::HOOKS_VAR;
/// The older, inverted spelling of [`HOOKS`]: `PODINIT_NO_HOOKS=1` is `PODINIT_HOOKS=0`.
pub const NO_HOOKS: &str = crate::inject::NO_HOOKS_VAR;
/// Where the config file is, when not `podinit.conf` next to the binary.
pub const CONFIG: &str = "PODINIT_CONFIG";
pub const CONFIG_FILE_NAME: &str = "podinit.conf";
const KEYS: [&str; 6] = [NEXT_RUNTIME, SOCKET, STATE_DIR, LOG, HOOKS, NO_HOOKS];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    /// The config file, at this line.
    File(PathBuf, usize),
    /// The multi-call name the front was invoked as.
    InvokedAs(String),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => write!(f, "from the environment"),
            Source::File(p, line) => write!(f, "from {} line {line}", p.display()),
            Source::InvokedAs(name) => write!(f, "from the name {name:?} the front was run as"),
            Source::Default => write!(f, "the default"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T: fmt::Display> Setting<T> {
    /// `PODINIT_STATE_DIR=/run/podinit (the default)`: for messages that name the setting.
    pub fn describe(&self, key: &str) -> String {
        format!("{key}={} ({})", self.value, self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub next_runtime: Setting<String>,
    pub socket: Setting<String>,
    pub state_dir: Setting<String>,
    pub log: Option<Setting<String>>,
    pub hooks: Option<Setting<String>>,
    pub no_hooks: Option<Setting<String>>,
}

impl Settings {
    /// Hooks, no hooks, or auto ([`crate::inject::HookMode`]); a value that is none of them,
    /// or [`HOOKS`] and [`NO_HOOKS`] disagreeing, is an error naming them and where they came
    /// from.
    pub fn hook_mode(&self) -> Result<crate::inject::HookMode, String> {
        fn of(s: &Option<Setting<String>>) -> Option<(&str, String)> {
            s.as_ref().map(|s| (s.value.as_str(), s.source.to_string()))
        }
        crate::inject::HookMode::settle(of(&self.hooks), of(&self.no_hooks)).map_err(|e| {
            let whence = [(HOOKS, &self.hooks), (NO_HOOKS, &self.no_hooks)]
                .iter()
                .filter_map(|(k, s)| s.as_ref().map(|s| s.describe(k)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{e} [{whence}]")
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub why: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: {}; the file takes KEY=VALUE lines for {}",
            self.path.display(),
            self.line,
            self.why,
            KEYS.join(", ")
        )
    }
}

impl std::error::Error for ConfigError {}

/// A parsed config file: `(key, value, line)` in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub entries: Vec<(String, String, usize)>,
}

/// The config file's `KEY=VALUE` lines (`#` comments, blank lines); unknown keys are errors, so a
/// typo never silently falls back to a default.
pub fn parse_config(path: &std::path::Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |why: String| ConfigError {
            path: path.to_path_buf(),
            line: line_no,
            why,
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err(format!("{line:?} is not KEY=VALUE")))?;
        let (key, value) = (key.trim(), value.trim());
        if !KEYS.contains(&key) {
            return Err(err(format!("unknown setting {key:?}")));
        }
        if value.is_empty() {
            return Err(err(format!("{key} has an empty value")));
        }
        out.push((key.to_owned(), value.to_owned(), line_no));
    }
    Ok(ConfigFile {
        path: path.to_path_buf(),
        entries: out,
    })
}

/// `podinit-crun` → `crun`: the runtime a multi-call name asks for, if it is one.
pub fn invoked_as(argv0: &str) -> Option<&str> {
    let base = argv0.rsplit('/').next()?;
    base.strip_prefix("podinit-").filter(|n| !n.is_empty())
}

/// Resolve every setting. `env` looks a variable up; `file` is the parsed config file, if any.
pub fn resolve(
    env: impl Fn(&str) -> Option<String>,
    file: Option<&ConfigFile>,
    argv0: &str,
) -> Settings {
    let pick = |key: &str| -> Option<Setting<String>> {
        if let Some(v) = env(key).filter(|v| !v.is_empty()) {
            return Some(Setting {
                value: v,
                source: Source::Environment,
            });
        }
        let file = file?;
        file.entries
            .iter()
            .rev() // the last line for a key wins, as in a shell
            .find(|(k, _, _)| k == key)
            .map(|(_, v, line)| Setting {
                value: v.clone(),
                source: Source::File(file.path.clone(), *line),
            })
    };
    let default = |v: &str| Setting {
        value: v.to_owned(),
        source: Source::Default,
    };
    let next_runtime = pick(NEXT_RUNTIME)
        .or_else(|| {
            invoked_as(argv0).map(|n| Setting {
                value: n.to_owned(),
                source: Source::InvokedAs(argv0.rsplit('/').next().unwrap_or(argv0).to_owned()),
            })
        })
        .unwrap_or_else(|| default("runc"));
    Settings {
        next_runtime,
        socket: pick(SOCKET).unwrap_or_else(|| default(DEFAULT_SOCKET)),
        state_dir: pick(STATE_DIR).unwrap_or_else(|| default(DEFAULT_STATE_DIR)),
        log: pick(LOG),
        hooks: pick(HOOKS),
        no_hooks: pick(NO_HOOKS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::HookMode;
    use rstest::rstest;
    use std::collections::HashMap;
    use std::path::Path;

    const FILE: &str = "/usr/local/bin/podinit.conf";

    fn settle(env: &[(&str, &str)], file: Option<&str>, argv0: &str) -> Settings {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let parsed = file.map(|t| parse_config(Path::new(FILE), t).unwrap());
        resolve(|k| env.get(k).cloned(), parsed.as_ref(), argv0)
    }

    #[rstest]
    #[case::defaults(&[], None, "/usr/local/bin/podinit", "runc", Source::Default)]
    #[case::multi_call(&[], None, "/usr/local/bin/podinit-crun", "crun", Source::InvokedAs("podinit-crun".into()))]
    #[case::file_over_name(&[], Some("PODINIT_NEXT_RUNTIME=/usr/bin/nvidia-container-runtime"), "podinit-runc",
        "/usr/bin/nvidia-container-runtime", Source::File(FILE.into(), 1))]
    #[case::env_over_file(&[("PODINIT_NEXT_RUNTIME", "crun")], Some("PODINIT_NEXT_RUNTIME=runc"), "podinit",
        "crun", Source::Environment)]
    #[case::empty_env_is_unset(&[("PODINIT_NEXT_RUNTIME", "")], None, "podinit", "runc", Source::Default)]
    #[case::last_line_wins(&[], Some("PODINIT_NEXT_RUNTIME=runc\n# gpu\nPODINIT_NEXT_RUNTIME = crun \n"), "podinit",
        "crun", Source::File(FILE.into(), 3))]
    fn the_next_runtime(
        #[case] env: &[(&str, &str)],
        #[case] file: Option<&str>,
        #[case] argv0: &str,
        #[case] want: &str,
        #[case] source: Source,
    ) {
        let s = settle(env, file, argv0);
        assert_eq!(s.next_runtime.value, want);
        assert_eq!(s.next_runtime.source, source);
    }

    #[test]
    fn the_environment_and_the_file_add_up() {
        let s = settle(
            &[("PODINIT_SOCKET", "/run/p/podinit.sock")],
            Some("PODINIT_STATE_DIR=/run/p\nPODINIT_SOCKET=/ignored"),
            "podinit",
        );
        assert_eq!(s.socket.value, "/run/p/podinit.sock");
        assert_eq!(s.socket.source, Source::Environment);
        assert_eq!(s.state_dir.value, "/run/p");
        assert_eq!(
            s.state_dir.describe(STATE_DIR),
            format!("PODINIT_STATE_DIR=/run/p (from {FILE} line 1)")
        );
        assert_eq!(s.log, None);
        assert_eq!(s.hook_mode(), Ok(HookMode::Auto));
    }

    #[rstest]
    #[case::unset(&[], None, Ok(HookMode::Auto))]
    #[case::hooks_env(&[("PODINIT_HOOKS", "1")], None, Ok(HookMode::Hooks))]
    #[case::hooks_file(&[], Some("PODINIT_HOOKS=yes"), Ok(HookMode::Hooks))]
    #[case::hooks_off(&[], Some("PODINIT_HOOKS=0"), Ok(HookMode::NoHooks))]
    #[case::hooks_auto(&[("PODINIT_HOOKS", "auto")], Some("PODINIT_HOOKS=1"), Ok(HookMode::Auto))]
    #[case::no_hooks_env(&[("PODINIT_NO_HOOKS", "1")], None, Ok(HookMode::NoHooks))]
    #[case::no_hooks_off_over_file(&[("PODINIT_NO_HOOKS", "0")], Some("PODINIT_NO_HOOKS=1"), Ok(HookMode::Hooks))]
    #[case::no_hooks_file(&[], Some("PODINIT_NO_HOOKS=true"), Ok(HookMode::NoHooks))]
    #[case::agreeing(&[("PODINIT_HOOKS", "0")], Some("PODINIT_NO_HOOKS=1"), Ok(HookMode::NoHooks))]
    #[case::disagreeing(&[("PODINIT_HOOKS", "1")], Some("PODINIT_NO_HOOKS=1"),
        Err("PODINIT_HOOKS=1 (from the environment) and PODINIT_NO_HOOKS=1 (from /usr/local/bin/podinit.conf line 1) disagree"))]
    #[case::typo(&[], Some("PODINIT_HOOKS=ture"), Err("PODINIT_HOOKS=ture: expected 1 (hooks), 0 (no hooks) or auto"))]
    fn the_hook_mode_is_a_setting(
        #[case] env: &[(&str, &str)],
        #[case] file: Option<&str>,
        #[case] want: Result<HookMode, &str>,
    ) {
        let got = settle(env, file, "podinit").hook_mode();
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w),
            (Err(g), Err(w)) => assert!(g.contains(w), "{g}"),
            (g, w) => panic!("{g:?}, want {w:?}"),
        }
    }

    #[rstest]
    #[case::typo("PODINIT_NEXT_RUNTIMES=crun", "unknown setting")]
    #[case::no_equals("crun", "not KEY=VALUE")]
    #[case::empty_value("PODINIT_SOCKET=", "empty value")]
    #[case::foreign_key("PATH=/usr/bin", "unknown setting")]
    fn bad_config_lines_are_named(#[case] text: &str, #[case] why: &str) {
        let e = parse_config(Path::new(FILE), &format!("# ok\n\n{text}\n")).unwrap_err();
        assert_eq!(e.line, 3);
        let msg = e.to_string();
        assert!(msg.contains(why) && msg.contains(FILE), "{msg}");
    }

    #[rstest]
    #[case("podinit", None)]
    #[case("podinit-", None)]
    #[case("/usr/local/bin/podinit-runc", Some("runc"))]
    #[case("podinit-nvidia-container-runtime", Some("nvidia-container-runtime"))]
    #[case("/opt/podinit-x/podinit", None)]
    fn multi_call_names(#[case] argv0: &str, #[case] want: Option<&str>) {
        assert_eq!(invoked_as(argv0), want);
    }
}
