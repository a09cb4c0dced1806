//! A supervisor SIGKILLed and started again while a container's init is away: what falls due
//! in between reaches the init over its link once it reconnects, never kills the init itself
//! (issue 15 finding 3). Runs a real `podinit supervise` on a kept state dir; the "inits" are
//! python3 processes of this test that speak the init protocol and reconnect as `podinit exec`
//! does (every 200 ms).

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::SpawnGuarded;
use support::sockets::{PYTHON3, declaration};

/// Appended to, so the log of the first supervisor survives the second.
fn log(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

struct StateDir(PathBuf);

impl StateDir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("podinit-restart-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
    fn control_socket(&self) -> PathBuf {
        self.0.join("ctl.sock")
    }
    fn init_socket(&self) -> PathBuf {
        self.0.join("state/sock/init.sock")
    }
    fn supervise(&self) -> support::Guarded {
        let child = support::podinit()
            .arg("supervise")
            .env("PODINIT_SOCKET", self.control_socket())
            .env("PODINIT_STATE_DIR", self.0.join("state"))
            .env("PODINIT_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log(&self.0.join("supervisor.log")))
            .spawn_guarded();
        let deadline = Instant::now() + Duration::from_secs(10);
        while control(&self.control_socket(), json!({"v": 1, "op": "status"})).is_none() {
            assert!(Instant::now() < deadline, "supervisor did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn control(socket: &Path, req: Value) -> Option<Value> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("{req}\n").as_bytes()).ok()?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).ok()?;
    serde_json::from_str(&reply).ok()
}

/// A fake init: waits for a line on stdin, then connects (retrying), says hello, prints every op
/// it receives, and reports its app started when released. `exit_code` set: it reports that
/// exit right after (an app that ran to its end). On `kill` it reports death by SIGKILL, as `podinit exec` does for its app;
/// on `finish` it exits with the code given. A lost link is reconnected every 200 ms.
const FAKE_INIT: &str = r#"
import json, os, socket, sys, time
path, exit_code, reconnect = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.stdin.readline()
started = False
def say(s, op, **kw):
    kw.update(v=1, op=op)
    s.sendall((json.dumps(kw) + "\n").encode())
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
    except OSError:
        time.sleep(0.2)
        continue
    say(s, "hello")
    if started:
        say(s, "started", pid=os.getpid())
    buf = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            b = b""
        if not b:
            print("lost", flush=True)
            if not reconnect:
                # A plain init from now on (it gave up on the supervisor): never connects.
                while True:
                    time.sleep(60)
            break
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            print(msg["op"], flush=True)
            if msg["op"] == "release" and not started:
                started = True
                say(s, "started", pid=os.getpid())
                if exit_code:
                    say(s, "exited", status={"code": int(exit_code)})
            if msg["op"] == "kill":
                say(s, "exited", status={"signal": 9})
            if msg["op"] == "finish":
                sys.exit(msg["exit_code"])
"#;

fn fake_init(socket: &Path, exit_code: Option<i32>, reconnect: bool) -> support::Guarded {
    Command::new("python3")
        .args(["-c", FAKE_INIT])
        .arg(socket)
        .arg(exit_code.map(|c| c.to_string()).unwrap_or_default())
        .arg(if reconnect { "1" } else { "0" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn_guarded()
}

/// The sidecar's SIGKILL falls due while no supervisor runs. The restarted one must deliver it
/// over the link once the init reconnects: the init then reports the kill, gets `finish 0` and
/// exits 0 (what the runtime sees), and status says 0 with raw 137. Before the fix it killed the
/// init through its pidfd at once: the runtime saw 137 while status said 0.
#[test]
fn a_kill_due_while_the_supervisor_was_down_reaches_the_init_over_its_link() {
    support::require!(&[PYTHON3]);
    let (dir, ended, rest, log) = kill_due_while_down("kill-due", true);
    assert_eq!(
        (ended.signal(), ended.code()),
        (None, Some(0)),
        "the runtime must see the sidecar's init exit 0, not die of a signal; it got {rest:?}\n{log}"
    );
    assert!(rest.contains("kill"), "{rest}");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.0.join("state/status.json")).unwrap()).unwrap();
    let c = doc["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "side")
        .unwrap()
        .clone();
    assert_eq!(
        (c["exitCode"].clone(), c["rawExitCode"].clone()),
        (json!(0), json!(137)),
        "{doc}"
    );
}

/// The fallback of the same rule: an init that spoke once but never reconnects (it became a
/// plain init) still gets its SIGKILL, through its pidfd, once `delivery::RECONNECT_WAIT` (3 s)
/// is over.
#[test]
fn a_kill_for_an_init_that_never_reconnects_is_sent_through_its_pidfd() {
    support::require!(&[PYTHON3]);
    let started = Instant::now();
    let (_dir, ended, rest, log) = kill_due_while_down("never-back", false);
    assert_eq!(ended.signal(), Some(9), "{rest:?}\n{log}");
    assert!(
        log.contains("did not reconnect within 3s"),
        "{:?}\n{log}",
        started.elapsed()
    );
}

/// A Job pod (sidecar `side`, app `app`, grace 2 s) whose app ran to its end; the sidecar
/// ignores its SIGTERM; the supervisor is SIGKILLed and started again after the sidecar's kill
/// deadline. Returns how the sidecar's init ended, what it received after, and the log.
fn kill_due_while_down(
    tag: &str,
    reconnect: bool,
) -> (StateDir, std::process::ExitStatus, String, String) {
    let dir = StateDir::new(tag);
    let spec = json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
        "initContainers": [{"name": "side", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}]});
    let mut sup = dir.supervise();
    let mut side = fake_init(&dir.init_socket(), None, reconnect);
    let mut app = fake_init(&dir.init_socket(), Some(0), true);
    for (name, child) in [("side", &side), ("app", &app)] {
        let d = declaration(&dir.0, name, &spec);
        let reply = control(
            &dir.control_socket(),
            json!({"v": 1, "op": "register", "id": format!("id-{name}"), "pid": child.id(),
                "bundle": "/nonexistent", "plan": d["plan"], "pod": d["pod"]}),
        )
        .unwrap();
        assert_eq!(reply["ok"], true, "{reply}");
    }
    let mut side_out = BufReader::new(side.stdout.take().unwrap());
    side.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    side_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "welcome");
    // The app starts once the sidecar is started, exits 0, is finished and leaves: the Job is
    // done and the sidecar gets SIGTERM (which it ignores), SIGKILL due 2 s later.
    app.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut ops = Vec::new();
    while !ops.iter().any(|o| o == "signal") {
        line.clear();
        assert!(side_out.read_line(&mut line).unwrap() > 0, "side: {ops:?}");
        ops.push(line.trim().to_owned());
    }
    assert_eq!(support::proc::code(app.wait().unwrap()), 0);
    // The supervisor dies; the kill deadline passes while none runs.
    let _ = sup.kill();
    let _ = sup.wait();
    std::thread::sleep(Duration::from_millis(2500));
    let sup = dir.supervise();
    let ended = support::proc::wait_timeout(&mut side, Duration::from_secs(10));
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut side_out, &mut rest);
    let log = std::fs::read_to_string(dir.0.join("supervisor.log")).unwrap_or_default();
    let ended = ended.unwrap_or_else(|| panic!("the sidecar's init did not end\n{log}"));
    // The pod ends once the sidecar's init is gone; its status.json is then final.
    support::eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(dir.0.join("state/status.json"))
            .is_ok_and(|s| s.contains("\"finished\":true"))
    });
    let log = std::fs::read_to_string(dir.0.join("supervisor.log")).unwrap_or_default();
    drop(sup);
    (dir, ended, rest, log)
}

/// Issue 13 item 2: the pod's declaration is sent and journalled once. The first registration
/// brings the pod spec's text (after the supervisor said it needs it), the others name it by
/// digest; one naming another declaration is refused by container and pod; the journal holds
/// the plans of the pod once. SIGKILLed and started again, the supervisor rebuilds the same pod
/// from that journal and takes the next registration by digest.
#[test]
fn the_declaration_is_journalled_once_and_a_restart_still_knows_it() {
    let dir = StateDir::new("decl-once");
    let spec = json!({"restartPolicy": "Never",
        "initContainers": [{"name": "side", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}, {"name": "late"}]});
    let other = json!({"restartPolicy": "Never", "containers": [{"name": "app"}, {"name": "x"}]});
    let mut sup = dir.supervise();
    // Holders for the inits: never connect, only their pids matter here.
    let holders: Vec<support::Guarded> = (0..3)
        .map(|_| Command::new("sleep").arg("60").spawn_guarded())
        .collect();
    let digest_of = |d: &Value| -> String {
        let pod: podinit::plan::PodDeclaration = serde_json::from_value(d["pod"].clone()).unwrap();
        podinit::plan::declaration::digest(&pod)
    };
    let register = |name: &str, pid: u32, d: &Value, extra: Value| {
        let mut req = json!({"v": 1, "op": "register", "id": format!("id-{name}"), "pid": pid,
            "bundle": "/nonexistent", "plan": d["plan"], "pod_digest": digest_of(d),
            "pod_key": "p1"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        control(&dir.control_socket(), req).unwrap()
    };
    let side = declaration(&dir.0, "side", &spec);
    let first = register("side", holders[0].id(), &side, json!({}));
    assert_eq!(
        (first["ok"].clone(), first["need_declaration"].clone()),
        (json!(false), json!(true)),
        "{first}"
    );
    let brought = register(
        "side",
        holders[0].id(),
        &side,
        json!({"pod_spec": spec.to_string()}),
    );
    assert_eq!(brought["ok"], true, "{brought}");
    let app = declaration(&dir.0, "app", &spec);
    let reply = register("app", holders[1].id(), &app, json!({}));
    assert_eq!(reply["ok"], true, "{reply}");
    let foreign = declaration(&dir.0, "x", &other);
    let refused = register("x", holders[2].id(), &foreign, json!({}));
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        refused["ok"] == false
            && refused["need_declaration"].is_null()
            && error.contains("pod p1")
            && error.contains("\"x\" (id-x)")
            && error.contains("\"side\" brought"),
        "{refused}"
    );
    let journal = std::fs::read_to_string(dir.0.join("state/pods/p1/journal.jsonl")).unwrap();
    let registered: Vec<Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"]["event"] == "registered")
        .collect();
    assert_eq!(registered.len(), 2, "{journal}");
    assert!(
        registered[0]["event"]["pod"]["containers"].is_array(),
        "{journal}"
    );
    assert!(registered[1]["event"].get("pod").is_none(), "{journal}");
    assert_eq!(
        registered[1]["event"]["pod_digest"],
        registered[0]["event"]["pod_digest"]
    );
    let status = |d: &StateDir| {
        control(
            &d.control_socket(),
            json!({"v": 1, "op": "status", "pod_key": "p1"}),
        )
        .unwrap()["status"]["containers"]
            .clone()
    };
    let before = status(&dir);
    let _ = sup.kill();
    let _ = sup.wait();
    let _sup = dir.supervise();
    assert_eq!(status(&dir), before, "replayed into another pod");
    let late = declaration(&dir.0, "late", &spec);
    let reply = register("late", holders[2].id(), &late, json!({}));
    assert_eq!(reply["ok"], true, "{reply}");
    let after = status(&dir);
    let late = after
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "late");
    assert_eq!(
        late.map(|c| c["id"].clone()),
        Some(json!("id-late")),
        "{after}"
    );
}
