//! podinit with a real container engine as the agent and no `podinit inject`: Debian's podman
//! (4.3) creates the containers of a podman pod with runc, podinit registers them through the
//! `oci-hooks/hooks.d` files, the createRuntime hook mounts the supervisor's socket directory
//! into each container, and podinit is each container's init through `--init --init-path`.
//!
//! - [`job_with_a_native_sidecar_created_app_first`]: the sidecar starts before the app although
//!   podman creates the app first, the app runs and exits 0, then the sidecar gets SIGTERM and,
//!   although its shell exits 1, podman records 0 for it; the pod is Succeeded.
//! - [`plain_init_under_podman_init`]: `podman run --init --init-path podinit` without a
//!   supervisor: podinit is PID 1 (as `/run/podman-init`) and passes the exit code through.
//!
//! Each test has its own image (a busybox rootfs from the host's /bin/busybox, `podman import`ed
//! under a unique name), temp dir, `CONTAINERS_CONF`, supervisor, pod and container names, so the
//! tests run in parallel with each other and with the rest of the suite. A guard removes the
//! containers, the pod, the image, the supervisor and the temp dir, also when an assertion fails.
//! Without podman, runc or root each test prints `SKIP` and passes, or fails under
//! `PODINIT_REQUIRE_ALL=1` (`support::skip`).
//!
//! What this host needs, found by trying: `--runtime runc` (podman's default here is crun, which
//! refuses hybrid-cgroup hosts) and explicit rlimits (podman's default `nofile=1048576` is above
//! the hard limit of a process without CAP_SYS_RESOURCE, so runc's setrlimit fails). The pod's
//! infra container gets neither from `podman pod create` flags, hence a private containers.conf
//! (`runtime`, `default_ulimits`) through `CONTAINERS_CONF`; and since the default infra image
//! needs `catatonit`, which is not installed, the infra container runs a `/pause` script from the
//! test image. The cgroup manager (cgroupfs) and events backend (file) podman picks on its own
//! here work. A JSON annotation value must be CSV-quoted on podman's command line (`--annotation`
//! is a string slice: a bare `"` or `,` breaks it), see [`annotation`].

use crate::support;

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use podinit::engine::{ContainerState, Phase};
use podinit::plan::Kind;
use podinit::status::Document;
use serde_json::{Value, json};

use support::skip::{Need, Root, program};
use support::{PODINIT, eventually, podinit};

const BUSYBOX: &str = "/bin/busybox";
/// One podman command (the first one on a machine may set up storage).
const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);
/// The whole pod, from the sidecar's creation to the supervisor's exit.
const POD_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What these tests need: root, podman and runc (podman's runtime here).
const NEEDS: &[Need] = &[Root, program("podman", "podman"), program("runc", "runc")];

/// `--ulimit` values runc can set here: podman's defaults (nofile 1048576) exceed the hard limits
/// of a root without CAP_SYS_RESOURCE, and podman 4.3 runs conmon (so runc) with nproc capped at
/// 32768 on this host, below the shell's hard limit. nproc is per user, threads included, so a
/// small value would count the whole machine's root tasks against the containers: 4096 (or the
/// hard limit, if lower).
fn ulimits() -> Vec<String> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let nproc = if unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut rl) } == 0 {
        rl.rlim_max.min(4096)
    } else {
        1024
    };
    vec![
        "nofile=1024:1024".to_owned(),
        format!("nproc={nproc}:{nproc}"),
    ]
}

fn ulimit_args() -> Vec<String> {
    ulimits()
        .into_iter()
        .flat_map(|u| ["--ulimit".to_owned(), u])
        .collect()
}

/// One `--annotation` argument. podman parses the flag as CSV (pflag's string slice), so a value
/// with `"` or `,` — any JSON object — is quoted as one CSV field.
fn annotation(key: &str, value: &str) -> String {
    let kv = format!("{key}={value}");
    if kv.contains(['"', ',', '\n']) {
        format!("\"{}\"", kv.replace('"', "\"\""))
    } else {
        kv
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A test's podman world: temp dir, containers.conf, image; and what to remove on drop.
struct Podman {
    dir: PathBuf,
    /// Unique per test: the image, pod and container names derive from it.
    tag: String,
    conf: PathBuf,
    image: String,
    pod: Option<String>,
    containers: Vec<String>,
    supervisor: Option<Child>,
}

impl Podman {
    fn new(what: &str) -> Podman {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let tag = format!("podinit-{what}-{}-{n}-{nanos:x}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("containers.conf");
        let quoted: Vec<String> = ulimits().iter().map(|u| format!("{u:?}")).collect();
        fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [{}]\n\n[engine]\nruntime = \"runc\"\n",
                quoted.join(", ")
            ),
        )
        .unwrap();
        let mut p = Podman {
            image: format!("localhost/{tag}:latest"),
            dir,
            tag,
            conf,
            pod: None,
            containers: Vec::new(),
            supervisor: None,
        };
        p.import_image();
        p
    }

    fn podman(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf);
        c
    }

    fn run_podman(&self, args: &[String]) -> Output {
        support::run(self.podman().args(args), PODMAN_TIMEOUT)
    }

    /// Runs podman and returns its trimmed stdout; panics with its stderr on failure.
    fn podman_ok(&self, args: &[String]) -> String {
        let out = self.run_podman(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}\n{}{}",
            out.status,
            text(&out.stderr),
            self.diag()
        );
        text(&out.stdout).trim().to_owned()
    }

    /// A busybox rootfs (every applet a symlink to /bin/busybox) with a `/pause` for the pod's
    /// infra container, imported as `self.image`.
    fn import_image(&mut self) {
        assert!(
            Path::new(BUSYBOX).is_file(),
            "{BUSYBOX} is missing: apt-get install busybox-static (scripts/install-deps.sh)"
        );
        let rootfs = self.dir.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "run", "shared"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        let list = support::run(Command::new(BUSYBOX).arg("--list"), PODMAN_TIMEOUT);
        assert!(list.status.success(), "busybox --list: {list:?}");
        for applet in text(&list.stdout).lines() {
            // A `busybox` symlink would replace the binary itself.
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            let _ = symlink("busybox", rootfs.join("bin").join(applet));
        }
        fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
        fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        let pause = rootfs.join("pause");
        fs::write(
            &pause,
            "#!/bin/sh\ntrap 'exit 0' TERM INT\nwhile :; do sleep 3600 & wait $!; done\n",
        )
        .unwrap();
        fs::set_permissions(&pause, fs::Permissions::from_mode(0o755)).unwrap();
        let tar = self.dir.join("rootfs.tar");
        let out = support::run(
            Command::new("tar")
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            PODMAN_TIMEOUT,
        );
        assert!(out.status.success(), "tar: {}", text(&out.stderr));
        self.podman_ok(&[
            "import".into(),
            "--quiet".into(),
            tar.display().to_string(),
            self.image.clone(),
        ]);
        let _ = fs::remove_dir_all(&rootfs);
        let _ = fs::remove_file(&tar);
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn socket(&self) -> PathBuf {
        self.state_dir().join("podinit.sock")
    }

    fn supervisor_log(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }

    fn timeline_file(&self) -> PathBuf {
        self.dir.join("shared/timeline")
    }

    /// `podinit supervise -vv` on this test's socket and state dir, logging to a file.
    fn start_supervisor(&mut self) {
        fs::create_dir_all(self.state_dir()).unwrap();
        let log = File::create(self.supervisor_log()).unwrap();
        let child = podinit()
            // One pod per test: the tests wait for the supervisor to exit with it.
            .args(["supervise", "--exit-with-pod", "-vv"])
            .env("PODINIT_SOCKET", self.socket())
            .env("PODINIT_STATE_DIR", self.state_dir())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn podinit supervise");
        self.supervisor = Some(child);
        let init_sock = self.state_dir().join("sock/init.sock");
        assert!(
            eventually(Duration::from_secs(10), || self.socket().exists()
                && init_sock.exists()),
            "the supervisor did not listen\n{}",
            self.diag()
        );
    }

    /// `oci-hooks/hooks.d/*.json` with the test binary as `hook.path` and this test's socket
    /// and state dir in the env (plus debug logging, which goes to podman's log on failure).
    fn hooks_dir(&self) -> PathBuf {
        let dir = self.dir.join("hooks.d");
        fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("oci-hooks/hooks.d");
        let mut n = 0;
        for e in fs::read_dir(&src).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            doc["hook"]["path"] = json!(PODINIT);
            doc["hook"]["env"] = json!([
                format!("PODINIT_SOCKET={}", self.socket().display()),
                format!("PODINIT_STATE_DIR={}", self.state_dir().display()),
                "PODINIT_LOG=debug",
            ]);
            fs::write(
                dir.join(path.file_name().unwrap()),
                serde_json::to_vec_pretty(&doc).unwrap(),
            )
            .unwrap();
            n += 1;
        }
        assert!(n >= 3, "oci-hooks/hooks.d has {n} JSON files");
        dir
    }

    fn create_pod(&mut self) -> String {
        let pod = format!("{}-pod", self.tag);
        self.pod = Some(pod.clone());
        self.podman_ok(&[
            "pod".into(),
            "create".into(),
            "--name".into(),
            pod.clone(),
            "--infra-image".into(),
            self.image.clone(),
            "--infra-command".into(),
            "/pause".into(),
        ]);
        pod
    }

    fn inspect(&self, name: &str) -> Value {
        let out = self.podman_ok(&["inspect".into(), name.into()]);
        let v: Value = serde_json::from_str(&out).expect("podman inspect JSON");
        v[0].clone()
    }

    /// The pod's status as the typed document every reader shares; `None` until the
    /// supervisor wrote one.
    fn status(&self) -> Option<Document> {
        Document::parse(&fs::read(self.state_dir().join("status.json")).ok()?).ok()
    }

    /// Everything that tells what happened, for a failure message.
    fn diag(&self) -> String {
        let mut s = String::new();
        let read = |p: PathBuf| fs::read_to_string(&p).unwrap_or_else(|e| format!("({e})"));
        s += &format!("\n--- supervisor log\n{}", read(self.supervisor_log()));
        s += &format!("\n--- shared timeline\n{}", read(self.timeline_file()));
        s += &format!(
            "\n--- status.json\n{}",
            read(self.state_dir().join("status.json"))
        );
        let ps = self
            .podman()
            .args(["ps", "-a", "--pod", "--filter"])
            .arg(format!("name={}", self.tag))
            .stdin(Stdio::null())
            .output();
        if let Ok(o) = ps {
            s += &format!("\n--- podman ps -a\n{}", text(&o.stdout));
        }
        for c in &self.containers {
            if let Ok(o) = self
                .podman()
                .args(["logs", c])
                .stdin(Stdio::null())
                .output()
            {
                s += &format!(
                    "\n--- podman logs {c}\n{}{}",
                    text(&o.stdout),
                    text(&o.stderr)
                );
            }
            if let Ok(o) = self
                .podman()
                .args(["inspect", "--format", "{{json .State}}", c])
                .stdin(Stdio::null())
                .output()
            {
                s += &format!("\n--- state of {c}\n{}", text(&o.stdout));
            }
        }
        s
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let quiet = |args: Vec<String>| {
            let _ = self
                .podman()
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        if !self.containers.is_empty() {
            let mut args: Vec<String> = ["rm", "-f", "-i", "-t", "0"].map(String::from).into();
            args.extend(self.containers.iter().cloned());
            quiet(args);
        }
        if let Some(pod) = &self.pod {
            quiet(
                ["pod", "rm", "-f", "-i", "-t", "0", pod]
                    .map(String::from)
                    .into(),
            );
        }
        quiet(["rmi", "-f", &self.image].map(String::from).into());
        if let Some(mut s) = self.supervisor.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One line of the shared timeline: `EVENT UPTIME [key=value...]`.
#[derive(Debug)]
struct Mark {
    event: String,
    uptime: f64,
    rest: String,
}

fn parse_timeline(t: &str) -> Vec<Mark> {
    t.lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let event = it.next().unwrap_or_default().to_owned();
            let uptime = it
                .next()
                .and_then(|u| u.parse().ok())
                .unwrap_or_else(|| panic!("bad timeline line {l:?}"));
            Mark {
                event,
                uptime,
                rest: it.next().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// The sidecar: records its start (then passes its startup probe), and on SIGTERM records it and
/// exits 1 (podinit must report 0).
const SIDECAR_SCRIPT: &str = r#"up() { cut -d' ' -f1 /proc/uptime; }
trap 'echo "sidecar-term $(up)" >> /shared/timeline; exit 1' TERM
echo "sidecar-start $(up)" >> /shared/timeline
touch /shared/sidecar-up
while :; do sleep 0.1; done"#;

/// The app: records its start (and whether the sidecar had started, whether the hook's socket
/// mount is there, what PID 1 is), runs 1 s, records its exit, exits 0.
const APP_SCRIPT: &str = r#"up() { cut -d' ' -f1 /proc/uptime; }
if grep -q '^sidecar-start ' /shared/timeline 2>/dev/null; then sc=yes; else sc=no; fi
if [ -S /.podinit/sock/init.sock ]; then sock=yes; else sock=no; fi
init=$(tr '\0' '\n' < /proc/1/cmdline | head -n 2 | tr '\n' ' ')
echo "app-start $(up) sidecar-started=$sc sock=$sock init=$init" >> /shared/timeline
sleep 1
echo "app-exit $(up)" >> /shared/timeline
exit 0"#;

#[test]
fn job_with_a_native_sidecar_created_app_first() {
    support::require!(NEEDS);
    let t0 = Instant::now();
    let mut p = Podman::new("job");
    p.start_supervisor();
    let hooks = p.hooks_dir();
    fs::create_dir_all(p.dir.join("shared")).unwrap();
    let pod = p.create_pod();
    let spec = json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        // Started means running and startupProbe passed: the probe (run by podinit inside the
        // sidecar) makes "the sidecar's first line is written before the app starts" a rule.
        "initContainers": [{
            "name": "sidecar",
            "image": "busybox",
            "restartPolicy": "Always",
            "startupProbe": {
                "exec": {"command": ["test", "-f", "/shared/sidecar-up"]},
                "periodSeconds": 1,
            },
        }],
        "containers": [{"name": "app", "image": "busybox"}],
    });
    let spec_text = spec.to_string();
    let run_container = |p: &mut Podman, name: &str, script: &str| -> String {
        let cname = format!("{}-{name}", p.tag);
        p.containers.push(cname.clone());
        let mut args: Vec<String> = vec![
            "--runtime".into(),
            "runc".into(),
            "--hooks-dir".into(),
            hooks.display().to_string(),
            "run".into(),
            "-d".into(),
            "--pod".into(),
            pod.clone(),
            "--name".into(),
            cname.clone(),
            "--init".into(),
            "--init-path".into(),
            PODINIT.into(),
        ];
        args.extend(ulimit_args());
        args.extend([
            "-v".into(),
            format!("{}:/shared", p.dir.join("shared").display()),
            "--annotation".into(),
            annotation("io.podinit.container-name", name),
            "--annotation".into(),
            annotation("io.podinit.pod-spec", &spec_text),
            p.image.clone(),
            "sh".into(),
            "-c".into(),
            script.into(),
        ]);
        p.podman_ok(&args);
        cname
    };

    // The app first: its init must hold it at the start gate until the sidecar has started.
    let app = run_container(&mut p, "app", APP_SCRIPT);
    let registered =
        |p: &Podman, name: &str| p.status().is_some_and(|s| s.container(name).is_some());
    assert!(
        eventually(Duration::from_secs(10), || registered(&p, "app")),
        "the createRuntime hook did not register the app\n{}",
        p.diag()
    );
    std::thread::sleep(Duration::from_millis(700));
    let early = fs::read_to_string(p.timeline_file()).unwrap_or_default();
    assert!(
        !early.contains("app-start"),
        "the app was not held at its start gate: it started before its sidecar was even \
         created (see sock= in the timeline: with sock=no its init found no supervisor socket)\n{}",
        p.diag()
    );
    let sidecar = run_container(&mut p, "sidecar", SIDECAR_SCRIPT);

    // The pod finishes: the supervisor exits with the phase's code.
    let status = {
        let child = p.supervisor.as_mut().unwrap();
        let deadline = Instant::now() + POD_TIMEOUT;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "the supervisor did not end with the pod Succeeded within {POD_TIMEOUT:?}: {status:?}\n{}",
        p.diag()
    );

    // podman's view: both exited 0 (the sidecar's shell exited 1).
    let codes = p.podman_ok(&["wait".into(), app.clone(), sidecar.clone()]);
    assert_eq!(
        codes.lines().collect::<Vec<_>>(),
        ["0", "0"],
        "podman wait app sidecar\n{}",
        p.diag()
    );
    for c in [&app, &sidecar] {
        let code = p.podman_ok(&[
            "inspect".into(),
            "--format".into(),
            "{{.State.ExitCode}}".into(),
            c.clone(),
        ]);
        assert_eq!(code, "0", "exit code of {c} in podman\n{}", p.diag());
    }

    // The containers' own timeline.
    let marks = parse_timeline(&fs::read_to_string(p.timeline_file()).unwrap_or_default());
    let events: Vec<&str> = marks.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(
        events,
        ["sidecar-start", "app-start", "app-exit", "sidecar-term"],
        "order of events (each exactly once)\n{}",
        p.diag()
    );
    assert!(
        marks.windows(2).all(|w| w[0].uptime <= w[1].uptime),
        "timestamps go back: {marks:?}"
    );
    let app_start = &marks[1].rest;
    assert!(
        app_start.contains("sidecar-started=yes"),
        "the app did not see the sidecar started: {app_start}"
    );
    assert!(
        app_start.contains("sock=yes"),
        "no supervisor socket at /.podinit/sock in the app (the createRuntime hook mounts it): \
         {app_start}\n{}",
        p.diag()
    );
    assert!(
        app_start.contains("init=/run/podman-init -- "),
        "PID 1 of the app is not podinit as podman's init: {app_start}"
    );

    // The supervisor's view.
    let st = p.status().expect("status.json");
    assert_eq!(st.phase, Phase::Succeeded, "{}", p.diag());
    for (name, cname, kind, raw) in [
        ("app", &app, Kind::App, 0),
        ("sidecar", &sidecar, Kind::Sidecar, 1),
    ] {
        let c = st
            .container(name)
            .unwrap_or_else(|| panic!("no {name} in status.json\n{}", p.diag()));
        let id = p.inspect(cname)["Id"].as_str().map(String::from);
        assert_eq!(c.id, id, "{name}: the id podman gave the runtime");
        assert_eq!(c.kind, Some(kind), "{name}: kind");
        assert_eq!(c.state, ContainerState::Terminated, "{name}: state");
        assert_eq!(c.exit_code, Some(0), "{name}: reported exit code");
        assert_eq!(c.raw_exit_code, Some(raw), "{name}: raw exit code");
        assert_eq!(c.restart_count, 0, "{name}: restarts");
    }
    // The notes' words, as a person reads the timeline (`podinit status`).
    let timeline: Vec<String> = st
        .timeline
        .iter()
        .map(|n| format!("{} {:?}", n.container.as_deref().unwrap_or("pod"), n.event))
        .collect();
    let pos = |needle: &str| {
        timeline
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the status timeline: {timeline:#?}"))
    };
    assert!(
        pos("app \"registered") < pos("sidecar \"registered"),
        "{timeline:#?}"
    );
    assert!(
        pos("sidecar \"started") < pos("app \"start gate released"),
        "{timeline:#?}"
    );
    assert!(
        pos("app \"exited with code 0") < pos("sidecar \"stop signal 15"),
        "{timeline:#?}"
    );

    // The pod spec reached the runtime intact through podman's CSV-parsed flag.
    let annotations = &p.inspect(&app)["Config"]["Annotations"];
    let got: Value = serde_json::from_str(
        annotations["io.podinit.pod-spec"]
            .as_str()
            .unwrap_or_else(|| panic!("no pod spec annotation: {annotations}")),
    )
    .unwrap();
    assert_eq!(got, spec);
    eprintln!("podman job pod: {:?}", t0.elapsed());
}

#[test]
fn plain_init_under_podman_init() {
    support::require!(NEEDS);
    let mut p = Podman::new("plain");
    let name = format!("{}-c", p.tag);
    p.containers.push(name.clone());
    let no_hooks = p.dir.join("no-hooks");
    fs::create_dir_all(&no_hooks).unwrap();
    let mut args: Vec<String> = vec![
        "--runtime".into(),
        "runc".into(),
        "--hooks-dir".into(),
        no_hooks.display().to_string(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        name,
        "--init".into(),
        "--init-path".into(),
        PODINIT.into(),
    ];
    args.extend(ulimit_args());
    args.extend([
        p.image.clone(),
        "sh".into(),
        "-c".into(),
        r#"tr "\0" " " < /proc/1/cmdline; echo; /run/podman-init --version; exit 7"#.into(),
    ]);
    let out = p.run_podman(&args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "exit code through podinit and podman: {}\n{stdout}{}",
        out.status,
        text(&out.stderr)
    );
    let mut lines = stdout.lines();
    let cmdline = lines.next().unwrap_or_default();
    assert!(
        cmdline.starts_with("/run/podman-init -- sh -c "),
        "PID 1's command line: {cmdline:?}"
    );
    let version = support::run(podinit().arg("--version"), PODMAN_TIMEOUT);
    assert_eq!(
        lines.next().unwrap_or_default(),
        text(&version.stdout).trim(),
        "/run/podman-init is not this podinit"
    );
}
