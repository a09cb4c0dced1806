//! `podinit exec` as a plain init on the host (no container, not PID 1, so it runs as a child
//! subreaper): exit statuses, signal forwarding, reaping, process groups, parent-death signal,
//! and the app's inherited state (signal mask and dispositions, fds, cwd, environment) compared
//! with the same app started without podinit. Needs only /bin/sh, cat, ls, env, pwd and sleep.

use crate::support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{
    Lines, SpawnGuarded, children_of, eventually, identity_lines, podinit, proc_state, run,
    wait_deadline,
};

const T: Duration = Duration::from_secs(20);
const LINE: Duration = Duration::from_secs(10);

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("podinit died by a signal: {:?}", out.status))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// Every invocation form that must behave as `podinit exec`.
fn forms(flags: &[&str], cmd: &[String]) -> Vec<Vec<String>> {
    let f: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let mut exec = vec!["exec".to_string()];
    exec.extend(f.iter().cloned());
    exec.push("--".into());
    exec.extend(cmd.iter().cloned());
    let mut bare = f.clone();
    bare.push("--".into());
    bare.extend(cmd.iter().cloned());
    vec![exec, bare]
}

#[test]
fn exit_statuses_pass_through() {
    let cases: &[(&[&str], Vec<String>, i32)] = &[
        (&[], sh("exit 0"), 0),
        (&[], sh("exit 3"), 3),
        (&[], sh("exit 255"), 255),
        (&[], sh("kill -9 $$"), 137),
        (&[], sh("kill -TERM $$"), 143),
        (&[], sh("kill -USR1 $$"), 138),
        (&["-s", "-g"], sh("exit 3"), 3),
        (&["-s", "-g"], sh("kill -9 $$"), 137),
        // -e remaps the final code (after 128+signal), only the listed ones
        (&["-e", "3"], sh("exit 3"), 0),
        (&["-e", "3"], sh("exit 4"), 4),
        (&["-e", "143", "-e", "3"], sh("kill -TERM $$"), 0),
        (&["-e143"], sh("kill -9 $$"), 137),
    ];
    for (flags, cmd, expected) in cases {
        for args in forms(flags, cmd) {
            let out = run(podinit().args(&args), T);
            assert_eq!(code(&out), *expected, "podinit {args:?}: {}", stderr(&out));
        }
    }
}

#[test]
fn exec_errors_are_127_or_126_with_a_message_naming_the_command() {
    let dir = tempdir("exec-errors");
    let not_exec = dir.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    let no_shebang = dir.join("no-shebang");
    std::fs::write(&no_shebang, "exit 0\n").unwrap();
    set_mode(&no_shebang, 0o755);
    let nd = dir.join("file-not-dir");
    std::fs::write(&nd, "").unwrap();
    let cases: Vec<(String, i32, &str)> = vec![
        (
            "no-such-command-xyz".into(),
            127,
            "No such file or directory",
        ),
        ("/no/such/path".into(), 127, "No such file or directory"),
        (path(&not_exec), 126, "Permission denied"),
        (path(&dir), 126, "Permission denied"),
        // like runc without an init: no /bin/sh fallback for a file without #!
        (path(&no_shebang), 126, "Exec format error"),
        (format!("{}/x", path(&nd)), 126, "Not a directory"),
    ];
    for (cmd, expected, reason) in &cases {
        for args in forms(&[], std::slice::from_ref(cmd)) {
            let out = run(podinit().args(&args), T);
            let err = stderr(&out);
            assert_eq!(code(&out), *expected, "podinit {args:?}: {err}");
            assert!(
                err.contains(&format!("\"{cmd}\"")) && err.contains(reason),
                "podinit {args:?}: stderr {err:?} should name {cmd:?} and say {reason:?}"
            );
            assert!(err.starts_with("podinit: "), "{err:?}");
        }
    }
    // -e never turns "could not run it" into success
    let out = run(
        podinit().args(["-e", "127", "--", "no-such-command-xyz"]),
        T,
    );
    assert_eq!(code(&out), 127, "{}", stderr(&out));
}

#[test]
fn quiet_by_default_one_line_at_v() {
    let out = run(
        podinit().args(["--", "sh", "-c", "echo out; echo err >&2"]),
        T,
    );
    assert_eq!(code(&out), 0);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(
        stderr(&out),
        "err\n",
        "podinit must print nothing by default"
    );

    let out = run(podinit().args(["-v", "--", "sh", "-c", "exit 3"]), T);
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("podinit: sh (pid ")
            && err.contains("exited with status 3; exiting with 3"),
        "{err:?}"
    );

    let out = run(
        podinit()
            .env("PODINIT_LOG", "info")
            .args(["--", "sh", "-c", "kill -9 $$"]),
        T,
    );
    assert!(stderr(&out).contains("was killed by SIGKILL; exiting with 137"));
    let out = run(
        podinit().env("PODINIT_VERBOSITY", "3").args(["--", "true"]),
        T,
    );
    assert!(stderr(&out).contains("podinit: debug: started true as pid"));
}

#[test]
fn stdio_passes_through() {
    let mut child = podinit()
        .args([
            "--",
            "sh",
            "-c",
            "read line; echo \"got $line\"; echo oops >&2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_guarded();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let status = wait_deadline(&mut child, T, "stdio");
    let mut out = String::new();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(out, "got hello\n");
    assert_eq!(err, "oops\n");
}

/// The app traps these and prints their names; each must arrive through the init.
#[test]
fn every_catchable_signal_is_forwarded() {
    let sigs: Vec<(String, i32)> = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("WINCH", libc::SIGWINCH),
        ("URG", libc::SIGURG),
        ("PWR", libc::SIGPWR),
        ("XCPU", libc::SIGXCPU),
        ("VTALRM", libc::SIGVTALRM),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .chain([
        (libc::SIGRTMIN().to_string(), libc::SIGRTMIN()),
        ((libc::SIGRTMIN() + 5).to_string(), libc::SIGRTMIN() + 5),
        (libc::SIGRTMAX().to_string(), libc::SIGRTMAX()),
    ])
    .collect();
    let mut script = String::new();
    for (name, _) in &sigs {
        script.push_str(&format!("trap 'echo {name}' {name}; "));
    }
    script.push_str("trap 'echo TERM; exit 42' TERM; echo ready; while :; do sleep 0.02; done");
    let mut child = podinit()
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn_guarded();
    let init = child.id() as i32;
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect("ready", LINE);
    for (name, signo) in &sigs {
        // SAFETY: kill takes plain integers.
        assert_eq!(unsafe { libc::kill(init, *signo) }, 0);
        lines.expect(name, LINE);
    }
    // SAFETY: as above.
    unsafe { libc::kill(init, libc::SIGTERM) };
    lines.expect("TERM", LINE);
    assert_eq!(wait_deadline(&mut child, T, "signals").code(), Some(42));
}

#[test]
fn a_settled_init_releases_its_start_up_pages_and_still_forwards() {
    let mut child = podinit()
        .args([
            "--",
            "sh",
            "-c",
            "trap 'echo USR1' USR1; trap 'echo TERM; exit 9' TERM; echo ready; while :; do sleep 0.02; done",
        ])
        .stdout(Stdio::piped())
        .spawn_guarded();
    let init = child.id();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect("ready", LINE);
    // Start-up is over after 100 ms without events; the resident set then drops well below the
    // peak (the whole static binary is paged in during start-up).
    let kb = |field| support::status_kb(init, field).expect("the init is running");
    assert!(
        eventually(LINE, || kb("VmRSS") * 2 < kb("VmHWM")),
        "VmRSS {} kB, VmHWM {} kB",
        kb("VmRSS"),
        kb("VmHWM")
    );
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(init as i32, libc::SIGUSR1) };
    lines.expect("USR1", LINE);
    // SAFETY: as above.
    unsafe { libc::kill(init as i32, libc::SIGTERM) };
    lines.expect("TERM", LINE);
    assert_eq!(wait_deadline(&mut child, T, "settled").code(), Some(9));
}

/// PID 1 of a pid namespace entered from a terminal without a new session (`unshare --pid
/// --fork`): the foreground group has no number inside, and the app must still get the terminal,
/// or its first read stops it with SIGTTIN while podinit waits forever (issue 14; tini works).
#[test]
fn the_app_gets_the_terminal_as_pid_1_of_a_namespace_without_a_session() {
    for tool in ["script", "unshare"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} (util-linux, bsdutils) is needed for this test"
        );
    }
    // As podinit, and as the drop-in `tini CMD` (no `--`).
    let dir = tempdir("tty");
    let tini = dir.join("tini");
    std::os::unix::fs::symlink(support::PODINIT, &tini).unwrap();
    for init in [format!("{} --", support::PODINIT), path(&tini)] {
        let inner =
            format!("unshare --pid --fork --mount-proc {init} sh -c 'read x; echo got=\\$x'");
        // `script` gives the command a terminal; the line typed 0.5 s later must reach `read`.
        let line = format!("(sleep 0.5; printf 'hi\\n') | script -qec \"{inner}\" /dev/null",);
        let out = run(
            Command::new("sh").args(["-c", &line]),
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("got=hi"),
            "{init}: the app never read its terminal ({:?}): {text:?} {}",
            out.status,
            stderr(&out)
        );
        assert_eq!(code(&out), 0, "{init}: {text:?}");
    }
}

#[test]
fn term_without_a_trap_ends_the_app_with_143() {
    let mut child = podinit()
        .args(["--", "sh", "-c", "echo ready; exec sleep 100"])
        .stdout(Stdio::piped())
        .spawn_guarded();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect("ready", LINE);
    // the app's exec of sleep may not have happened yet: retry until the init exits
    let init = child.id() as i32;
    let mut status = None;
    assert!(eventually(T, || {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(init, libc::SIGTERM) };
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.unwrap().code(), Some(143));
}

#[test]
fn job_control_signals_stop_and_continue_the_app_not_the_init() {
    let mut child = podinit()
        .args(["--", "sh", "-c", "echo $$; while :; do sleep 0.02; done"])
        .stdout(Stdio::piped())
        .spawn_guarded();
    let init = child.id();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    let app: u32 = lines.next_within(LINE).unwrap().parse().unwrap();
    for stop in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(init as i32, stop) };
        assert!(
            eventually(LINE, || proc_state(app) == Some('T')),
            "app not stopped by signal {stop}: {:?}",
            proc_state(app)
        );
        assert_ne!(proc_state(init), Some('T'), "the init itself stopped");
        // SAFETY: as above.
        unsafe { libc::kill(init as i32, libc::SIGCONT) };
        assert!(
            eventually(LINE, || proc_state(app) != Some('T')),
            "app not continued"
        );
    }
    // SAFETY: as above.
    unsafe { libc::kill(init as i32, libc::SIGKILL) };
    let _ = child.wait();
    // SAFETY: as above; the app was the init's child and is now orphaned.
    unsafe { libc::kill(app as i32, libc::SIGKILL) };
}

#[test]
fn process_group_flag_signals_the_whole_group() {
    // The app starts a background sleep (same process group) and prints its pid, then waits.
    // TERM kills the app; with -g the sleep dies too, without it the sleep survives.
    for (flags, env, sleep_dies) in [
        (vec![], None, false),
        (vec!["-g"], None, true),
        (vec![], Some("1"), true),
    ] {
        let mut cmd = podinit();
        if let Some(v) = env {
            cmd.env("PODINIT_KILL_PROCESS_GROUP", v);
        }
        let mut child = cmd
            .args(&flags)
            .args(["--", "sh", "-c", "sleep 30 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn_guarded();
        let mut lines = Lines::new(child.stdout.take().unwrap());
        let sleep: u32 = lines.next_within(LINE).unwrap().parse().unwrap();
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = wait_deadline(&mut child, T, "-g");
        assert_eq!(status.code(), Some(143), "flags {flags:?} env {env:?}");
        let dead = eventually(Duration::from_secs(2), || {
            matches!(proc_state(sleep), None | Some('Z'))
        });
        // SAFETY: as above; cleanup of a survivor.
        unsafe { libc::kill(sleep as i32, libc::SIGKILL) };
        assert_eq!(dead, sleep_dies, "flags {flags:?} env {env:?}");
    }
}

#[test]
fn orphans_are_adopted_and_reaped_when_not_pid_1() {
    // The app double-forks a grandchild that reports its parent pid and exits while the app is
    // still running; the init (a subreaper here) must adopt it and reap it.
    let mut child = podinit()
        .args([
            "--",
            "sh",
            "-c",
            "(sh -c 'sleep 0.2; set -- $(grep ^PPid: /proc/$$/status); echo ppid $2' &); sleep 0.8; echo done",
        ])
        .stdout(Stdio::piped())
        .spawn_guarded();
    let init = child.id();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect(&format!("ppid {init}"), LINE);
    // Once the grandchild has exited, the init's only child is the app, and nothing of the init's
    // is a zombie.
    assert!(
        eventually(Duration::from_millis(500), || {
            let kids = children_of(init);
            kids.len() == 1 && kids.iter().all(|&k| proc_state(k) != Some('Z'))
        }),
        "children of the init: {:?}",
        children_of(init)
            .iter()
            .map(|&k| (k, proc_state(k)))
            .collect::<Vec<_>>()
    );
    lines.expect("done", LINE);
    assert_eq!(wait_deadline(&mut child, T, "orphans").code(), Some(0));
}

#[test]
fn parent_death_signal_is_forwarded() {
    parent_death_signal_reaches_the_app(&[]);
}

/// A managed init sets `-p` too (the one bootstrap; it used to ignore it): here without a
/// supervisor, so it gives up after 1 s, starts the app, and passes the signal on.
#[test]
fn a_managed_init_forwards_the_parent_death_signal_too() {
    parent_death_signal_reaches_the_app(&[
        ("PODINIT_SOCKET", "/nonexistent/podinit/init.sock"),
        ("PODINIT_UNREACHABLE_TIMEOUT", "1"),
    ]);
}

fn parent_death_signal_reaches_the_app(env: &[(&str, &str)]) {
    let dir = tempdir(&format!("pdeathsig{}", env.len()));
    let ready = dir.join("ready");
    let got = dir.join("got");
    // sh starts podinit in the background, waits for the app's trap, and exits: the init gets
    // USR1 from PR_SET_PDEATHSIG and forwards it; the app writes the file.
    let script = format!(
        "\"$0\" -p USR1 -- sh -c 'trap \"echo usr1 > {got}; exit 0\" USR1; touch {ready}; \
         i=0; while [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done' >/dev/null 2>&1 & \
         while [ ! -e {ready} ]; do sleep 0.01; done",
        got = path(&got),
        ready = path(&ready)
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", &script, support::PODINIT]);
    for (k, v) in env {
        sh.env(k, v);
    }
    let out = run(&mut sh, T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        eventually(LINE, || std::fs::read_to_string(&got)
            .is_ok_and(|s| s == "usr1\n")),
        "the app never got the parent-death signal"
    );
}

#[test]
fn the_app_inherits_exactly_what_it_would_without_podinit() {
    // Unusual start state: SIGUSR1 and SIGRTMIN+2 blocked, SIGINT and SIGPIPE ignored, fd 0
    // closed, an extra fd 7 open, cwd /tmp, an extra environment variable.
    fn odd_state(cmd: &mut Command) -> &mut Command {
        // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::sigaddset(&mut set, libc::SIGRTMIN() + 2);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                libc::dup2(2, 7);
                libc::close(0);
                Ok(())
            })
        };
        cmd.current_dir("/tmp").env("PODINIT_TEST_MARK", "x y")
    }
    let apps: &[&[&str]] = &[
        &["cat", "/proc/self/status"],
        &["ls", "/proc/self/fd"],
        &["pwd"],
        &["env"],
    ];
    for app in apps {
        let bare = run(odd_state(&mut without_podinit(app)), T);
        let wrapped = run(odd_state(podinit().arg("--").args(*app)), T);
        assert!(bare.status.success() && wrapped.status.success(), "{app:?}");
        let (b, w) = (
            String::from_utf8_lossy(&bare.stdout),
            String::from_utf8_lossy(&wrapped.stdout),
        );
        if app[0] == "cat" {
            let (b, w) = (identity_lines(&b), identity_lines(&w));
            assert!(
                b.iter()
                    .any(|l| l.starts_with("SigBlk:") && !l.ends_with("0000000000000000"))
            );
            assert_eq!(w, b, "/proc/self/status with and without podinit");
        } else {
            assert_eq!(w, b, "{app:?} with and without podinit");
        }
    }
    // and without the odd state, nothing of the init's (its signal mask, std's SIGPIPE
    // disposition) leaks either
    let bare = run(&mut without_podinit(&["cat", "/proc/self/status"]), T);
    let wrapped = run(podinit().args(["--", "cat", "/proc/self/status"]), T);
    assert_eq!(
        identity_lines(&String::from_utf8_lossy(&wrapped.stdout)),
        identity_lines(&String::from_utf8_lossy(&bare.stdout))
    );
}

#[test]
fn the_init_keeps_no_inherited_fds_and_leaves_the_cwd() {
    let mut cmd = podinit();
    // SAFETY: async-signal-safe calls only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::dup2(2, 9);
            Ok(())
        })
    };
    let mut child = cmd
        .args([
            "-g",
            "--",
            "sh",
            "-c",
            "echo ready; ls /proc/self/fd; sleep 5",
        ])
        .current_dir("/tmp")
        .stdout(Stdio::piped())
        .spawn_guarded();
    let init = child.id();
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect("ready", LINE);
    let mut app_fds = Vec::new();
    while let Some(l) = lines.next_within(Duration::from_millis(500)) {
        app_fds.push(l);
    }
    assert!(app_fds.contains(&"9".to_string()), "app fds {app_fds:?}");
    let init_fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{init}/fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (fd, target) in &init_fds {
        let n: i32 = fd.parse().unwrap();
        assert!(
            n <= 2 || target == "anon_inode:[eventpoll]" || target == "anon_inode:[signalfd]",
            "the init holds fd {fd} -> {target}: {init_fds:?}"
        );
    }
    assert_eq!(
        std::fs::read_link(format!("/proc/{init}/cwd")).unwrap(),
        PathBuf::from("/")
    );
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(init as i32, libc::SIGTERM) };
    assert_eq!(wait_deadline(&mut child, T, "fds").code(), Some(143));
}

#[test]
fn a_sigpipe_the_init_raises_on_itself_is_not_forwarded() {
    // The init logs every forward at -vv into a pipe whose reader is gone, so each log write
    // raises SIGPIPE on the init. The app must get its USR1s, and never a PIPE.
    let mut child = podinit()
        .args([
            "-vv",
            "--",
            "sh",
            "-c",
            "trap 'echo PIPE' PIPE; trap 'echo USR1' USR1; echo ready; while :; do sleep 0.02; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_guarded();
    drop(child.stderr.take()); // the read end: log writes now raise SIGPIPE
    let init = child.id() as i32;
    let mut lines = Lines::new(child.stdout.take().unwrap());
    lines.expect("ready", LINE);
    for _ in 0..3 {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(init, libc::SIGUSR1) };
        lines.expect("USR1", LINE);
    }
    assert_eq!(lines.next_within(Duration::from_millis(300)), None);
    // SAFETY: as above. The app has no TERM trap: it dies, then the init exits.
    unsafe { libc::kill(init, libc::SIGTERM) };
    assert_eq!(wait_deadline(&mut child, T, "sigpipe").code(), Some(143));
}

/// Usage errors of an init line exit 1, as tini's do (an image's init line is written for tini);
/// the operator commands keep clap's 2.
#[test]
fn usage_errors_and_help() {
    for args in [
        &["exec"][..],
        &["--"],
        &["-x", "sh"],
        &["exec", "--bogus", "sh"],
        &["-e", "256", "--", "true"],
        &["-v", "exec", "-e", "x", "sh"],
    ] {
        let out = run(podinit().args(args), T);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
    let out = run(podinit().args(["-p", "NOSIG", "--", "true"]), T);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a signal"), "{}", stderr(&out));
    let out = run(podinit().args(["explain"]), T);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(podinit().args(["--help"]), T);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("exec") && help.contains("tini"), "{help}");
}

/// `podinit CMD ARGS`: a first word that is not a podinit subcommand is the command, as with
/// tini; `--` still runs a command named like a subcommand.
#[test]
fn a_first_word_that_is_not_a_subcommand_is_the_command() {
    let out = run(podinit().args(["sh", "-c", "exit 3"]), T);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = run(podinit().args(["-e", "3", "sh", "-c", "exit 3"]), T);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(podinit().args(["no-such-app-craft"]), T);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"no-such-app-craft\""),
        "{}",
        stderr(&out)
    );
    // `status` is podinit's; after `--` it is a command (none here: 127, not clap's 2)
    let out = run(
        podinit().args(["--", "status"]).env("PATH", "/nonexistent"),
        T,
    );
    assert_eq!(code(&out), 127, "{}", stderr(&out));
}

/// podinit reads its command line from `main`'s own argv (musl leaves std's empty under
/// `no_main`): the app gets every argument byte for byte, in order, in each invocation form,
/// the empty, the non-UTF-8, the option-looking and the long ones included.
#[test]
fn the_app_gets_every_argument_byte_for_byte() {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut app: Vec<OsString> = vec![
        "",
        " two words ",
        "line\nbreak",
        "-s",
        "--",
        "exec",
        "--help",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    app.push(OsString::from_vec(vec![0xff, b'x', 0xc3]));
    app.push(OsString::from("y".repeat(64 * 1024)));
    app.extend((0..300).map(|i| OsString::from(format!("a{i}"))));
    let script = r#"for a; do printf '%s\0' "$a"; done"#;
    let mut want = Vec::new();
    for a in &app {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    let cmd: Vec<OsString> = ["sh", "-c", script, "sh"]
        .into_iter()
        .map(OsString::from)
        .chain(app.iter().cloned())
        .collect();
    for prefix in [&["exec", "--"][..], &["--"], &["-s", "--"], &[]] {
        let out = run(podinit().args(prefix).args(&cmd), T);
        assert_eq!(code(&out), 0, "{prefix:?}: {}", stderr(&out));
        assert!(
            out.stdout == want,
            "{prefix:?}: the app saw other arguments"
        );
    }
}

/// Run as `tini`, `docker-init` or `init` (a symlink), podinit is tini: every argument is the
/// init line's, podinit's subcommand names included; the command's exit code passes through,
/// and a usage error exits 1.
#[test]
fn drop_in_names_run_the_command_as_tini() {
    let dir = tempdir("drop-in");
    for name in ["tini", "docker-init", "init"] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(support::PODINIT, &link).unwrap();
        let cases: &[(&[&str], i32)] = &[
            (&["sh", "-c", "exit 7"], 7),
            (&["--", "sh", "-c", "exit 3"], 3),
            (&["-s", "-g", "--", "sh", "-c", "kill -TERM $$"], 143),
            (&["-e", "143", "sh", "-c", "kill -TERM $$"], 0),
            (&["-w", "-v", "-p", "TERM", "sh", "-c", "exit 4"], 4),
            // a podinit subcommand's name is a command like any other (none such here)
            (&["explain"], 127),
            (&[], 1),
            (&["-x", "sh"], 1),
            (&["-e", "256", "sh"], 1),
        ];
        for (args, expected) in cases {
            let out = run(
                support::podinit_as(&link)
                    .args(*args)
                    .env("PATH", "/usr/bin:/bin"),
                T,
            );
            assert_eq!(code(&out), *expected, "{name} {args:?}: {}", stderr(&out));
        }
    }
}

/// podinit leaves its start directory before the app exists, and the app starts in it (issue
/// 14: the old order let the app see the init there in a few of 300 runs). Each run's app reads
/// its init's cwd first thing; many runs, to catch a race.
#[test]
fn the_init_is_in_slash_before_the_app_runs_in_its_start_directory() {
    let dir = tempdir("cwd");
    let here = path(&std::fs::canonicalize(&*dir).unwrap());
    for i in 0..200 {
        let out = run(
            podinit()
                .args(["sh", "-c", "readlink /proc/$PPID/cwd; pwd -P"])
                .current_dir(&*dir),
            T,
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("/\n{here}\n"),
            "run {i}: {}",
            stderr(&out)
        );
    }
    // A relative command and PATH entry resolve against the start directory, as without podinit.
    std::fs::write(dir.join("app"), "#!/bin/sh\nexit 6\n").unwrap();
    set_mode(&dir.join("app"), 0o755);
    let out = run(podinit().args(["./app"]).current_dir(&*dir), T);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    let out = run(
        podinit().args(["app"]).env("PATH", ".").current_dir(&*dir),
        T,
    );
    assert_eq!(code(&out), 6, "{}", stderr(&out));
}

/// The same under a supervisor (a managed init), which moved to `/` before the app too but
/// started the app there: the app starts in the init's start directory.
#[test]
fn a_managed_init_starts_the_app_in_its_start_directory() {
    let dir = tempdir("managed-cwd");
    let here = path(&std::fs::canonicalize(&*dir).unwrap());
    let out = run(
        podinit()
            .args(["exec", "--", "sh", "-c", "readlink /proc/$PPID/cwd; pwd -P"])
            .env("PODINIT_SOCKET", "/nonexistent/podinit/init.sock")
            .env("PODINIT_UNREACHABLE_TIMEOUT", "1")
            .current_dir(&*dir),
        T,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("/\n{here}\n"),
        "{}",
        stderr(&out)
    );
}

/// The app alone, with the same environment `podinit()` gets.
fn without_podinit(app: &[&str]) -> Command {
    let mut c = Command::new(app[0]);
    c.args(&app[1..]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PODINIT_") {
            c.env_remove(k);
        }
    }
    c
}

/// A scratch directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("podinit-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

fn path(p: &std::path::Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 15 finding 7: under a supervisor, the app (same uid, no CAP_SYS_PTRACE) cannot reach
/// into its init (`/proc/<init>/fd`, ptrace and `pidfd_getfd` share that permission check), so
/// it cannot take the init's socket and speak as its container's init. Run as uid 65534 with a
/// supervisor socket that does not answer: the init is a managed one that gives up after 1 s and
/// starts the app.
#[test]
fn the_app_cannot_reach_into_its_managed_init() {
    // Root: setpriv to another uid.
    support::require!(&[
        support::skip::Root,
        support::skip::program("setpriv", "util-linux")
    ]);
    let out = support::run(
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(support::PODINIT)
            .args(["exec", "--", "sh", "-c"])
            .arg("if ls /proc/$PPID/fd >/dev/null 2>&1; then echo reachable; else echo denied; fi")
            .env("PODINIT_SOCKET", "/nonexistent/podinit/init.sock")
            .env("PODINIT_UNREACHABLE_TIMEOUT", "1")
            .stdin(Stdio::null()),
        Duration::from_secs(20),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "denied",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
