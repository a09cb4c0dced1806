//! `podinit exec` as PID 1 of real runc containers: exit codes, signal forwarding from
//! `runc kill`, zombie reaping, stdio, and the app's identity (capabilities, ids, signal mask and
//! dispositions, fds) compared with the same container without podinit, for a root and a
//! non-root (uid 1000, with ambient capabilities) process.
//!
//! Each test builds its own bundle: a rootfs from the host's static busybox plus the podinit
//! binary under test, a `config.json` from `runc spec` edited as JSON, a private `runc --root`
//! and a unique container id, so tests run in parallel; a guard runs `runc delete -f` and removes
//! everything, also when an assertion fails. Without runc, /bin/busybox or root each test prints
//! `SKIP` and passes, or fails under `PODINIT_REQUIRE_ALL=1` (`support::skip`).

use crate::support;

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use support::skip::{Need, Root, program};
use support::{eventually, identity_lines, wait_deadline};

const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const BUSYBOX: &str = "/bin/busybox";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What these tests need: root, runc and the host's static busybox for the rootfs.
const NEEDS: &[Need] = &[
    Root,
    program("runc", "runc"),
    program(BUSYBOX, "busybox-static"),
];

/// One container: bundle dir with rootfs and config.json, runc state root, stdio files.
struct Container {
    dir: PathBuf,
    id: String,
    config: Value,
}

impl Container {
    /// A bundle whose process runs `args` as `uid:gid`.
    fn new(args: &[&str], uid: u32, gid: u32) -> Container {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("podinit-t{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut c = Container {
            dir,
            id,
            config: Value::Null,
        };
        c.build_rootfs();
        let out = Command::new("runc")
            .args(["spec", "--bundle"])
            .arg(&c.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runc spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&fs::read(c.dir.join("config.json")).unwrap()).unwrap();
        let process = &mut config["process"];
        process["terminal"] = json!(false);
        process["args"] = json!(args);
        process["cwd"] = json!("/");
        process["user"] = json!({"uid": uid, "gid": gid});
        config["hostname"] = json!("podinit-test");
        c.config = config;
        c
    }

    fn build_rootfs(&self) {
        let rootfs = self.dir.join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                let _ = symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        let init = rootfs.join("podinit");
        fs::copy(support::PODINIT, &init).unwrap();
        fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    }

    fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self
    }

    fn root(&self) -> PathBuf {
        self.dir.join("runc-root")
    }

    fn runc(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(self.root());
        c
    }

    /// `runc run` in the foreground, stdin from `stdin` (or /dev/null), stdout/stderr to files.
    fn spawn(&self, stdin: Option<&str>) -> Child {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
        let stdin = match stdin {
            Some(text) => {
                let p = self.dir.join("stdin");
                fs::write(&p, text).unwrap();
                Stdio::from(File::open(p).unwrap())
            }
            None => Stdio::null(),
        };
        self.runc()
            .args(["run", "--bundle"])
            .arg(&self.dir)
            .arg(&self.id)
            .stdin(stdin)
            .stdout(File::create(self.dir.join("stdout")).unwrap())
            .stderr(File::create(self.dir.join("stderr")).unwrap())
            .spawn()
            .unwrap()
    }

    /// Runs to completion: runc's exit status is the container's.
    fn run(&self, stdin: Option<&str>) -> (i32, String, String) {
        let mut child = self.spawn(stdin);
        let status = wait_deadline(&mut child, RUN_TIMEOUT, &self.id);
        (code(status), self.stdout(), self.stderr())
    }

    fn stdout(&self) -> String {
        fs::read_to_string(self.dir.join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn kill(&self, signal: &str) {
        let out = self
            .runc()
            .args(["kill", &self.id, signal])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runc kill {} {signal}: {}",
            self.id,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self
            .runc()
            .args(["delete", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| panic!("runc itself died: {status:?}"))
}

fn with_podinit<'a>(form: &[&'a str], app: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["/podinit"];
    v.extend_from_slice(form);
    v.extend_from_slice(app);
    v
}

#[test]
fn exit_codes_as_pid_1() {
    support::require!(NEEDS);
    let cases: &[(&[&str], &[&str], i32)] = &[
        (&["exec", "--"], &["sh", "-c", "exit 3"], 3),
        (&["--"], &["sh", "-c", "exit 3"], 3),
        (&["-s", "-g", "--"], &["sh", "-c", "exit 3"], 3),
        (&["exec", "--"], &["sh", "-c", "exit 0"], 0),
        (&["exec", "--"], &["sh", "-c", "kill -9 $$"], 137),
        (&["--"], &["sh", "-c", "kill -TERM $$"], 143),
        (&["-e", "143", "--"], &["sh", "-c", "kill -TERM $$"], 0),
    ];
    for (form, app, expected) in cases {
        let args = with_podinit(form, app);
        let c = Container::new(&args, 0, 0);
        let (got, out, err) = c.run(None);
        assert_eq!(got, *expected, "{args:?}: stdout {out:?} stderr {err:?}");
    }
}

/// The app starts in `process.cwd` while PID 1 is in `/` already (issue 14: podinit used to
/// leave its start directory only after the app started), run as `podinit CMD` and as a
/// symlink named `tini`; the app reads PID 1's cwd first thing.
#[test]
fn pid_1_is_in_slash_while_the_app_runs_in_its_cwd() {
    support::require!(NEEDS);
    for init in ["/podinit", "/tini"] {
        for _ in 0..3 {
            let mut c = Container::new(&[init, "sh", "-c", "readlink /proc/1/cwd; pwd"], 0, 0);
            symlink("podinit", c.dir.join("rootfs/tini")).unwrap();
            c.edit(|cfg| cfg["process"]["cwd"] = json!("/tmp"));
            let (got, out, err) = c.run(None);
            assert_eq!((got, out.as_str()), (0, "/\n/tmp\n"), "{init}: {err}");
        }
    }
}

#[test]
fn missing_command_is_127_with_a_message() {
    support::require!(NEEDS);
    for form in [&["exec", "--"][..], &["--"][..]] {
        let args = with_podinit(form, &["no-such-app", "x"]);
        let c = Container::new(&args, 0, 0);
        let (got, out, err) = c.run(None);
        assert_eq!(got, 127, "{args:?}: stdout {out:?} stderr {err:?}");
        assert!(
            err.contains("podinit: cannot execute \"no-such-app\": No such file or directory"),
            "stderr {err:?}"
        );
    }
    // found but not executable
    let c = Container::new(&["/podinit", "--", "/etc/hostname"], 0, 0);
    fs::write(c.dir.join("rootfs/etc/hostname"), "x\n").unwrap();
    let (got, _, err) = c.run(None);
    assert_eq!(got, 126, "{err:?}");
    assert!(
        err.contains("\"/etc/hostname\": Permission denied"),
        "{err:?}"
    );
}

#[test]
fn runc_kill_term_reaches_the_app() {
    support::require!(NEEDS);
    // The app traps TERM: its handler runs and its code is the container's.
    let trapped = "trap 'echo trapped; exit 42' TERM; echo ready; while :; do sleep 0.05; done";
    // No trap: the app dies of TERM, reported 128+15. (Without podinit, sh as PID 1 would
    // ignore this TERM.)
    let plain = "echo ready; while :; do sleep 0.05; done";
    for (script, expected, out_expected) in
        [(trapped, 42, "ready\ntrapped\n"), (plain, 143, "ready\n")]
    {
        for form in [&["exec", "--"][..], &["-g", "--"][..]] {
            let args = with_podinit(form, &["sh", "-c", script]);
            let c = Container::new(&args, 0, 0);
            let mut child = c.spawn(None);
            assert!(
                eventually(RUN_TIMEOUT, || c.stdout().contains("ready")),
                "{args:?} never got ready: {:?}",
                c.stderr()
            );
            c.kill("TERM");
            let status = wait_deadline(&mut child, RUN_TIMEOUT, &c.id);
            assert_eq!(code(status), expected, "{args:?}: stderr {:?}", c.stderr());
            assert_eq!(c.stdout(), out_expected, "{args:?}");
        }
    }
}

#[test]
fn other_signals_reach_the_app_too() {
    support::require!(NEEDS);
    let script = "for s in HUP INT QUIT USR1 USR2 WINCH; do trap \"echo $s\" $s; done; \
                  trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let c = Container::new(&with_podinit(&["--"], &["sh", "-c", script]), 0, 0);
    let mut child = c.spawn(None);
    assert!(eventually(RUN_TIMEOUT, || c.stdout().contains("ready")));
    let mut expected = String::from("ready\n");
    for s in ["HUP", "INT", "QUIT", "USR1", "USR2", "WINCH"] {
        c.kill(s);
        expected.push_str(s);
        expected.push('\n');
        assert!(
            eventually(Duration::from_secs(10), || c.stdout() == expected),
            "after {s}: {:?}",
            c.stdout()
        );
    }
    c.kill("TERM");
    assert_eq!(code(wait_deadline(&mut child, RUN_TIMEOUT, &c.id)), 7);
}

#[test]
fn zombies_are_reaped_as_pid_1() {
    support::require!(NEEDS);
    // The app orphans a grandchild (a subshell that exits at once after starting it); the
    // grandchild reports its parent (PID 1 = podinit), exits, and must not stay a zombie.
    let script = "(sh -c 'sleep 0.2; set -- $(grep ^PPid: /proc/$$/status); echo orphan-parent=$2' &); \
                  sleep 1; z=0; \
                  for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null || continue; \
                  case \"$l\" in *') Z '*) z=$((z+1));; esac; done; \
                  echo zombies=$z; echo init=$(cat /proc/1/comm)";
    let c = Container::new(&with_podinit(&["exec", "--"], &["sh", "-c", script]), 0, 0);
    let (got, out, err) = c.run(None);
    assert_eq!(got, 0, "stderr {err:?}");
    assert_eq!(
        out, "orphan-parent=1\nzombies=0\ninit=podinit\n",
        "stderr {err:?}"
    );
}

#[test]
fn stdio_passes_through() {
    support::require!(NEEDS);
    let c = Container::new(
        &with_podinit(
            &["--"],
            &["sh", "-c", "echo out; echo err >&2; cat; echo done"],
        ),
        0,
        0,
    );
    let (got, out, err) = c.run(Some("line one\nline two\n"));
    assert_eq!(got, 0);
    assert_eq!(out, "out\nline one\nline two\ndone\n");
    assert_eq!(err, "err\n");
}

/// Runs `app` in a container as PID 1 and under podinit, with the same config; returns both
/// outputs.
fn both_ways(app: &[&str], uid: u32, edit: &dyn Fn(&mut Value)) -> (String, String) {
    let mut bare = Container::new(app, uid, uid);
    bare.edit(edit);
    let (c1, out1, err1) = bare.run(None);
    assert_eq!(c1, 0, "without podinit: {err1:?}");
    let mut wrapped = Container::new(&with_podinit(&["exec", "--"], app), uid, uid);
    wrapped.edit(edit);
    let (c2, out2, err2) = wrapped.run(None);
    assert_eq!(c2, 0, "with podinit: {err2:?}");
    (out1, out2)
}

fn identity_is_identical(uid: u32, ambient: bool, edit: &dyn Fn(&mut Value)) {
    let (bare, wrapped) = both_ways(&["cat", "/proc/self/status"], uid, edit);
    let (b, w) = (identity_lines(&bare), identity_lines(&wrapped));
    for key in [
        "Uid:", "Gid:", "SigBlk:", "SigIgn:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
    ] {
        assert!(
            b.iter().any(|l| l.starts_with(key)),
            "{key} missing: {bare}"
        );
    }
    assert!(
        b.iter()
            .any(|l| l == &format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}")),
        "{b:?}"
    );
    let amb = b.iter().find(|l| l.starts_with("CapAmb:")).unwrap();
    assert_eq!(!amb.ends_with("0000000000000000"), ambient, "{amb}");
    assert_eq!(w, b, "/proc/self/status of the app, uid {uid}");

    let (bare, wrapped) = both_ways(&["ls", "/proc/self/fd"], uid, edit);
    assert_eq!(wrapped, bare, "open fds of the app, uid {uid}");
    let (bare, wrapped) = both_ways(&["env"], uid, edit);
    assert_eq!(wrapped, bare, "environment of the app, uid {uid}");
}

#[test]
fn the_app_sees_what_it_would_as_pid_1_root() {
    support::require!(NEEDS);
    identity_is_identical(0, false, &|_| {});
}

#[test]
fn the_app_sees_what_it_would_as_pid_1_uid_1000_with_ambient_caps() {
    support::require!(NEEDS);
    identity_is_identical(1000, true, &|config| {
        let caps = json!(["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
        let c = &mut config["process"]["capabilities"];
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            c[set] = caps.clone();
        }
        config["process"]["user"]["additionalGids"] = json!([10, 20]);
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("APP_MARK=with spaces"));
    });
}
