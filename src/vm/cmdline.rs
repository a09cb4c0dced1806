//! The sandbox's configuration from the kernel command line (`/proc/cmdline`).
//!
//! The kernel hands PID 1 neither `PATH` nor dotted words as environment (`podinit.pod=...` looks
//! like a module parameter to it), so PID 1 reads the command line itself. Words follow the
//! kernel's own rules (`lib/cmdline.c`, `next_arg`): separated by spaces, double quotes group a
//! value with spaces (`podinit.agent="/opt/agent --serve"`), and `--` ends the kernel's part.
//! Only `podinit.*` words are ours; an unknown one is an error, never ignored, because a typo
//! would silently run a different sandbox.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::run::CreateOrder;

/// Who creates the pod's containers inside the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// `podinit run` of this same binary on the pod's manifests (tests, `podinit run --vm`).
    Builtin(BuiltinAgent),
    /// A vendor agent: a program and its arguments, started as PID 1's child.
    Command(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAgent {
    /// Manifests; empty: every file in [`POD_DIR`], in name order.
    pub pods: Vec<PathBuf>,
    pub runtime: String,
    pub order: CreateOrder,
    pub seed: Option<u64>,
    pub timeout: Option<u64>,
    /// `podinit.no-hooks=1`: `podinit run --no-hooks` (bundles claimed by their inits);
    /// `podinit.no-hooks=0`: `podinit run --hooks`; absent: `podinit run`'s default.
    pub hooks: crate::inject::HookMode,
}

/// Where `podinit run --vm` puts the pod's manifests in the initramfs.
pub const POD_DIR: &str = "/pod";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub agent: Agent,
    pub hostname: Option<String>,
    /// The port the result goes to and deletion requests come from (`/dev/ttyS1`).
    pub control: Option<PathBuf>,
    /// qemu's `isa-debug-exit` I/O port: written with the result just before power-off, only
    /// when named here.
    pub debug_exit: Option<u16>,
    /// `PODINIT_LOG` for PID 1 and the agent.
    pub log: Option<String>,
    /// After a forced stop (the second deletion request), how long the agent has before SIGKILL.
    pub kill_after: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            agent: Agent::Builtin(BuiltinAgent {
                pods: Vec::new(),
                runtime: "runc".into(),
                order: CreateOrder::Spec,
                seed: None,
                timeout: None,
                hooks: crate::inject::HookMode::Auto,
            }),
            hostname: None,
            control: None,
            debug_exit: None,
            log: None,
            kill_after: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineError {
    UnknownKey(String),
    MissingValue(String),
    Invalid {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// A built-in agent setting next to `podinit.agent`: the vendor agent would ignore it.
    AgentConflict(String),
}

impl fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdlineError::UnknownKey(k) => write!(
                f,
                "kernel command line: unknown setting {k} (known: {}); fix or remove it",
                KEYS.join(", ")
            ),
            CmdlineError::MissingValue(k) => {
                write!(f, "kernel command line: {k} needs a value ({k}=...)")
            }
            CmdlineError::Invalid {
                key,
                value,
                expected,
            } => write!(f, "kernel command line: {key}={value:?} is not {expected}"),
            CmdlineError::AgentConflict(k) => write!(
                f,
                "kernel command line: {k} configures the built-in agent, but podinit.agent names another one; drop one of them"
            ),
        }
    }
}

impl std::error::Error for CmdlineError {}

const KEYS: &[&str] = &[
    "podinit.agent",
    "podinit.pod",
    "podinit.runtime",
    "podinit.create-order",
    "podinit.seed",
    "podinit.timeout",
    "podinit.no-hooks",
    "podinit.hostname",
    "podinit.control",
    "podinit.debug-exit",
    "podinit.log",
    "podinit.kill-after",
];

/// The kernel's words, quotes removed, up to (not including) `--`.
pub fn words(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_ascii_whitespace() && !quoted => {
                if in_word {
                    if word == "--" {
                        return out;
                    }
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word && word != "--" {
        out.push(word);
    }
    out
}

fn number<T: std::str::FromStr>(
    key: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, CmdlineError> {
    value.parse().map_err(|_| CmdlineError::Invalid {
        key: key.into(),
        value: value.into(),
        expected,
    })
}

fn port(key: &str, value: &str) -> Result<u16, CmdlineError> {
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    };
    parsed.filter(|p| *p != 0).ok_or(CmdlineError::Invalid {
        key: key.into(),
        value: value.into(),
        expected: "an I/O port (for example 0xf4)",
    })
}

fn absolute(key: &str, value: &str) -> Result<PathBuf, CmdlineError> {
    if value.starts_with('/') && !value.contains('\0') {
        Ok(PathBuf::from(value))
    } else {
        Err(CmdlineError::Invalid {
            key: key.into(),
            value: value.into(),
            expected: "an absolute path",
        })
    }
}

/// Parse `/proc/cmdline`.
pub fn parse(cmdline: &str) -> Result<SandboxConfig, CmdlineError> {
    let mut cfg = SandboxConfig::default();
    let mut builtin = match &cfg.agent {
        Agent::Builtin(b) => b.clone(),
        Agent::Command(_) => unreachable!("the default agent is the built-in one"),
    };
    let mut builtin_set: Option<String> = None;
    let mut agent: Option<Vec<String>> = None;
    for word in words(cmdline) {
        let Some(setting) = word.strip_prefix("podinit.") else {
            continue;
        };
        let (name, value) = match setting.split_once('=') {
            Some((n, v)) => (n, v),
            None => (setting, ""),
        };
        let key = format!("podinit.{name}");
        if !KEYS.contains(&key.as_str()) {
            return Err(CmdlineError::UnknownKey(key));
        }
        if value.is_empty() {
            return Err(CmdlineError::MissingValue(key));
        }
        match name {
            "agent" => {
                let argv: Vec<String> = value.split_ascii_whitespace().map(String::from).collect();
                if !argv.first().is_some_and(|p| p.starts_with('/')) {
                    return Err(CmdlineError::Invalid {
                        key,
                        value: value.into(),
                        expected: "an absolute program path and its arguments (PID 1 has no PATH to search yet)",
                    });
                }
                agent = Some(argv);
            }
            "pod" => {
                builtin.pods = value
                    .split(',')
                    .map(|p| absolute(&key, p))
                    .collect::<Result<_, _>>()?;
                builtin_set = Some(key);
            }
            "runtime" => {
                builtin.runtime = value.into();
                builtin_set = Some(key);
            }
            "create-order" => {
                builtin.order = match value {
                    "spec" => CreateOrder::Spec,
                    "reverse" => CreateOrder::Reverse,
                    "random" => CreateOrder::Random,
                    _ => {
                        return Err(CmdlineError::Invalid {
                            key,
                            value: value.into(),
                            expected: "spec, reverse or random",
                        });
                    }
                };
                builtin_set = Some(key);
            }
            "seed" => {
                builtin.seed = Some(number(&key, value, "a number")?);
                builtin_set = Some(key);
            }
            "timeout" => {
                builtin.timeout = Some(number(&key, value, "a number of seconds")?);
                builtin_set = Some(key);
            }
            "no-hooks" => {
                builtin.hooks = match value {
                    "1" => crate::inject::HookMode::NoHooks,
                    "0" => crate::inject::HookMode::Hooks,
                    _ => {
                        return Err(CmdlineError::Invalid {
                            key,
                            value: value.into(),
                            expected: "1 or 0",
                        });
                    }
                };
                builtin_set = Some(key);
            }
            "hostname" => {
                // sethostname's limit (HOST_NAME_MAX) and what a hostname may hold.
                let ok = value.len() <= 64
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if !ok {
                    return Err(CmdlineError::Invalid {
                        key,
                        value: value.into(),
                        expected: "a host name (letters, digits, '-', '.'; at most 64)",
                    });
                }
                cfg.hostname = Some(value.into());
            }
            "control" => cfg.control = Some(absolute(&key, value)?),
            "debug-exit" => cfg.debug_exit = Some(port(&key, value)?),
            "log" => {
                if !["error", "warn", "info", "debug", "trace"].contains(&value) {
                    return Err(CmdlineError::Invalid {
                        key,
                        value: value.into(),
                        expected: "error, warn, info, debug or trace",
                    });
                }
                cfg.log = Some(value.into());
            }
            "kill-after" => {
                let s: u64 = number(&key, value, "a number of seconds")?;
                cfg.kill_after = Duration::from_secs(s.min(3600));
            }
            _ => unreachable!("every name in KEYS has an arm"),
        }
    }
    cfg.agent = match (agent, builtin_set) {
        (Some(_), Some(key)) => return Err(CmdlineError::AgentConflict(key)),
        (Some(argv), None) => Agent::Command(argv),
        (None, _) => Agent::Builtin(builtin),
    };
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("a b  c", &["a", "b", "c"])]
    #[case::quoted_value("podinit.agent=\"/opt/a --x\" quiet", &["podinit.agent=/opt/a --x", "quiet"])]
    #[case::init_args_after_dashes("quiet -- sandbox-init podinit.log=x", &["quiet"])]
    #[case::trailing_newline("console=ttyS0\n", &["console=ttyS0"])]
    #[case::unterminated_quote("a \"b c", &["a", "b c"])]
    #[case::empty("", &[])]
    fn words_follow_the_kernel(#[case] line: &str, #[case] want: &[&str]) {
        assert_eq!(words(line), want);
    }

    #[test]
    fn no_podinit_words_is_the_builtin_agent_on_the_pod_dir() {
        let cfg = parse("console=ttyS0 quiet panic=-1 rdinit=/sbin/podinit").unwrap();
        assert_eq!(cfg, SandboxConfig::default());
    }

    #[test]
    fn every_setting_is_read() {
        let cfg = parse(
            "podinit.pod=/pod/a.yaml,/pod/b.json podinit.runtime=crun podinit.create-order=reverse \
             podinit.seed=7 podinit.timeout=30 podinit.no-hooks=1 podinit.hostname=test-pod \
             podinit.control=/dev/ttyS1 \
             podinit.debug-exit=0xf4 podinit.log=debug podinit.kill-after=3",
        )
        .unwrap();
        assert_eq!(
            cfg.agent,
            Agent::Builtin(BuiltinAgent {
                pods: vec!["/pod/a.yaml".into(), "/pod/b.json".into()],
                runtime: "crun".into(),
                order: CreateOrder::Reverse,
                seed: Some(7),
                timeout: Some(30),
                hooks: crate::inject::HookMode::NoHooks,
            })
        );
        assert_eq!(cfg.hostname.as_deref(), Some("test-pod"));
        assert_eq!(cfg.control, Some(PathBuf::from("/dev/ttyS1")));
        assert_eq!(cfg.debug_exit, Some(0xf4));
        assert_eq!(cfg.log.as_deref(), Some("debug"));
        assert_eq!(cfg.kill_after, Duration::from_secs(3));
    }

    #[test]
    fn a_vendor_agent_is_a_command() {
        let cfg = parse("podinit.agent=\"/opt/agent --serve\"").unwrap();
        assert_eq!(
            cfg.agent,
            Agent::Command(vec!["/opt/agent".into(), "--serve".into()])
        );
    }

    #[rstest]
    #[case::unknown("podinit.pdo=/x", "unknown setting podinit.pdo")]
    #[case::no_value("podinit.control", "podinit.control needs a value")]
    #[case::empty_value("podinit.hostname=", "podinit.hostname needs a value")]
    #[case::relative_pod("podinit.pod=pod.yaml", "not an absolute path")]
    #[case::bad_order("podinit.create-order=up", "spec, reverse or random")]
    #[case::bad_no_hooks("podinit.no-hooks=yes", "1 or 0")]
    #[case::bad_port("podinit.debug-exit=0x", "an I/O port")]
    #[case::zero_port("podinit.debug-exit=0", "an I/O port")]
    #[case::huge_port("podinit.debug-exit=70000", "an I/O port")]
    #[case::bad_seed("podinit.seed=-1", "a number")]
    #[case::bad_host("podinit.hostname=a/b", "a host name")]
    #[case::long_host(&format!("podinit.hostname={}", "a".repeat(65)), "a host name")]
    #[case::bad_log("podinit.log=loud", "error, warn")]
    #[case::relative_agent("podinit.agent=agent", "absolute program path")]
    #[case::blank_agent("podinit.agent=\" \"", "absolute program path")]
    #[case::agent_and_pod(
        "podinit.agent=/a podinit.pod=/pod/x",
        "podinit.pod configures the built-in agent"
    )]
    fn hostile_words_are_named(#[case] line: &str, #[case] want: &str) {
        let err = parse(line).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }

    #[test]
    fn arbitrary_words_never_panic() {
        // Known keys with random values, and random bytes: both the value checks and the
        // tokenizer get exercised (random bytes alone rarely spell `podinit.`).
        let mut rng = podinit_core::rng::Rng(0x5eed);
        let alphabet = b"podinit.=\"/ -,x0f4\n\t";
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..rng.below(4) {
                if rng.below(2) == 0 {
                    line.push_str(KEYS[rng.below(KEYS.len())]);
                    line.push('=');
                }
                for _ in 0..rng.below(12) {
                    line.push(alphabet[rng.below(alphabet.len())] as char);
                }
                line.push(' ');
            }
            match parse(&line) {
                Ok(_) => accepted += 1,
                Err(e) => assert!(e.to_string().contains("podinit."), "{line:?}: {e}"),
            }
        }
        assert!(
            accepted > 0,
            "no random line was accepted: the generator tests nothing"
        );
    }
}
