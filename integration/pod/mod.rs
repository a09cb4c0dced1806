//! End-to-end pod harness: real runc containers of one pod, created one after the other by a
//! serial agent (`agent.py`, the container inits' subreaper), with a `podinit supervise` next to
//! it, a shared network namespace, a shared `/shared` dir holding the timeline, and cleanup that
//! also runs when a test panics.
//!
//! ```ignore
//! use crate::pod::{self, Container, CreateOrder, PodTest};
//!
//! pod::both_orders!(sidecar_first); // the tests sidecar_first::case_1_spec, ::case_2_reverse
//! fn sidecar_first(order: CreateOrder) {
//!     let out = PodTest::new("sidecar-first")
//!         .spec(serde_json::json!({"restartPolicy": "Never",
//!             "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always"}],
//!             "containers": [{"name": "app", "image": "busybox"}]}))
//!         .add(Container::script("sidecar",
//!             "tlog started; trap 'tlog got TERM; exit 0' TERM; while :; do sleep 0.1; done"))
//!         .add(Container::script("app", "tlog started; exit 0"))
//!         .run(order);
//!     out.assert_order(&["sidecar started", "app started", "sidecar got TERM"]);
//!     assert_eq!(out.phase(), Some("Succeeded"), "{out}");
//! }
//! ```
//!
//! A test that is not one scenario in both orders opens with `pod::require!();` (it skips, or
//! fails under `PODINIT_REQUIRE_ALL=1`, without root, runc, ip, python3 or busybox-static).
//! `start(order)` instead of `run(order)` returns a `RunningPod` to act while the pod runs
//! (`wait_for(event)`, `podinit(&["stop"])`, `kill_supervisor()`, `mark(text)`, …), then
//! `finish()`. Timeline lines come from `log_line(text)` (a standalone fragment) or `tlog TEXT`
//! (a shell function `Container::script` defines; usable inside `trap '…'`).
//!
//! Per run: unique container ids (`<test>-<pid>-<n>-<container>`), a private `runc --root`, state
//! dir, control socket and netns `podinit-<test>-<pid>-<n>`, all under
//! `$TMPDIR/podinit-pt.<pid>/p<n>/`. The rootfs (host busybox + applet links, read-only) and the
//! `runc spec` template are built once per test process (`base.rs`).
//!
//! Each container's config is `runc spec`'s, edited as JSON: `terminal: false`, the args, env
//! `PATH` + `PODTEST_CONTAINER=<name>` (what `log_line` writes) + the given env, `root` = the
//! shared rootfs read-only, `/shared` bind-mounted rw, the network namespace entry given the pod's
//! netns path (loopback up), annotations `io.podinit.container-name` (+ `io.podinit.pod-spec`).
//! Then, unless the pod is `bare()`, `podinit inject BUNDLE` with `PODINIT_SOCKET` /
//! `PODINIT_STATE_DIR` set, and `podinit supervise` is started before the agent.
//!
//! Injection mode: `inject --id ID`, inject's default (issue 13: no hooks, the init claims its
//! registration, for a container with a pid namespace of its own, which every harness bundle
//! has; hooks otherwise), or `inject --hooks` / `inject --no-hooks --id ID` for every pod when
//! `PODTEST_INJECT=hooks` / `no-hooks`, for the pods a test builds inside `pod::hooks(|| ...)`
//! / `pod::no_hooks(|| ...)` (a thread-local: tests run on threads of their own), or for one
//! pod with `.inject_mode(Inject::Hooks)` and the like.
//!
//! Timeline timestamps come from busybox `adjtimex` (`time.tv_sec` / `time.tv_usec`, i.e.
//! CLOCK_REALTIME in microseconds, nanoseconds under `STA_NANO`: [`SH_NOW_US`]): reading it needs no capability (works as root and as uid 1000
//! under runc's default config, which has no seccomp profile; a profile that denies `adjtimex`
//! would break it). Set `PODTEST_KEEP=1` to keep each pod's directory for inspection, and
//! `PODTEST_DUMP=1` to print every outcome (timeline, status.json, logs), passing or not.

mod base;
mod outcome;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::skip::{Need, Root, program};
use crate::support::{eventually, proc};

pub use base::{BUSYBOX, build_rootfs, netns_exists, runc_list};
pub use outcome::{
    CleanupReport, PodOutcome, SupervisorExit, TimelineEntry, order_of, parse_timeline,
};
pub use proc::alive;

/// The podinit under test: `PODINIT_BIN` if set when the tests are built, as in
/// `support::PODINIT`.
pub const PODINIT: &str = match option_env!("PODINIT_BIN") {
    Some(path) => path,
    None => env!("CARGO_BIN_EXE_podinit"),
};
pub const AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/integration/pod/agent.py");
/// Where `ip netns add` puts the namespaces; the config's netns `path` points here.
pub const NETNS_DIR: &str = "/var/run/netns";
/// The timeline, as containers see it.
pub const TIMELINE: &str = "/shared/timeline.log";
/// Env var the harness sets to the container's name in every container (used by `log_line`).
pub const CONTAINER_ENV: &str = "PODTEST_CONTAINER";
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How `podinit inject` prepares the bundles (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    /// No flag: inject decides by the bundle's pid namespace.
    Default,
    Hooks,
    NoHooks,
}

thread_local! {
    static INJECT: std::cell::Cell<Option<Inject>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every pod it builds injected `--no-hooks` (a scenario reused as is).
#[allow(dead_code)] // not every test binary that includes the harness uses it
pub fn no_hooks<R>(f: impl FnOnce() -> R) -> R {
    with_inject(Inject::NoHooks, f)
}

/// Runs `f` with every pod it builds injected `--hooks`: the OCI hook channel, which the
/// default no longer takes for these bundles.
#[allow(dead_code)]
pub fn hooks<R>(f: impl FnOnce() -> R) -> R {
    with_inject(Inject::Hooks, f)
}

fn with_inject<R>(mode: Inject, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Inject>);
    impl Drop for Reset {
        fn drop(&mut self) {
            INJECT.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(INJECT.with(|c| c.replace(Some(mode))));
    f()
}

/// This thread's mode, else `PODTEST_INJECT` (`hooks`, `no-hooks`, `default`), else the default.
pub fn default_inject() -> Inject {
    INJECT
        .with(|c| c.get())
        .unwrap_or_else(|| match std::env::var("PODTEST_INJECT").as_deref() {
            Ok("no-hooks") => Inject::NoHooks,
            Ok("hooks") => Inject::Hooks,
            Ok("default") | Ok("") | Err(_) => Inject::Default,
            Ok(other) => panic!("PODTEST_INJECT={other}: expected default, hooks or no-hooks"),
        })
}

/// `ip netns add/del` are serialised: iproute2 sets up /run/netns racily on first use.
static NETNS_LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------------------------
// Skipping

/// What every pod test needs: root, runc, ip, python3 (the agent) and the host's busybox.
pub fn needs() -> [Need<'static>; 5] {
    [
        Root,
        program("runc", "runc"),
        program("ip", "iproute2"),
        program(python(), "python3"),
        program(BUSYBOX, "busybox-static"),
    ]
}

/// The interpreter for the agent: the system's python3 (stdlib only) when there is one — a
/// version manager's shim on PATH (pyenv) costs 100+ ms per start — else `python3` from PATH.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// `pod::require!();` at the top of a pod test: [`crate::support::require!`] with the pod tests'
/// [`needs`] (prints `SKIP <test>: <why>` and returns, or fails under `PODINIT_REQUIRE_ALL=1`).
macro_rules! require {
    () => {
        $crate::support::require!(&$crate::pod::needs())
    };
}
pub(crate) use require;

/// `pod::both_orders!(scenario);` above `fn scenario(order: CreateOrder)`: the tests
/// `scenario::case_1_spec` and `scenario::case_2_reverse` (the names an rstest table of the two
/// orders gives), each running the scenario in that creation order after [`require!`], so a
/// scenario states only its pod and what it asserts.
macro_rules! both_orders {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn case_1_spec() {
                $crate::pod::require!();
                super::$scenario($crate::pod::CreateOrder::Spec);
            }

            #[test]
            fn case_2_reverse() {
                $crate::pod::require!();
                super::$scenario($crate::pod::CreateOrder::Reverse);
            }
        }
    };
}
pub(crate) use both_orders;

// ---------------------------------------------------------------------------------------------
// Shell helpers for container scripts

/// Single-quotes `s` for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The timeline's clock in shell: CLOCK_REALTIME in µs, `<sec><usec:06>`, from busybox
/// `adjtimex`. Its `tv_usec` is in nanoseconds while the kernel's `STA_NANO` status bit (8192)
/// is set: a clock once stepped with `ADJ_NANO` (a VM restored from a snapshot) leaves it set
/// for every reader, and the timestamps then had three digits too many.
macro_rules! sh_now_us {
    () => {
        "$(adjtimex | awk '/status:/{s=$2} /tv_sec:/{t=$2} /tv_usec:/{u=$2} \
         END{if (int(s/8192)%2) u=int(u/1000); printf \"%d%06d\", t, u}')"
    };
}
pub const SH_NOW_US: &str = sh_now_us!();

/// A shell fragment appending `<sec><usec:06> <container> <text>` to the timeline with one
/// `echo` (one `write` on an `O_APPEND` file: lines of concurrent containers never interleave).
pub fn log_line(text: &str) -> String {
    format!(
        "echo \"{} ${CONTAINER_ENV} \"{} >>{TIMELINE}",
        SH_NOW_US,
        sh_quote(text)
    )
}

/// Shell function `tlog TEXT...`: appends like `log_line` (the words joined by spaces). For
/// traps, loops and text built at run time: `trap 'tlog got TERM; exit 0' TERM`, `tlog "try $i"`.
/// `Container::script` defines it.
pub const SH_TLOG: &str = concat!(
    "tlog() { echo \"",
    sh_now_us!(),
    " $PODTEST_CONTAINER $*\" >>/shared/timeline.log; }"
);

/// An exec probe that succeeds as soon as `file` exists (it waits inside the probe, up to 20 s):
/// the gate opens right after the container made the file, not at the next probe period.
pub fn waiting_probe(file: &str) -> Value {
    json!({
        "exec": {"command": ["sh", "-c", format!("until test -f {file}; do sleep 0.01; done")]},
        "timeoutSeconds": 20,
        "periodSeconds": 1,
        "failureThreshold": 100,
    })
}

/// Wall-clock microseconds since the epoch, the timeline's clock.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

// ---------------------------------------------------------------------------------------------
// Declaring a pod

/// The order the agent creates (and starts) the containers in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOrder {
    /// Declaration order.
    Spec,
    Reverse,
    /// A permutation drawn from this seed (deterministic).
    Random(u64),
    /// Exactly these containers in this order; containers not named are never created.
    Names(Vec<String>),
}

impl CreateOrder {
    /// The creation order of `declared`.
    pub fn apply(&self, declared: &[String]) -> Vec<String> {
        let mut v = declared.to_vec();
        match self {
            CreateOrder::Spec => {}
            CreateOrder::Reverse => v.reverse(),
            CreateOrder::Random(seed) => {
                let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for i in (1..v.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    v.swap(i, (x % (i as u64 + 1)) as usize);
                }
            }
            CreateOrder::Names(names) => {
                for n in names {
                    assert!(
                        declared.contains(n),
                        "CreateOrder::Names: no container {n:?}"
                    );
                }
                v = names.clone();
            }
        }
        v
    }
}

type Edit = Box<dyn Fn(&mut Value, &PodPaths)>;

/// Where one pod run lives on the host, for edits that refer to host paths (bind mounts of host
/// files, host hooks).
#[derive(Clone, Debug)]
pub struct PodPaths {
    /// The pod's directory.
    pub dir: PathBuf,
    /// `<dir>/host`: the files of `PodTest::host_file`; kept in `PodOutcome::host_files`.
    pub host: PathBuf,
}

impl PodPaths {
    /// The host path of `PodTest::host_file(name, ..)`.
    pub fn host_file(&self, name: &str) -> PathBuf {
        self.host.join(name)
    }
}

/// One container of a pod.
pub struct Container {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    user: Option<(u32, u32)>,
    edits: Vec<Edit>,
    create_delay: Duration,
}

impl Container {
    /// `name`: `[A-Za-z0-9_.-]+` (a Kubernetes name is): it is part of runc ids, file names
    /// and timeline lines.
    pub fn new(name: &str, args: &[&str]) -> Container {
        assert!(
            !name.is_empty() && sanitize(name, usize::MAX) == name,
            "container name {name:?}: use [A-Za-z0-9_.-]"
        );
        Container {
            name: name.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            annotations: Vec::new(),
            user: None,
            edits: Vec::new(),
            create_delay: Duration::ZERO,
        }
    }

    /// `/bin/sh -c SCRIPT`.
    pub fn sh(name: &str, script: &str) -> Container {
        Container::new(name, &["/bin/sh", "-c", script])
    }

    /// `/bin/sh -c` of `SH_TLOG` then `body`: `body` can use `tlog TEXT`.
    pub fn script(name: &str, body: &str) -> Container {
        Container::sh(name, &format!("{SH_TLOG}\n{body}"))
    }

    pub fn env(mut self, key: &str, value: &str) -> Container {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `process.user` (default: runc's, root).
    pub fn user(mut self, uid: u32, gid: u32) -> Container {
        self.user = Some((uid, gid));
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Container {
        self.annotations.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The agent waits this long before it creates this container (in its turn of the create
    /// order): "created after X happened" without racing.
    pub fn create_delay(mut self, d: Duration) -> Container {
        self.create_delay = d;
        self
    }

    /// Any other change to `config.json`, applied last (before `podinit inject`).
    pub fn edit(mut self, f: impl Fn(&mut Value) + 'static) -> Container {
        self.edits.push(Box::new(move |cfg, _| f(cfg)));
        self
    }

    /// `linux.resources.memory.limit` in bytes: what a kubelet puts in the bundle for
    /// `resources.limits.memory` (runc sets the container cgroup's `memory.max` /
    /// `memory.limit_in_bytes`).
    pub fn memory_limit(self, bytes: u64) -> Container {
        self.edit(move |cfg| {
            cfg["linux"]["resources"]["memory"] = json!({ "limit": bytes });
        })
    }

    /// `edit` with the pod's host paths (e.g. a hook whose path is a `PodTest::host_file`).
    pub fn edit_in_pod(mut self, f: impl Fn(&mut Value, &PodPaths) + 'static) -> Container {
        self.edits.push(Box::new(f));
        self
    }

    /// Bind-mounts the pod's host file `host_name` (see `PodTest::host_file`) at `dest`. The
    /// rootfs is read-only and shared: `dest` must already exist in it (`base.rs` makes the
    /// mount points, e.g. `/etc/filebeat.yml`).
    pub fn bind_host_file(self, host_name: &str, dest: &str, readonly: bool) -> Container {
        let host_name = host_name.to_owned();
        let dest = dest.to_owned();
        self.edit_in_pod(move |cfg, paths| {
            let mut options = vec!["bind"];
            if readonly {
                options.push("ro");
            }
            cfg["mounts"].as_array_mut().expect("mounts").push(json!({
                "destination": dest,
                "type": "bind",
                "source": paths.host_file(&host_name),
                "options": options,
            }));
        })
    }
}

/// `PodTest::after_inject`'s callback.
type AfterInject = std::rc::Rc<dyn Fn(&str, &Path)>;

/// A pod to run; `run`/`start` can be called several times (each run is a fresh pod).
pub struct PodTest {
    name: String,
    containers: Vec<Container>,
    spec: Option<Value>,
    pod_annotations: Vec<(String, String)>,
    bare: bool,
    timeout: Duration,
    cmd_timeout: Duration,
    supervisor_timeout: Duration,
    supervisor_args: Vec<String>,
    host_files: Vec<(String, Vec<u8>, u32)>,
    create_retries: u32,
    /// Joins this supervisor instead of starting its own (`on`).
    shared: Option<SharedPaths>,
    inject: Inject,
    /// Called with each container's name and bundle after `podinit inject`, before the agent.
    after_inject: Option<AfterInject>,
}

impl PodTest {
    pub fn new(name: &str) -> PodTest {
        PodTest {
            name: name.to_owned(),
            containers: Vec::new(),
            spec: None,
            pod_annotations: Vec::new(),
            bare: false,
            timeout: Duration::from_secs(60),
            cmd_timeout: Duration::from_secs(20),
            supervisor_timeout: Duration::from_secs(30),
            supervisor_args: Vec::new(),
            host_files: Vec::new(),
            create_retries: 0,
            shared: None,
            inject: default_inject(),
            after_inject: None,
        }
    }

    pub fn inject_mode(mut self, mode: Inject) -> PodTest {
        self.inject = mode;
        self
    }

    pub fn inject(&self) -> Inject {
        self.inject
    }

    /// `f(name, bundle)` for each container once it is injected, before anything is created.
    pub fn after_inject(mut self, f: impl Fn(&str, &Path) + 'static) -> PodTest {
        self.after_inject = Some(std::rc::Rc::new(f));
        self
    }

    /// Runs on `supervisor` (shared with other pods) instead of a supervisor of its own. The
    /// outcome's `status_json` is this pod's `<state>/pods/<key>/status.json`, found by its
    /// container ids; `supervisor_exit` is `NotStarted` (the supervisor outlives the pod).
    pub fn on(mut self, supervisor: &SharedSupervisor) -> PodTest {
        self.shared = Some(supervisor.paths());
        self
    }

    /// Adds a container running `args` with `env` (besides PATH and `PODTEST_CONTAINER`).
    pub fn container(self, name: &str, args: &[&str], env: &[(&str, &str)]) -> PodTest {
        let c = env
            .iter()
            .fold(Container::new(name, args), |c, (k, v)| c.env(k, v));
        self.add(c)
    }

    pub fn add(mut self, c: Container) -> PodTest {
        assert!(
            self.containers.iter().all(|o| o.name != c.name),
            "container {:?} declared twice",
            c.name
        );
        self.containers.push(c);
        self
    }

    /// The pod spec, annotated as `io.podinit.pod-spec` on every container.
    pub fn spec(mut self, spec: Value) -> PodTest {
        self.spec = Some(spec);
        self
    }

    /// An annotation on every container of the pod.
    pub fn pod_annotation(mut self, key: &str, value: &str) -> PodTest {
        self.pod_annotations
            .push((key.to_owned(), value.to_owned()));
        self
    }

    /// No `podinit inject`, no supervisor: plain runc containers (harness self-test, baselines).
    pub fn bare(mut self) -> PodTest {
        self.bare = true;
        self
    }

    /// The agent's overall timeout for the containers to exit (default 60 s); then it SIGKILLs
    /// them and reports `timeout`.
    pub fn timeout(mut self, d: Duration) -> PodTest {
        self.timeout = d;
        self
    }

    /// The agent's timeout per runtime command (default 20 s).
    pub fn cmd_timeout(mut self, d: Duration) -> PodTest {
        self.cmd_timeout = d;
        self
    }

    /// How long to wait for the supervisor to exit once the agent is done (default 30 s).
    pub fn supervisor_timeout(mut self, d: Duration) -> PodTest {
        self.supervisor_timeout = d;
        self
    }

    /// Extra arguments for `podinit supervise` (e.g. `-vv`, `--settle-ms 300`).
    pub fn supervisor_args(mut self, args: &[&str]) -> PodTest {
        self.supervisor_args
            .extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// A file written to `<pod dir>/host/<name>` (mode `mode`) before the bundles are built:
    /// host scripts for hooks, files to bind-mount (`Container::bind_host_file`). After the run,
    /// everything in that dir is in `PodOutcome::host_files`.
    pub fn host_file(mut self, name: &str, content: &[u8], mode: u32) -> PodTest {
        assert!(
            !name.is_empty() && sanitize(name, usize::MAX) == name,
            "host file name {name:?}: use [A-Za-z0-9_.-]"
        );
        self.host_files
            .push((name.to_owned(), content.to_vec(), mode));
        self
    }

    /// The agent retries a failed `runc create` this many times (200 ms apart, after a
    /// `runc delete -f`), as a kubelet does; the retried failures are in
    /// `PodOutcome::create_retried`. Default 0: a failed create is the outcome.
    pub fn create_retries(mut self, n: u32) -> PodTest {
        self.create_retries = n;
        self
    }

    /// Runs the pod to the end: `start(order).finish()`.
    pub fn run(&self, order: CreateOrder) -> PodOutcome {
        self.start(order).finish()
    }

    /// Sets the pod up and starts the supervisor and the agent; returns while the agent runs.
    /// Panics (after cleaning up) if the setup fails.
    pub fn start(&self, order: CreateOrder) -> RunningPod {
        assert!(
            !self.containers.is_empty(),
            "pod {:?} has no container",
            self.name
        );
        let base = base::base();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = sanitize(&self.name, 24);
        let pod = format!("{tag}-{}-{n}", std::process::id());
        let dir = base.dir.join(format!("p{n}"));
        let _ = fs::remove_dir_all(&dir);
        mkdir(&dir, 0o755);
        let netns = format!("podinit-{pod}");
        write(&dir.join(base::NETNS_FILE), netns.as_bytes()); // for sweeping, before creating it

        let (state, socket) = match &self.shared {
            Some(sh) => (sh.state.clone(), sh.socket.clone()),
            None => (dir.join("state"), dir.join("ctl.sock")),
        };
        // sun_path is 108 bytes; the supervisor's per-container sockets go below the state dir.
        let longest = state.join("sock/init.sock");
        assert!(
            longest.as_os_str().len() < 100,
            "{} is too long for a unix socket: set TMPDIR to a shorter directory",
            longest.display()
        );
        let mut env = PodEnv {
            pod: pod.clone(),
            shared: dir.join("shared"),
            state,
            socket,
            on_shared: self.shared.is_some(),
            runc_root: dir.join(base::RUNC_ROOT),
            dir,
            netns,
            ids: BTreeMap::new(),
            agent: None,
            supervisor: None,
            supervisor_args: self.supervisor_args.clone(),
            report: None,
        };
        // From here on, a panic drops `env`, which cleans up.
        mkdir(&env.shared, 0o777);
        write(&env.shared.join("timeline.log"), b"");
        chmod(&env.shared.join("timeline.log"), 0o666);
        mkdir(&env.state, 0o755);
        mkdir(&env.dir.join("pids"), 0o755);
        mkdir(&env.host_dir(), 0o755);
        for (name, content, mode) in &self.host_files {
            let path = env.host_dir().join(name);
            write(&path, content);
            chmod(&path, *mode);
        }
        env.netns_add();

        let declared: Vec<String> = self.containers.iter().map(|c| c.name.clone()).collect();
        let order = order.apply(&declared);
        for c in &self.containers {
            let id = format!("{pod}-{}", c.name);
            let bundle = env.dir.join("bundles").join(&c.name);
            mkdir(&bundle, 0o755);
            let config = self.config(c, &env, &base.template, &base.rootfs, &tag);
            write(
                &bundle.join("config.json"),
                &serde_json::to_vec_pretty(&config).unwrap(),
            );
            if !self.bare {
                let mut inject = env.podinit();
                inject.arg("inject");
                match self.inject {
                    Inject::Hooks => inject.arg("--hooks"),
                    Inject::NoHooks => inject.args(["--no-hooks", "--id", &id]),
                    Inject::Default => inject.args(["--id", &id]),
                };
                let out = proc::run(inject.arg(&bundle), Duration::from_secs(20))
                    .unwrap_or_else(|e| panic!("podinit inject: {e}"));
                assert!(
                    out.status.success(),
                    "podinit inject {}: {}\n{}{}",
                    bundle.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                // The default claims exactly where the container has a pid namespace of its own.
                let own_pid_ns = config["linux"]["namespaces"].as_array().is_some_and(|ns| {
                    ns.iter()
                        .any(|n| n["type"] == "pid" && n.get("path").is_none())
                });
                let claim = match self.inject {
                    Inject::Hooks => false,
                    Inject::NoHooks => true,
                    Inject::Default => own_pid_ns,
                };
                let text = fs::read_to_string(bundle.join("config.json")).unwrap();
                assert_eq!(
                    (text.contains("\"hook\""), text.contains("/.podinit/claim")),
                    (!claim, claim),
                    "inject {:?}: (podinit hooks, claim mount) in {text}",
                    self.inject
                );
                let said = String::from_utf8_lossy(&out.stdout);
                assert!(
                    said.contains(if claim { "no hooks" } else { "OCI hooks" }),
                    "inject {:?} says which registration the bundle got: {said}",
                    self.inject
                );
                if let Some(f) = &self.after_inject {
                    f(&c.name, &bundle);
                }
            }
            env.ids.insert(c.name.clone(), id);
        }

        let mut notes = Vec::new();
        if self.shared.is_some() {
            if !env.socket.exists() {
                notes.push(format!(
                    "the shared supervisor's socket {} does not exist",
                    env.socket.display()
                ));
            }
        } else if !self.bare {
            env.spawn_supervisor();
            // Ready once its control socket exists (or it died).
            let up = eventually(Duration::from_secs(5), || {
                env.socket.exists()
                    || env
                        .supervisor
                        .as_mut()
                        .is_none_or(|s| s.try_wait().ok().flatten().is_some())
            });
            if !up || !env.socket.exists() {
                notes.push(format!(
                    "supervisor's socket {} did not appear before the agent started",
                    env.socket.display()
                ));
            }
        }

        let delays: BTreeMap<&str, f64> = self
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c.create_delay.as_secs_f64()))
            .collect();
        let plan = json!({
            "runtime": ["runc"],
            "root": env.runc_root,
            "timeout": self.timeout.as_secs_f64(),
            "cmd_timeout": self.cmd_timeout.as_secs_f64(),
            "create_retries": self.create_retries,
            "containers": order.iter().map(|name| {
                json!({
                    "name": name,
                    "id": env.ids[name],
                    "bundle": env.dir.join("bundles").join(name),
                    "pid_file": env.dir.join("pids").join(format!("{name}.pid")),
                    "stdout": env.shared.join(format!("{name}.out")),
                    "stderr": env.shared.join(format!("{name}.err")),
                    "delay_s": delays[name.as_str()],
                })
            }).collect::<Vec<_>>(),
        });
        let plan_path = env.dir.join("plan.json");
        write(&plan_path, &serde_json::to_vec_pretty(&plan).unwrap());
        let t0_us = now_us();
        let started = Instant::now();
        let agent = Command::new(python())
            .arg(AGENT)
            .arg(&plan_path)
            .stdin(Stdio::null())
            .stdout(create(&env.dir.join("agent.out")))
            .stderr(create(&env.dir.join("agent.err")))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {AGENT}: {e}", python()));
        env.agent = Some(agent);
        // The agent enforces its own timeouts; this only catches an agent that hangs itself.
        let n = order.len() as u32;
        let delays: Duration = self.containers.iter().map(|c| c.create_delay).sum();
        let agent_deadline = self.timeout
            + self.cmd_timeout * (3 * n + 2 + 2 * n * self.create_retries)
            + delays
            + Duration::from_secs(10);
        RunningPod {
            env,
            declared,
            t0_us,
            started,
            agent_deadline,
            supervisor_timeout: self.supervisor_timeout,
            supervisor_exit: SupervisorExit::NotStarted,
            notes,
        }
    }

    fn config(
        &self,
        c: &Container,
        env: &PodEnv,
        template: &Value,
        rootfs: &Path,
        hostname: &str,
    ) -> Value {
        let mut cfg = template.clone();
        let p = &mut cfg["process"];
        p["terminal"] = json!(false);
        p["args"] = json!(c.args);
        p["cwd"] = json!("/");
        let mut vars = vec![PATH.to_owned(), format!("{CONTAINER_ENV}={}", c.name)];
        vars.extend(c.env.iter().map(|(k, v)| format!("{k}={v}")));
        p["env"] = json!(vars);
        if let Some((uid, gid)) = c.user {
            p["user"] = json!({"uid": uid, "gid": gid});
        }
        cfg["root"] = json!({"path": rootfs, "readonly": true});
        cfg["hostname"] = json!(hostname);
        if !cfg["mounts"].is_array() {
            cfg["mounts"] = json!([]);
        }
        cfg["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/shared",
            "type": "bind",
            "source": env.shared,
            "options": ["rbind", "rw"],
        }));
        let netns_path = format!("{NETNS_DIR}/{}", env.netns);
        let namespaces = cfg["linux"]["namespaces"]
            .as_array_mut()
            .expect("runc spec: linux.namespaces");
        match namespaces.iter_mut().find(|ns| ns["type"] == "network") {
            Some(ns) => ns["path"] = json!(netns_path),
            None => namespaces.push(json!({"type": "network", "path": netns_path})),
        }
        if !cfg["annotations"].is_object() {
            cfg["annotations"] = json!({});
        }
        let a = cfg["annotations"].as_object_mut().unwrap();
        a.insert("io.podinit.container-name".into(), json!(c.name));
        if let Some(spec) = &self.spec {
            a.insert("io.podinit.pod-spec".into(), json!(spec.to_string()));
        }
        for (k, v) in self.pod_annotations.iter().chain(&c.annotations) {
            a.insert(k.clone(), json!(v));
        }
        let paths = env.paths();
        for edit in &c.edits {
            edit(&mut cfg, &paths);
        }
        cfg
    }
}

// ---------------------------------------------------------------------------------------------
// A running pod

/// A pod whose agent is running. Dropping it (also on panic) kills the agent, force-deletes the
/// containers, kills the supervisor, deletes the netns and removes the pod's directory.
pub struct RunningPod {
    env: PodEnv,
    declared: Vec<String>,
    t0_us: u64,
    started: Instant,
    agent_deadline: Duration,
    supervisor_timeout: Duration,
    supervisor_exit: SupervisorExit,
    notes: Vec<String>,
}

impl RunningPod {
    /// The runc id of container `name`.
    pub fn id(&self, name: &str) -> &str {
        &self.env.ids[name]
    }

    /// The container's init pid, once `runc create` wrote it.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let file = self.env.dir.join("pids").join(format!("{name}.pid"));
        fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    pub fn shared_dir(&self) -> &Path {
        &self.env.shared
    }

    pub fn state_dir(&self) -> &Path {
        &self.env.state
    }

    /// The pod's host paths.
    pub fn paths(&self) -> PodPaths {
        self.env.paths()
    }

    pub fn runc_root(&self) -> &Path {
        &self.env.runc_root
    }

    pub fn netns(&self) -> &str {
        &self.env.netns
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        let text = fs::read_to_string(self.env.shared.join("timeline.log")).unwrap_or_default();
        parse_timeline(&text).0
    }

    /// Waits until the timeline has `event` (see `TimelineEntry::matches`).
    pub fn wait_for(&self, event: &str, timeout: Duration) -> bool {
        eventually(timeout, || self.timeline().iter().any(|e| e.matches(event)))
    }

    /// Appends `<now> harness <text>` to the timeline (e.g. "stop requested").
    pub fn mark(&self, text: &str) {
        let line = format!("{} harness {text}\n", now_us());
        OpenOptions::new()
            .append(true)
            .open(self.env.shared.join("timeline.log"))
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("append to timeline");
    }

    /// Runs `podinit ARGS` with this pod's `PODINIT_SOCKET` / `PODINIT_STATE_DIR` (e.g.
    /// `["status", "--json"]`, `["stop", "--grace", "5"]`); panics if it hangs for 30 s.
    pub fn podinit(&self, args: &[&str]) -> Output {
        proc::run(self.env.podinit().args(args), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `runc --root R ARGS`; panics if it hangs for 30 s.
    pub fn runc(&self, args: &[&str]) -> Output {
        proc::run(self.env.runc().args(args), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The pod's status.json as it is now (`<state-dir>/status.json`, or on a shared
    /// supervisor the pod's own under `<state-dir>/pods/`).
    pub fn status(&self) -> Option<Value> {
        self.env.pod_status()
    }

    /// SIGKILLs the supervisor (robustness tests); `restart_supervisor` starts a new one.
    /// Without a restart, the outcome's `supervisor_exit` is how this one ended. True when the
    /// SIGKILL ended it; false when it had ended on its own before (or there was none).
    pub fn kill_supervisor(&mut self) -> bool {
        let Some(mut s) = self.env.supervisor.take() else {
            return false;
        };
        let Some(st) = proc::kill_wait(&mut s) else {
            return false;
        };
        self.supervisor_exit = exit_of(st);
        self.supervisor_exit == SupervisorExit::Signaled(libc::SIGKILL)
    }

    /// Starts a new `podinit supervise` with the same socket and state dir (its output is
    /// appended to `_supervisor.out/.err` in the shared dir).
    pub fn restart_supervisor(&mut self) {
        self.kill_supervisor();
        self.env.spawn_supervisor();
    }

    /// Waits for the agent and then the supervisor, collects everything and cleans up.
    pub fn finish(mut self) -> PodOutcome {
        let mut notes = std::mem::take(&mut self.notes);
        if let Some(mut agent) = self.env.agent.take() {
            let left = self.agent_deadline.saturating_sub(self.started.elapsed());
            match proc::wait_timeout(&mut agent, left) {
                Some(s) if s.success() => {}
                Some(s) => notes.push(format!("agent exited with {s}")),
                None => {
                    proc::kill_wait(&mut agent);
                    notes.push(format!(
                        "agent still running after {:?}: killed",
                        self.agent_deadline
                    ));
                }
            }
        }
        let agent_out = fs::read_to_string(self.env.dir.join("agent.out")).unwrap_or_default();
        let report: Value = match serde_json::from_str(agent_out.trim()) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("agent output is not JSON ({e}): {agent_out:?}"));
                Value::Null
            }
        };
        let containers_after_agent = match runc_list(&self.env.runc_root) {
            Ok(l) => l,
            Err(e) => {
                notes.push(e);
                Vec::new()
            }
        };

        let any_created = report["pids"].as_object().is_some_and(|o| !o.is_empty());
        if self.env.on_shared && any_created {
            // The supervisor outlives the pod: wait for it to finish the pod instead.
            let done = eventually(self.supervisor_timeout, || {
                self.env
                    .pod_status()
                    .is_some_and(|s| s["finished"] == Value::Bool(true))
            });
            if !done {
                notes.push(format!(
                    "the shared supervisor did not finish the pod {:?} after the agent was done",
                    self.supervisor_timeout
                ));
            }
        }
        let supervisor_exit = match self.env.supervisor.take() {
            None => self.supervisor_exit,
            Some(mut s) => match proc::wait_timeout(&mut s, self.supervisor_timeout) {
                Some(st) => exit_of(st),
                None => {
                    proc::kill_wait(&mut s);
                    notes.push(format!(
                        "supervisor still running {:?} after the agent finished: killed",
                        self.supervisor_timeout
                    ));
                    SupervisorExit::KilledAfterTimeout
                }
            },
        };
        let elapsed = self.started.elapsed();
        let status_json = self.env.pod_status();
        let status_path = self.env.state.join("status.json");
        if status_json.is_none() && status_path.exists() && !self.env.on_shared {
            notes.push(format!("{} is not JSON", status_path.display()));
        }
        let text = fs::read_to_string(self.env.shared.join("timeline.log")).unwrap_or_default();
        let (timeline, bad) = parse_timeline(&text);
        notes.extend(
            bad.into_iter()
                .map(|l| format!("unparsable timeline line: {l:?}")),
        );

        let mut logs = BTreeMap::new();
        if let Ok(entries) = fs::read_dir(&self.env.shared) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".out") || name.ends_with(".err") {
                    logs.insert(name, fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        let mut host_files = BTreeMap::new();
        if let Ok(entries) = fs::read_dir(self.env.host_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                host_files.insert(name, fs::read(e.path()).unwrap_or_default());
            }
        }
        let agent_err = fs::read_to_string(self.env.dir.join("agent.err")).unwrap_or_default();
        logs.insert("_agent.err".to_owned(), agent_err);

        let mut exit_codes = BTreeMap::new();
        let mut unfinished = BTreeMap::new();
        if let Some(codes) = report["exit_codes"].as_object() {
            for (name, v) in codes {
                match v.as_i64() {
                    Some(c) => {
                        exit_codes.insert(name.clone(), c as i32);
                    }
                    None => {
                        let why = v.as_str().unwrap_or("?").to_owned();
                        unfinished.insert(name.clone(), why);
                    }
                }
            }
        }
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let pids = report["pids"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_u64()? as u32)))
                    .collect()
            })
            .unwrap_or_default();
        let timings = report["timings"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let m = v
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), m)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for name in &self.declared {
            if !exit_codes.contains_key(name) && !unfinished.contains_key(name) {
                unfinished.insert(name.clone(), "not created".to_owned());
            }
        }

        let mut cleanup = self.env.cleanup();
        cleanup.containers_after_agent = containers_after_agent;
        let outcome = PodOutcome {
            pod: self.env.pod.clone(),
            ids: self.env.ids.clone(),
            exit_codes,
            unfinished,
            create_order: strings(&report["create_order"]),
            agent_errors: strings(&report["errors"]),
            create_retried: strings(&report["retried"]),
            pids,
            timings,
            timeline,
            status_json,
            supervisor_exit,
            t0_us: self.t0_us,
            elapsed,
            logs,
            host_files,
            notes,
            cleanup,
            netns: self.env.netns.clone(),
            runc_root: self.env.runc_root.clone(),
        };
        if std::env::var_os("PODTEST_DUMP").is_some_and(|v| v == "1") {
            eprintln!("PODTEST_DUMP=1:\n{outcome}");
        }
        outcome
    }
}

// ---------------------------------------------------------------------------------------------
// The cleanup guard

struct PodEnv {
    pod: String,
    dir: PathBuf,
    shared: PathBuf,
    state: PathBuf,
    socket: PathBuf,
    /// `state` and `socket` belong to a `SharedSupervisor`.
    on_shared: bool,
    runc_root: PathBuf,
    netns: String,
    /// Container name → runc id.
    ids: BTreeMap<String, String>,
    agent: Option<Child>,
    supervisor: Option<Child>,
    supervisor_args: Vec<String>,
    /// Set once cleaned.
    report: Option<CleanupReport>,
}

impl PodEnv {
    fn runc(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&self.runc_root);
        c
    }

    fn host_dir(&self) -> PathBuf {
        self.dir.join("host")
    }

    fn paths(&self) -> PodPaths {
        PodPaths {
            dir: self.dir.clone(),
            host: self.host_dir(),
        }
    }

    /// `podinit` with this pod's socket and state dir, and no other `PODINIT_*` from our env.
    fn podinit(&self) -> Command {
        podinit_cmd(&self.socket, &self.state)
    }

    /// This pod's status document: the state dir's status.json, or on a shared supervisor the
    /// one under `pods/` whose containers are this pod's (container ids are unique per run).
    fn pod_status(&self) -> Option<Value> {
        if !self.on_shared {
            return read_json(&self.state.join("status.json"));
        }
        let ids: Vec<&String> = self.ids.values().collect();
        fs::read_dir(self.state.join("pods"))
            .ok()?
            .flatten()
            .filter_map(|e| read_json(&e.path().join("status.json")))
            .find(|doc| {
                doc["containers"].as_array().is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c["id"]
                            .as_str()
                            .is_some_and(|id| ids.iter().any(|i| *i == id))
                    })
                })
            })
    }

    fn spawn_supervisor(&mut self) {
        let append = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.shared.join(name))
                .unwrap_or_else(|e| panic!("open {name}: {e}"))
        };
        let mut cmd = self.podinit();
        // One pod per supervisor: `finish` waits for the supervisor to exit with it.
        cmd.args(["supervise", "--exit-with-pod"])
            .args(&self.supervisor_args)
            .stdin(Stdio::null())
            .stdout(append("_supervisor.out"))
            .stderr(append("_supervisor.err"));
        self.supervisor = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("spawn podinit supervise: {e}")),
        );
    }

    fn netns_add(&self) {
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let t = Duration::from_secs(20);
        proc::run_ok(Command::new("ip").args(["netns", "add", &self.netns]), t)
            .unwrap_or_else(|e| panic!("{e}"));
        proc::run_ok(
            Command::new("ip").args(["-n", &self.netns, "link", "set", "lo", "up"]),
            t,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Idempotent; the first call does the work.
    fn cleanup(&mut self) -> CleanupReport {
        if let Some(r) = &self.report {
            return r.clone();
        }
        let mut rep = CleanupReport::default();
        if let Some(mut agent) = self.agent.take() {
            proc::kill_wait(&mut agent);
        }
        let t = Duration::from_secs(20);
        let listed = runc_list(&self.runc_root).unwrap_or_else(|e| {
            rep.errors.push(e);
            self.ids.values().cloned().collect()
        });
        for id in self.ids.values().filter(|id| listed.contains(id)) {
            let _ = proc::run(self.runc().args(["kill", "-a", id, "KILL"]), t);
            if let Err(e) = proc::run_ok(self.runc().args(["delete", "-f", id]), t) {
                rep.errors.push(e);
            }
        }
        match runc_list(&self.runc_root) {
            Ok(left) => rep.containers_left = left,
            Err(e) => rep.errors.push(e),
        }
        if let Some(mut s) = self.supervisor.take() {
            proc::kill_wait(&mut s);
        }
        if let Err(e) = base::netns_del(&self.netns) {
            rep.errors.push(e);
        }
        rep.netns_left = netns_exists(&self.netns);
        if std::env::var_os("PODTEST_KEEP").is_some_and(|v| v == "1") {
            eprintln!(
                "PODTEST_KEEP=1: pod {} kept in {}",
                self.pod,
                self.dir.display()
            );
        } else if rep.containers_left.is_empty() {
            // Never remove the runc root of containers runc still knows: sweep gets them later.
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                rep.errors
                    .push(format!("rm -r {}: {e}", self.dir.display()));
            }
        }
        self.report = Some(rep.clone());
        rep
    }
}

impl Drop for PodEnv {
    fn drop(&mut self) {
        if self.report.is_none() {
            let rep = self.cleanup();
            if !rep.is_clean() {
                eprintln!("pod {}: cleanup incomplete: {rep:?}", self.pod);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A supervisor shared by several pods

#[derive(Clone, Debug)]
struct SharedPaths {
    socket: PathBuf,
    state: PathBuf,
}

/// One long-running `podinit supervise` (no `--exit-with-pod`) that pods join with
/// `PodTest::on`: one supervisor serving many pods, at once or one after another. Dropping it
/// kills the supervisor and removes its directory (kept with `PODTEST_KEEP=1`).
pub struct SharedSupervisor {
    dir: PathBuf,
    child: Option<Child>,
}

impl SharedSupervisor {
    pub fn start(name: &str) -> SharedSupervisor {
        Self::start_with(name, |_| {})
    }

    /// `start`, with `prepare(state_dir)` run on the (empty, existing) state dir before the
    /// supervisor starts: e.g. mount a small tmpfs there.
    pub fn start_with(name: &str, prepare: impl FnOnce(&Path)) -> SharedSupervisor {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base::base()
            .dir
            .join(format!("s{n}-{}", sanitize(name, 16)));
        let _ = fs::remove_dir_all(&dir);
        mkdir(&dir, 0o755);
        let s = SharedSupervisor { dir, child: None };
        let state = s.state_dir();
        mkdir(&state, 0o755);
        prepare(&state);
        let mut s = s;
        s.spawn();
        s
    }

    /// The supervisor's directory (its socket, log and state dir are in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `podinit supervise` on this socket and state dir as a plain command (not tracked: for a
    /// start that is expected to fail).
    pub fn supervise_cmd(&self) -> Command {
        let p = self.paths();
        let mut c = podinit_cmd(&p.socket, &p.state);
        c.args(["supervise", "-vv"]);
        c
    }

    fn paths(&self) -> SharedPaths {
        SharedPaths {
            socket: self.dir.join("ctl.sock"),
            state: self.dir.join("state"),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.paths().state
    }

    fn spawn(&mut self) {
        let p = self.paths();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("supervisor.log"))
            .unwrap_or_else(|e| panic!("open supervisor.log: {e}"));
        let child = podinit_cmd(&p.socket, &p.state)
            .args(["supervise", "-vv"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn podinit supervise: {e}"));
        self.child = Some(child);
        let init_sock = p.state.join("sock/init.sock");
        // A restarted supervisor replaces the old sockets; wait for the new ones.
        let up = eventually(Duration::from_secs(10), || {
            init_sock.exists() && std::os::unix::net::UnixStream::connect(&p.socket).is_ok()
        });
        assert!(
            up,
            "the shared supervisor did not come up
{}",
            self.log()
        );
    }

    /// SIGKILL (robustness tests); `restart` starts a new one on the same state dir.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            proc::kill_wait(&mut c);
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGTERM, then how it ended within `timeout` (`None`: still running; then SIGKILLed).
    pub fn terminate(&mut self, timeout: Duration) -> Option<SupervisorExit> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        match proc::wait_timeout(&mut c, timeout) {
            Some(st) => Some(exit_of(st)),
            None => {
                proc::kill_wait(&mut c);
                None
            }
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// `podinit ARGS` with this supervisor's socket and state dir.
    pub fn podinit(&self, args: &[&str]) -> Output {
        let p = self.paths();
        proc::run(
            podinit_cmd(&p.socket, &p.state).args(args),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("supervisor.log")).unwrap_or_default()
    }

    /// The pod directories under `<state>/pods/` and `<state>/archive/`, by name.
    pub fn pod_dirs(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.paths().state.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for SharedSupervisor {
    fn drop(&mut self) {
        self.kill();
        if std::env::var_os("PODTEST_KEEP").is_some_and(|v| v == "1") {
            eprintln!("PODTEST_KEEP=1: supervisor kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `podinit` with this socket and state dir, and no other `PODINIT_*` from our env.
fn podinit_cmd(socket: &Path, state: &Path) -> Command {
    let mut c = Command::new(PODINIT);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PODINIT_") {
            c.env_remove(k);
        }
    }
    c.env("PODINIT_SOCKET", socket)
        .env("PODINIT_STATE_DIR", state);
    c
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// `[A-Za-z0-9_.-]`, others replaced by `-`, at most `max` chars (runc ids, file names).
fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

fn exit_of(st: std::process::ExitStatus) -> SupervisorExit {
    match st.code() {
        Some(c) => SupervisorExit::Exited(c),
        None => SupervisorExit::Signaled(st.signal().unwrap_or(0)),
    }
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn mkdir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    chmod(path, mode);
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn create(path: &Path) -> File {
    File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
}
