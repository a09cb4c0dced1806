//! The `podinit exec` command line without clap.
//!
//! `podinit exec` is on every container's start path, and clap's parser is most of the code an
//! exec start would otherwise page in (and a good share of its heap). [`parse`] accepts exactly
//! the well-formed exec command lines, with the same meaning clap gives them; anything else
//! (`--help`, an unknown option, a bad value, no command) returns `None`, and the caller hands
//! the line to clap ([`route_to_exec`]), which prints the usual help or error. `src/main.rs`
//! tests that both parsers agree.
//!
//! An exec line is `podinit exec OPTIONS [--] CMD...`, the bare form `podinit [OPTIONS] [--] CMD...`
//! whose first word is not a podinit subcommand, or any command line of podinit run as `tini`,
//! `docker-init` or `init` ([`exec_start`]).

use std::ffi::{OsStr, OsString};

use super::InitOptions;
use super::reap::ExitRemap;

/// The options of `podinit exec` and the `-v` count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecArgs {
    pub subreaper: bool,
    pub kill_process_group: bool,
    pub remap_exit: Vec<u8>,
    pub pdeathsig: Option<i32>,
    pub warn_on_reap: bool,
    pub verbose: u8,
    pub command: Vec<OsString>,
}

impl ExecArgs {
    pub fn into_options(self) -> (InitOptions, u8) {
        (
            InitOptions {
                command: self.command,
                subreaper: self.subreaper,
                kill_process_group: self.kill_process_group,
                remap: ExitRemap::new(&self.remap_exit),
                pdeathsig: self.pdeathsig,
                warn_on_reap: self.warn_on_reap,
            },
            self.verbose,
        )
    }
}

/// The names under which podinit is tini, whatever its arguments (`argv[0]`'s file name): an
/// image that ships it as `/sbin/tini`, `docker-init` or `init` runs `INIT [OPTIONS] [--] CMD`.
pub const DROP_IN_NAMES: [&[u8]; 3] = [b"tini", b"docker-init", b"init"];

/// Whether `argv0` (the program name as run) is one of [`DROP_IN_NAMES`].
pub fn is_drop_in_name(argv0: &OsStr) -> bool {
    let name = std::path::Path::new(argv0).file_name().unwrap_or_default();
    DROP_IN_NAMES.contains(&name.as_encoded_bytes())
}

/// Where exec's options begin in `argv` (program name first): 1 when podinit runs under a
/// [drop-in name](DROP_IN_NAMES) (every argument is tini's, a word `exec` included) or the line
/// is a bare init line ([`super::is_bare_init_invocation`], with `is_subcommand`); 2 after
/// `exec`; `None` for any other subcommand.
pub fn exec_start(argv: &[OsString], is_subcommand: impl Fn(&str) -> bool) -> Option<usize> {
    match argv.get(1) {
        _ if argv.first().is_some_and(|a| is_drop_in_name(a)) => Some(1),
        Some(a) if a == "exec" => Some(2),
        Some(_) if super::is_bare_init_invocation(argv, is_subcommand) => Some(1),
        _ => None,
    }
}

/// For clap, when the fast parser declined the line: inserts the `exec` that a drop-in or bare
/// line leaves out, so clap reports on (or helps with) exec's options. Returns whether the line
/// is an exec line, `podinit -v exec ...` included: its usage errors exit 1, as tini's do.
pub fn route_to_exec(argv: &mut Vec<OsString>, is_subcommand: impl Fn(&str) -> bool) -> bool {
    if exec_start(argv, is_subcommand) == Some(1) {
        argv.insert(1, OsString::from("exec"));
    }
    // The only global option (`-v`) takes no value: the first word is the subcommand.
    argv.iter()
        .skip(1)
        .find(|a| !a.as_encoded_bytes().starts_with(b"-"))
        .is_some_and(|a| a == "exec")
}

/// Parses `argv` (program name first) when it is an exec line ([`exec_start`]) whose options
/// and command are well formed. `None`: not an exec line, or one clap must report on.
pub fn parse(argv: &[OsString], is_subcommand: impl Fn(&str) -> bool) -> Option<ExecArgs> {
    let rest = &argv[exec_start(argv, is_subcommand)?..];
    let mut out = ExecArgs::default();
    let mut i = 0;
    while i < rest.len() {
        let tok = rest[i].as_encoded_bytes();
        i += 1;
        if tok == b"--" {
            break;
        }
        if let Some(long) = tok.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            match name {
                b"subreaper" | b"kill-process-group" | b"warn-on-reap" | b"verbose" => {
                    if inline.is_some() {
                        return None;
                    }
                    out.set_flag(match name {
                        b"subreaper" => b's',
                        b"kill-process-group" => b'g',
                        b"warn-on-reap" => b'w',
                        _ => b'v',
                    });
                }
                b"remap-exit" | b"pdeathsig" => {
                    let value = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            rest.get(i - 1)?.as_encoded_bytes()
                        }
                    };
                    out.set_value(if name == b"remap-exit" { b'e' } else { b'p' }, value)?;
                }
                _ => return None,
            }
            continue;
        }
        if tok.len() > 1 && tok[0] == b'-' {
            let mut j = 1;
            while j < tok.len() {
                let c = tok[j];
                j += 1;
                match c {
                    b's' | b'g' | b'w' | b'v' => out.set_flag(c),
                    b'e' | b'p' => {
                        let value = if j < tok.len() {
                            &tok[j..]
                        } else {
                            i += 1;
                            rest.get(i - 1)?.as_encoded_bytes()
                        };
                        out.set_value(c, value)?;
                        break;
                    }
                    _ => return None,
                }
            }
            continue;
        }
        // The first word is the command; everything after it is its arguments.
        i -= 1;
        break;
    }
    out.command = rest[i..].to_vec();
    if out.command.is_empty() {
        return None;
    }
    Some(out)
}

impl ExecArgs {
    fn set_flag(&mut self, c: u8) {
        match c {
            b's' => self.subreaper = true,
            b'g' => self.kill_process_group = true,
            b'w' => self.warn_on_reap = true,
            _ => self.verbose = self.verbose.saturating_add(1),
        }
    }

    /// `None` for a value clap would reject.
    fn set_value(&mut self, c: u8, value: &[u8]) -> Option<()> {
        let value = std::str::from_utf8(value).ok()?;
        if c == b'e' {
            self.remap_exit.push(value.parse().ok()?);
        } else {
            self.pdeathsig = Some(crate::sys::signal::parse(value)?);
        }
        Some(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rstest::rstest;

    /// `podinit` followed by `s`, as `std::env::args_os` would give it.
    pub(in crate::init) fn argv(s: &[&str]) -> Vec<OsString> {
        std::iter::once("podinit")
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn parsed(s: &[&str]) -> Option<ExecArgs> {
        parse(&argv(s), |s| matches!(s, "exec" | "explain" | "help"))
    }

    fn cmd(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn plain_forms() {
        let want = ExecArgs {
            command: cmd(&["sh", "-c", "exit 3"]),
            ..Default::default()
        };
        assert_eq!(
            parsed(&["exec", "--", "sh", "-c", "exit 3"]),
            Some(want.clone())
        );
        assert_eq!(parsed(&["exec", "sh", "-c", "exit 3"]), Some(want.clone()));
        assert_eq!(parsed(&["--", "sh", "-c", "exit 3"]), Some(want));
    }

    #[test]
    fn every_option() {
        let got = parsed(&[
            "-sg",
            "-w",
            "-vv",
            "-e",
            "3",
            "-e143",
            "--remap-exit=7",
            "--remap-exit",
            "8",
            "-p",
            "TERM",
            "--",
            "app",
            "--",
            "-s",
        ])
        .unwrap();
        assert_eq!(
            got,
            ExecArgs {
                subreaper: true,
                kill_process_group: true,
                remap_exit: vec![3, 143, 7, 8],
                pdeathsig: Some(libc::SIGTERM),
                warn_on_reap: true,
                verbose: 2,
                command: cmd(&["app", "--", "-s"]),
            }
        );
        let got = parsed(&[
            "exec",
            "--subreaper",
            "--kill-process-group",
            "--warn-on-reap",
            "--verbose",
            "--pdeathsig=KILL",
            "app",
        ])
        .unwrap();
        assert!(got.subreaper && got.kill_process_group && got.warn_on_reap);
        assert_eq!((got.verbose, got.pdeathsig), (1, Some(libc::SIGKILL)));
        // a cluster ends at -e/-p, whose value is the rest of it
        assert_eq!(parsed(&["exec", "-ge5", "x"]).unwrap().remap_exit, [5]);
        assert_eq!(
            parsed(&["exec", "-spUSR1", "x"]).unwrap().pdeathsig,
            Some(libc::SIGUSR1)
        );
    }

    #[rstest]
    #[case(&["exec"])]
    #[case(&["exec", "--"])]
    #[case(&["--"])]
    #[case(&["exec", "-h"])]
    #[case(&["exec", "--help", "x"])]
    #[case(&["-s", "--help"])]
    #[case(&["exec", "-x", "--", "sh"])]
    #[case(&["exec", "--bogus", "sh"])]
    #[case(&["exec", "-e", "256", "sh"])]
    #[case(&["exec", "-e", "-1", "sh"])]
    #[case(&["exec", "-e"])]
    #[case(&["exec", "-gep", "2", "x"])]
    #[case(&["exec", "-p", "NOPE", "sh"])]
    #[case(&["exec", "--subreaper=1", "sh"])]
    #[case(&["explain", "x"])]
    #[case(&["-v", "exec", "--", "sh"])]
    #[case(&["help"])]
    #[case(&[])]
    fn left_to_clap(#[case] s: &[&str]) {
        assert_eq!(parsed(s), None, "{s:?}");
    }

    /// `argv` with program name `argv0`.
    fn named(argv0: &str, s: &[&str]) -> Vec<OsString> {
        std::iter::once(argv0)
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn is_sub(s: &str) -> bool {
        matches!(s, "exec" | "explain" | "help")
    }

    /// Under a drop-in name every argument is tini's: subcommand words are the command.
    #[rstest]
    #[case("tini", &["sh", "-c", "exit 3"], &["sh", "-c", "exit 3"])]
    #[case("/sbin/tini", &["-s", "--", "sh"], &["sh"])]
    #[case("/usr/bin/docker-init", &["--", "exec", "x"], &["exec", "x"])]
    #[case("init", &["exec", "x"], &["exec", "x"])]
    #[case("/init", &["-g", "explain"], &["explain"])]
    #[case("./tini", &["help"], &["help"])]
    fn drop_in_names_run_everything(
        #[case] argv0: &str,
        #[case] s: &[&str],
        #[case] command: &[&str],
    ) {
        let got = parse(&named(argv0, s), is_sub).unwrap_or_else(|| panic!("{argv0} {s:?}"));
        assert_eq!(got.command, cmd(command));
    }

    #[rstest]
    #[case("tini", &[])]
    #[case("tini", &["--"])]
    #[case("tini", &["-h"])]
    #[case("docker-init", &["-x", "sh"])]
    #[case("init", &["-e", "256", "sh"])]
    fn drop_in_usage_errors_are_left_to_clap(#[case] argv0: &str, #[case] s: &[&str]) {
        assert_eq!(parse(&named(argv0, s), is_sub), None, "{argv0} {s:?}");
    }

    #[rstest]
    #[case("podinit-tini", false)]
    #[case("tini-static", false)]
    #[case("podinit", false)]
    #[case("/sbin/init", true)]
    #[case("docker-init", true)]
    fn drop_in_name(#[case] argv0: &str, #[case] expected: bool) {
        assert_eq!(is_drop_in_name(OsStr::new(argv0)), expected);
    }

    /// What clap gets once the fast parser declined, and whether its usage error exits 1.
    #[rstest]
    #[case("podinit", &["exec"], &["exec"], true)]
    #[case("podinit", &["-e", "256", "--", "sh"], &["exec", "-e", "256", "--", "sh"], true)]
    #[case("podinit", &["--"], &["exec", "--"], true)]
    #[case("podinit", &["-v", "exec", "-x", "sh"], &["-v", "exec", "-x", "sh"], true)]
    #[case("tini", &[], &["exec"], true)]
    #[case("tini", &["-h"], &["exec", "-h"], true)]
    #[case("podinit", &["explain"], &["explain"], false)]
    #[case("podinit", &["-v", "explain", "exec"], &["-v", "explain", "exec"], false)]
    #[case("podinit", &["--help"], &["--help"], false)]
    #[case("podinit", &[], &[], false)]
    fn routed_to_clap(
        #[case] argv0: &str,
        #[case] s: &[&str],
        #[case] routed: &[&str],
        #[case] exec_line: bool,
    ) {
        let mut argv = named(argv0, s);
        assert_eq!(route_to_exec(&mut argv, is_sub), exec_line, "{s:?}");
        assert_eq!(argv, named(argv0, routed));
    }
}
