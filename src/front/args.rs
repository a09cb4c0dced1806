//! What an OCI runtime command line asks for, read the way runc (urfave/cli over Go's `flag`)
//! and crun read it: global options, the command, its options, the container id. Only what the
//! front acts on is extracted (the command and `create`/`run`'s bundle); the line itself is
//! passed on unchanged. Pure: no I/O.

use std::ffi::{OsStr, OsString};

/// Global options of runc and crun that take a value (`--root R` as well as `--root=R`).
/// Every other global option is a switch (`--debug`, `--systemd-cgroup`).
const GLOBAL_WITH_VALUE: &[&str] = &[
    "root",
    "log",
    "log-format",
    "log-level",
    "criu",
    "rootless",
    "cgroup-manager",
];

/// Options of `create` / `run` that take a value, besides the bundle.
const COMMAND_WITH_VALUE: &[&str] = &["console-socket", "pid-file", "preserve-fds"];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `create`, `start`, `kill`, `delete`, `state`, …; `None` for `--version` and the like.
    pub command: Option<String>,
    /// `--bundle` / `-b` of `create` and `run`; `None` means the current directory.
    pub bundle: Option<OsString>,
    pub id: Option<String>,
}

impl Invocation {
    /// `create` and `run` make a container from a bundle: the only commands the front acts on.
    pub fn creates(&self) -> bool {
        matches!(self.command.as_deref(), Some("create" | "run"))
    }
}

/// An option's name without its dashes and `=value` (Go accepts `-x`, `--x`, `-x=v`, `--x=v`).
fn option(arg: &OsStr) -> Option<(&str, bool)> {
    let s = arg.to_str()?;
    let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'))?;
    if body.is_empty() {
        return None;
    }
    Some(match body.split_once('=') {
        Some((name, _)) => (name, true),
        None => (body, false),
    })
}

fn inline_value(arg: &OsStr) -> Option<OsString> {
    let s = arg.to_str()?;
    s.split_once('=').map(|(_, v)| OsString::from(v))
}

pub fn parse(args: &[OsString]) -> Invocation {
    let mut inv = Invocation::default();
    let mut it = args.iter();
    // Global options, up to the command.
    while let Some(arg) = it.next() {
        if arg == "--" {
            inv.command = it.next().map(|a| a.to_string_lossy().into_owned());
            break;
        }
        match option(arg) {
            Some((name, inline)) => {
                if GLOBAL_WITH_VALUE.contains(&name) && !inline {
                    it.next();
                }
            }
            None => {
                inv.command = Some(arg.to_string_lossy().into_owned());
                break;
            }
        }
    }
    // The command's options and its first positional argument, the container id.
    let mut only_positional = false;
    while let Some(arg) = it.next() {
        let opt = if only_positional { None } else { option(arg) };
        match opt {
            _ if arg == "--" && !only_positional => only_positional = true,
            Some(("bundle" | "b", inline)) => {
                inv.bundle = if inline {
                    inline_value(arg)
                } else {
                    it.next().cloned()
                };
            }
            Some((name, inline)) => {
                if COMMAND_WITH_VALUE.contains(&name) && !inline {
                    it.next();
                }
            }
            None => {
                if inv.id.is_none() {
                    inv.id = Some(arg.to_string_lossy().into_owned());
                }
            }
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn inv(command: &str, bundle: Option<&str>, id: Option<&str>) -> Invocation {
        Invocation {
            command: Some(command.to_owned()),
            bundle: bundle.map(OsString::from),
            id: id.map(str::to_owned),
        }
    }

    #[rstest]
    // What containerd's runc v2 shim (go-runc) runs for a CRI container.
    #[case::containerd_create(
        "--root /run/containerd/runc/k8s.io --log /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/log.json --log-format json create --bundle /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID --pid-file /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/init.pid ID",
        inv(
            "create",
            Some("/run/containerd/io.containerd.runtime.v2.task/k8s.io/ID"),
            Some("ID")
        )
    )]
    #[case::systemd_switch(
        "--systemd-cgroup --root /r create -b /b c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    #[case::inline_values(
        "--root=/r --log-format=json create --bundle=/b --pid-file=/p c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    #[case::go_single_dash(
        "-root /r create -bundle /b -pid-file /p c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    #[case::short_inline("create -b=/b c1", inv("create", Some("/b"), Some("c1")))]
    #[case::console_socket(
        "create --console-socket /s/c.sock --bundle /b c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    #[case::bundle_after_id("create c1 --bundle /b", inv("create", Some("/b"), Some("c1")))]
    #[case::no_bundle_is_cwd("create c1", inv("create", None, Some("c1")))]
    #[case::run(
        "run -d --bundle /b --pid-file /p c1",
        inv("run", Some("/b"), Some("c1"))
    )]
    #[case::crun_globals(
        "--cgroup-manager cgroupfs --log-level debug create --bundle /b c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    #[case::kill("--root /r kill c1 TERM", inv("kill", None, Some("c1")))]
    #[case::delete_force("--root /r delete --force c1", inv("delete", None, Some("c1")))]
    #[case::double_dash(
        "--root /r -- create --bundle /b c1",
        inv("create", Some("/b"), Some("c1"))
    )]
    fn reads_what_the_agent_asks(#[case] line: &str, #[case] want: Invocation) {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        assert_eq!(parse(&args), want);
    }

    #[rstest]
    #[case::version(&["--version"])]
    #[case::nothing(&[])]
    #[case::dangling_value(&["--root"])]
    #[case::only_dashes(&["--", "--"])]
    fn commandless_lines_create_nothing(#[case] line: &[&str]) {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        assert!(!parse(&args).creates());
    }

    #[test]
    fn a_dangling_bundle_flag_is_the_current_directory() {
        let args: Vec<OsString> = ["create", "c1", "--bundle"].map(OsString::from).into();
        assert_eq!(parse(&args), inv("create", None, Some("c1")));
    }

    #[test]
    fn non_utf8_arguments_do_not_panic() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![0xff, b'x']);
        let args = vec![odd.clone(), OsString::from("--bundle"), odd.clone(), odd];
        let _ = parse(&args);
    }
}
