//! `inject --no-hooks` against hostile containers (issue 13, the identity checks of issue 15
//! for claims; `src/claim.rs`): real runc pods, bundles injected `--no-hooks`, the token files
//! read and tampered with on the host between `inject` and the agent's first create, as a
//! token that leaked would be. A refused container's init exits 1 without starting its app
//! (the default `PODINIT_ON_UNREACHABLE=run` notwithstanding: a refusal is not an unreachable
//! supervisor).

use crate::pod;
use crate::support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use rstest::rstest;

use pod::{Container, CreateOrder, Inject, PodOutcome, PodTest};

/// The claim directory `inject --no-hooks` made in `bundle`, and its token file's text.
fn token_file(bundle: &Path) -> (PathBuf, String) {
    let dir = std::fs::read_dir(bundle)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("podinit-claim-"))
        })
        .unwrap_or_else(|| panic!("no claim directory in {}", bundle.display()));
    let file = dir.join("token");
    let text = std::fs::read_to_string(&file).unwrap();
    (file, text)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pod of plain apps (no pod spec: whatever registers is the pod, `restartPolicy: Never`
/// each), injected `--no-hooks`.
fn pod(name: &str) -> PodTest {
    PodTest::new(name)
        .inject_mode(Inject::NoHooks)
        .supervisor_args(&["-vv"])
        .timeout(Duration::from_secs(25))
        .cmd_timeout(Duration::from_secs(10))
        .supervisor_timeout(Duration::from_secs(10))
}

fn app(name: &str, script: &str) -> Container {
    Container::script(name, script).annotation("io.podinit.restart-policy", "Never")
}

fn supervisor_log(out: &PodOutcome) -> String {
    out.logs
        .iter()
        .filter(|(k, _)| k.starts_with("_supervisor"))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn names_in_status(out: &PodOutcome) -> Vec<String> {
    out.status_json
        .as_ref()
        .and_then(|s| s["containers"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

/// `who` registered by its init's claim, the pod's status names `names`, and the Job succeeded.
fn assert_claimed_and_succeeded(out: &PodOutcome, who: &str, names: &[&str]) {
    let log = supervisor_log(out);
    assert!(
        log.contains(&format!("container {who} (")) && log.contains("claimed by its init"),
        "{who} claimed its registration\n{out}"
    );
    assert_eq!(names_in_status(out), names, "{out}");
    assert_eq!(out.phase(), Some("Succeeded"), "{out}");
}

/// The app looks everywhere it could find its container's token: the claim directory, its
/// environment, its init's environment, command line and memory, its own mount table. None of
/// it may hold the token, and the claim directory must be there, empty and not writable (the
/// supervisor removed it on the host once claimed).
#[rstest]
#[case::root(None)]
#[case::non_root(Some(1000))]
fn the_app_cannot_read_the_token(#[case] user: Option<u32>) {
    pod::require!();
    let tokens: Rc<RefCell<BTreeMap<String, String>>> = Rc::default();
    let seen = tokens.clone();
    let script = "\
        echo \"ls: $(ls -A /.podinit/claim 2>&1)\"\n\
        echo \"cat: $(cat /.podinit/claim/token 2>&1)\"\n\
        echo \"mount: $(grep -c ' /.podinit/claim ' /proc/self/mountinfo)\"\n\
        touch /.podinit/claim/x 2>/dev/null; echo \"touch-status=$?\"\n\
        env; tr '\\0' '\\n' < /proc/1/environ; tr '\\0' ' ' < /proc/1/cmdline; echo\n\
        cat /proc/1/mem 2>&1 | head -c 200; echo\n\
        tlog looked";
    let app = match user {
        Some(uid) => app("app", script).user(uid, uid),
        None => app("app", script),
    };
    let out = pod("claim-app-reads")
        .add(app)
        .after_inject(move |name, bundle| {
            seen.borrow_mut()
                .insert(name.to_owned(), token_file(bundle).1);
        })
        .run(CreateOrder::Spec);
    let token_text = tokens.borrow()["app"].clone();
    let token = token_text.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(out.exit_code("app"), Some(0), "{out}");
    assert_eq!(
        out.phase(),
        Some("Succeeded"),
        "the app ran supervised\n{out}"
    );
    assert!(
        supervisor_log(&out).contains("claimed by its init"),
        "registered by its claim\n{out}"
    );
    let seen = &out.logs["app.out"];
    assert!(
        seen.contains("ls: \n"),
        "the claim directory is empty: {seen}"
    );
    assert!(
        seen.contains("cat: cat: can't open '/.podinit/claim/token': No such file"),
        "{seen}"
    );
    assert!(
        seen.contains("mount: 1"),
        "the claim mount is there: {seen}"
    );
    assert!(
        seen.contains("touch-status=1"),
        "the app cannot write to the bundle through the claim mount: {seen}"
    );
    for (file, text) in &out.logs {
        assert!(
            !text.contains(&token),
            "{file} holds the token the init claimed with\n{out}"
        );
    }
    assert!(out.events_of("app").contains(&"looked"), "{out}");
}

/// Container b's token file holds a's token (a's leaked into b). Spec order: a claims first,
/// b replays a used token; reverse order: b presents a's token before a does, from a container
/// whose mount table shows b's own claim directory. Both refused; a unharmed.
#[rstest]
#[case::replayed(CreateOrder::Spec, "no pending registration")]
#[case::anothers_registration(CreateOrder::Reverse, "another container's")]
fn a_container_cannot_claim_another_containers_registration(
    #[case] order: CreateOrder,
    #[case] refusal: &str,
) {
    pod::require!();
    let tokens: Rc<RefCell<BTreeMap<String, String>>> = Rc::default();
    let seen = tokens.clone();
    // The second one created waits, so the order of the two claims is the create order.
    let (a_delay, b_delay) = match order {
        CreateOrder::Spec => (0, 500),
        _ => (500, 0),
    };
    let out = pod("claim-steal")
        .add(app("a", "tlog ran").create_delay(Duration::from_millis(a_delay)))
        .add(app("b", "tlog ran").create_delay(Duration::from_millis(b_delay)))
        .after_inject(move |name, bundle| {
            let (file, text) = token_file(bundle);
            let mut t = seen.borrow_mut();
            t.insert(name.to_owned(), text);
            if name == "b" {
                std::fs::write(&file, &t["a"]).unwrap();
            }
        })
        .run(order);
    let log = supervisor_log(&out);
    assert!(
        log.contains("refused") && log.contains(refusal),
        "b's claim refused for {refusal:?}\n{out}"
    );
    assert_eq!(out.exit_code("b"), Some(1), "b's init gave up\n{out}");
    assert!(
        !out.events_of("b").contains(&"ran"),
        "b's app never ran\n{out}"
    );
    assert_eq!(out.exit_code("a"), Some(0), "{out}");
    assert!(out.events_of("a").contains(&"ran"), "{out}");
    assert_eq!(
        names_in_status(&out),
        ["a"],
        "b never registered, as a or as b\n{out}"
    );
    assert_eq!(out.phase(), Some("Succeeded"), "{out}");
}

/// A token guessed for a container's own pending registration, or for a registration that
/// does not exist: refused.
#[rstest]
#[case::own_registration(true, "the token does not match")]
#[case::unknown_registration(false, "no pending registration")]
fn a_guessed_token_is_refused(#[case] own_nonce: bool, #[case] refusal: &str) {
    pod::require!();
    let out = pod("claim-guess")
        .add(app("ok", "tlog ran"))
        .add(app("g", "tlog ran"))
        .after_inject(move |name, bundle| {
            if name == "g" {
                let (file, text) = token_file(bundle);
                let nonce = text.split_whitespace().next().unwrap().to_owned();
                let nonce = if own_nonce { nonce } else { random_hex(8) };
                std::fs::write(&file, format!("{nonce} {}\n", random_hex(32))).unwrap();
            }
        })
        .run(CreateOrder::Spec);
    let log = supervisor_log(&out);
    assert!(
        log.contains("refused") && log.contains(refusal),
        "refused for {refusal:?}\n{out}"
    );
    assert_eq!(out.exit_code("g"), Some(1), "{out}");
    assert!(!out.events_of("g").contains(&"ran"), "{out}");
    assert_eq!(names_in_status(&out), ["ok"], "{out}");
}

/// The pending claims are files in the state dir, not the supervisor's memory: a supervisor
/// SIGKILLed and restarted between `inject` and a container's start still lets its init claim
/// (a declared pod, so it does not end with the first container).
#[test]
fn a_pending_claim_survives_a_supervisor_restart() {
    pod::require!();
    let mut running = pod("claim-restart")
        .spec(serde_json::json!({"restartPolicy": "Never", "containers": [
            {"name": "first", "image": "busybox"}, {"name": "late", "image": "busybox"}]}))
        .add(app("first", "tlog ran"))
        .add(app("late", "tlog ran").create_delay(Duration::from_millis(1500)))
        .start(CreateOrder::Spec);
    assert!(
        running.wait_for("first ran", Duration::from_secs(10)),
        "the first container ran"
    );
    let claims = running.state_dir().join("claims");
    let pending = std::fs::read_dir(&claims).map_or(0, |d| d.count());
    running.restart_supervisor();
    let out = running.finish();
    assert_eq!(
        pending, 1,
        "late's claim was still pending at the restart\n{out}"
    );
    assert!(out.events_of("late").contains(&"ran"), "{out}");
    assert_eq!(out.exit_code("late"), Some(0), "{out}");
    assert_claimed_and_succeeded(&out, "late", &["first", "late"]);
}

/// An init with a registration to claim and no supervisor (killed, its socket gone) is not a
/// plain init: its unreachable policy applies, here `fail` after 1 s, so the app never runs
/// unsupervised (with hooks, the createRuntime hook would have failed the create instead).
#[test]
fn an_init_with_a_claim_and_no_supervisor_follows_its_unreachable_policy() {
    pod::require!();
    let mut running = pod("claim-nosup")
        .spec(serde_json::json!({"restartPolicy": "Never", "containers": [
            {"name": "first", "image": "busybox"}, {"name": "late", "image": "busybox"}]}))
        .add(app("first", "tlog ran; sleep 2").env("PODINIT_UNREACHABLE_TIMEOUT", "1"))
        .add(
            app("late", "tlog ran")
                .env("PODINIT_UNREACHABLE_TIMEOUT", "1")
                .env("PODINIT_ON_UNREACHABLE", "fail")
                .create_delay(Duration::from_millis(1000)),
        )
        .start(CreateOrder::Spec);
    assert!(running.wait_for("first ran", Duration::from_secs(10)));
    assert!(running.kill_supervisor(), "the supervisor was running");
    // SIGKILL left the socket file; a supervisor that exited removes it: so do that.
    std::fs::remove_file(running.state_dir().join("sock/init.sock")).unwrap();
    let out = running.finish();
    assert_eq!(out.exit_code("late"), Some(1), "late gave up\n{out}");
    assert!(!out.events_of("late").contains(&"ran"), "{out}");
}

/// A container whose gate its pod's declaration opens as it registers starts its app without
/// waiting for its claim's answer (`inject` wrote `start-at-once` into its token file): with
/// the supervisor killed before any container starts, the native sidecar's app runs while no
/// one answers, and the app behind it stays at its gate. A supervisor started again takes the
/// sidecar's claim (its init tells it the app runs), releases the app behind it, and the Job
/// ends as ever: the app 0, the sidecar stopped after it, 0.
#[test]
fn a_gate_the_declaration_opens_does_not_wait_for_the_claims_answer() {
    pod::require!();
    let mut running = pod("claim-at-once")
        .spec(serde_json::json!({"restartPolicy": "Never",
            "initContainers": [{"name": "sc", "image": "busybox", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "busybox"}]}))
        .add(
            Container::script("sc", "tlog ran; exec sleep 60")
                .env("PODINIT_LOG", "info")
                .create_delay(Duration::from_millis(500)),
        )
        .add(app("app", "tlog ran").create_delay(Duration::from_millis(500)))
        .after_inject(|name, bundle| {
            let at_once = token_file(bundle).1.trim_end().ends_with(" start-at-once");
            assert_eq!(at_once, name == "sc", "{name}'s token file");
        })
        .start(CreateOrder::Spec);
    assert!(running.kill_supervisor(), "the supervisor was running");
    let sc_ran = running.wait_for("sc ran", Duration::from_secs(15));
    // The app is created 0.5 s after the sidecar: time for its init to be at its gate.
    let app_ran_alone = running.wait_for("app ran", Duration::from_secs(3));
    running.restart_supervisor();
    let out = running.finish();
    assert!(sc_ran, "the sidecar's app ran with no supervisor\n{out}");
    assert!(
        !app_ran_alone,
        "the app behind it waited for a supervisor\n{out}"
    );
    assert!(
        out.logs["sc.err"].contains("starting the app while the supervisor takes the claim"),
        "{out}"
    );
    assert!(out.events_of("app").contains(&"ran"), "{out}");
    assert_eq!(out.exit_code("app"), Some(0), "{out}");
    assert_eq!(
        out.exit_code("sc"),
        Some(0),
        "the sidecar stopped with its Job\n{out}"
    );
    assert_claimed_and_succeeded(&out, "sc", &["sc", "app"]);
}

/// A container whose app started at once and whose claim is then refused ends as a refused
/// container does, its app stopped: b's token file holds a's token (a claims first) and says
/// `start-at-once` (a pod that declares nothing gets no such word from `inject`: the file is
/// the container's to lie in, and a lie only starts its own app early). b's app starts with
/// the claim and is killed when the refusal comes, b's init exits 1, and b never registers,
/// as a or as b.
#[test]
fn an_app_started_at_once_is_stopped_when_its_claim_is_refused() {
    pod::require!();
    let tokens: Rc<RefCell<BTreeMap<String, String>>> = Rc::default();
    let seen = tokens.clone();
    let out = pod("claim-at-once-steal")
        .add(app("a", "tlog ran"))
        .add(app("b", "tlog ran; sleep 20; tlog outlived").create_delay(Duration::from_millis(500)))
        .after_inject(move |name, bundle| {
            let (file, text) = token_file(bundle);
            let mut t = seen.borrow_mut();
            t.insert(name.to_owned(), text);
            if name == "b" {
                let stolen = format!("{} start-at-once\n", t["a"].trim_end());
                std::fs::write(&file, stolen).unwrap();
            }
        })
        .run(CreateOrder::Spec);
    let log = supervisor_log(&out);
    assert!(
        log.contains("refused") && log.contains("no pending registration"),
        "b's claim refused\n{out}"
    );
    assert!(
        out.logs["b.err"].contains("stopping the app it started at once"),
        "{out}"
    );
    assert_eq!(out.exit_code("b"), Some(1), "b's init ended it\n{out}");
    assert!(
        !out.events_of("b").contains(&"outlived"),
        "b's app was stopped\n{out}"
    );
    assert_eq!(out.exit_code("a"), Some(0), "{out}");
    assert_eq!(names_in_status(&out), ["a"], "{out}");
    assert_eq!(out.phase(), Some("Succeeded"), "{out}");
}

/// A registration no init will ever claim (here: the container's `runc create` failed, its
/// root filesystem missing; also a container created and never started) is known to nobody
/// but the state dir: no hook reports it. When its pod finishes, the supervisor removes it,
/// and a claim of that pod's container that did run was used up already: the claims
/// directory is empty afterwards.
#[test]
fn a_finished_pods_unclaimed_registrations_are_removed() {
    pod::require!();
    let running = pod("claim-leftover")
        .add(app("app", "tlog ran"))
        .add(app("broken", "tlog never").edit(|cfg| {
            cfg["root"]["path"] = "/nonexistent-podinit-test-rootfs".into();
        }))
        .start(CreateOrder::Reverse);
    let claims = running.state_dir().join("claims");
    let pending = || {
        std::fs::read_dir(&claims)
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let done = support::eventually(Duration::from_secs(20), || {
        running.status().is_some_and(|s| s["phase"] == "Succeeded")
    });
    let left = if done {
        // Removed in the same step that finished the pod; a moment for that step to end.
        support::eventually(Duration::from_secs(5), || pending().is_empty());
        pending()
    } else {
        Vec::new()
    };
    let out = running.finish();
    assert!(done, "the pod finished\n{out}");
    assert_eq!(out.exit_code("app"), Some(0), "{out}");
    assert!(
        left.is_empty(),
        "claims left after the pod finished: {left:?}\n{out}"
    );
    assert!(
        supervisor_log(&out).contains("container broken")
            && supervisor_log(&out).contains("never claimed its registration; removed"),
        "{out}"
    );
}

/// How the test container's pid namespace is set up in its config.json.
#[derive(Debug, Clone, Copy)]
enum PidNs {
    /// runc's template: a `pid` entry without a path, a new namespace.
    Own,
    /// No `pid` entry: the runtime's (the host's) pid namespace.
    Host,
    /// A `pid` entry naming a namespace another process made (as a pod sharing its process
    /// namespace joins the pause container's).
    Joined,
}

/// A pid namespace of its own, PID 1 a `sleep` that [`PidNsHolder`] kills on drop: what a
/// container can join.
struct PidNsHolder(std::process::Child);

impl PidNsHolder {
    fn start() -> PidNsHolder {
        let child = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "sleep", "60"])
            .spawn()
            .expect("unshare (util-linux)");
        PidNsHolder(child)
    }

    /// The host pid of the namespace's PID 1 (unshare's child), once it is forked.
    fn pid_one(&self) -> Option<i32> {
        let children = format!("/proc/{0}/task/{0}/children", self.0.id());
        let mut pid = None;
        support::eventually(Duration::from_secs(5), || {
            pid = std::fs::read_to_string(&children)
                .ok()
                .and_then(|t| t.split_whitespace().next()?.parse().ok());
            pid.is_some()
        });
        pid
    }

    /// `/proc/PID/ns/pid` of the namespace's PID 1.
    fn path(&self) -> String {
        let pid = self.pid_one().expect("unshare forked its child");
        format!("/proc/{pid}/ns/pid")
    }
}

impl Drop for PidNsHolder {
    fn drop(&mut self) {
        // Killing the namespace's PID 1 (our child's child, by its pid) ends everything in it.
        if let Some(pid) = self.pid_one() {
            // SAFETY: kill(2) on a pid we started (through unshare); no memory involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sets the `pid` entry of `cfg`'s `linux.namespaces` as `ns` says.
fn set_pid_ns(cfg: &mut serde_json::Value, ns: PidNs, joined: &str) {
    let list = cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("runc spec: linux.namespaces");
    list.retain(|n| n["type"] != "pid");
    match ns {
        PidNs::Own => list.push(serde_json::json!({"type": "pid"})),
        PidNs::Host => {}
        PidNs::Joined => list.push(serde_json::json!({"type": "pid", "path": joined})),
    }
}

fn bundle_config(bundle: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

/// `podinit inject` with neither `--hooks` nor `--no-hooks` (issue 13): a container with a pid
/// namespace of its own gets no hook and a claim; one in the host's pid namespace, or joining
/// another's, gets podinit's hooks and no claim, as does any container with `--hooks`. Each
/// registers the way its bundle says, under runc, and the pod runs to Succeeded.
#[rstest]
#[case::own_pid_namespace_claims(PidNs::Own, Inject::Default, true)]
#[case::host_pid_namespace_hooks(PidNs::Host, Inject::Default, false)]
#[case::joined_pid_namespace_hooks(PidNs::Joined, Inject::Default, false)]
#[case::forced_hooks(PidNs::Own, Inject::Hooks, false)]
fn the_default_registers_by_its_pid_namespace(
    #[case] ns: PidNs,
    #[case] inject: Inject,
    #[case] claims: bool,
) {
    pod::require!();
    let holder = PidNsHolder::start();
    let joined = holder.path();
    let seen: Rc<RefCell<Option<serde_json::Value>>> = Rc::default();
    let seen_in = seen.clone();
    let out = pod(&format!("claim-default-{ns:?}"))
        .inject_mode(inject)
        .add(app("app", "tlog ran").edit(move |cfg| set_pid_ns(cfg, ns, &joined)))
        .after_inject(move |_, bundle| *seen_in.borrow_mut() = Some(bundle_config(bundle)))
        .run(CreateOrder::Spec);
    drop(holder);
    let config = seen.borrow().clone().expect("the bundle was injected");
    let text = config.to_string();
    assert_eq!(
        (text.contains("\"hook\""), text.contains("/.podinit/claim")),
        (!claims, claims),
        "(podinit's hooks, the claim mount) in the bundle: {config:#}"
    );
    assert_eq!(out.exit_code("app"), Some(0), "{out}");
    assert!(out.events_of("app").contains(&"ran"), "{out}");
    assert_eq!(names_in_status(&out), ["app"], "registered\n{out}");
    assert_eq!(
        supervisor_log(&out).contains("claimed by its init"),
        claims,
        "registered by its init's claim iff the bundle has one\n{out}"
    );
    assert_eq!(out.phase(), Some("Succeeded"), "{out}");
}

/// Why the default keeps hooks outside a pid namespace of the container's own: a claim from
/// such an init is refused. The bundle is injected with a claim (its own pid namespace), then
/// its config.json is changed to the host's pid namespace or to join another's before the
/// create. The init connects, and `SO_PEERCRED` gives the supervisor a pid it can open a pidfd
/// for, but that pid is no proof of anything: in the host's namespace `NSpid` has one level,
/// in a joined one the init is not its PID 1 (its PID 1 is someone else's process), so the
/// supervisor cannot tell the runtime's init from any other process of the same user that
/// later entered the container (`runc exec`) with the token. It refuses; the init exits 1
/// without starting its app, and nothing registers.
#[rstest]
#[case::host(PidNs::Host, "shares the supervisor's pid namespace")]
#[case::joined(PidNs::Joined, "not the container's PID 1")]
fn a_claim_from_outside_a_pid_namespace_of_its_own_is_refused(
    #[case] ns: PidNs,
    #[case] refusal: &str,
) {
    pod::require!();
    let holder = PidNsHolder::start();
    let joined = holder.path();
    let out = pod(&format!("claim-sharedpid-{ns:?}"))
        .add(app("app", "tlog ran"))
        .after_inject(move |_, bundle| {
            let mut cfg = bundle_config(bundle);
            set_pid_ns(&mut cfg, ns, &joined);
            std::fs::write(bundle.join("config.json"), cfg.to_string()).unwrap();
        })
        .run(CreateOrder::Spec);
    drop(holder);
    let log = supervisor_log(&out);
    assert!(
        log.contains("refused") && log.contains(refusal),
        "refused for {refusal:?}\n{out}"
    );
    assert_eq!(out.exit_code("app"), Some(1), "the init gave up\n{out}");
    assert!(!out.events_of("app").contains(&"ran"), "{out}");
    assert!(names_in_status(&out).is_empty(), "{out}");
}

/// `podinit inject`'s mode from its flags and environment, and what it prints: the mode the
/// bundle got and why; refusals (a claim forced where it cannot work, contradicting settings,
/// a value that is no mode) exit 2, name what is at fault and leave config.json as it was.
#[rstest]
#[case::default_own(&[], &[], true, Ok("no hooks, its init claims its registration (the default"))]
#[case::default_host(&[], &[], false, Ok("OCI hooks, as it has the runtime's (host's) pid namespace"))]
#[case::flag_hooks(&["--hooks"], &[], true, Ok("OCI hooks (--hooks"))]
#[case::env_hooks(&[], &[("PODINIT_HOOKS", "1")], true, Ok("OCI hooks (--hooks"))]
#[case::env_no_hooks_as_before(&[], &[("PODINIT_NO_HOOKS", "1")], true, Ok("--no-hooks asked"))]
#[case::flag_over_env(&["--hooks"], &[("PODINIT_NO_HOOKS", "1")], true, Ok("OCI hooks (--hooks"))]
#[case::no_hooks_on_the_host_pid_namespace(&["--no-hooks"], &[], false, Err("needs a pid namespace of the container's own"))]
#[case::both_flags(&["--hooks", "--no-hooks"], &[], true, Err("cannot be used with"))]
#[case::disagreeing_env(&[], &[("PODINIT_HOOKS", "1"), ("PODINIT_NO_HOOKS", "1")], true, Err("disagree"))]
#[case::not_a_mode(&[], &[("PODINIT_HOOKS", "sometimes")], true, Err("PODINIT_HOOKS=sometimes: expected 1"))]
fn inject_says_which_mode_a_bundle_got(
    #[case] flags: &[&str],
    #[case] env: &[(&str, &str)],
    #[case] own_pid_ns: bool,
    #[case] want: Result<&str, &str>,
) {
    let dir = std::env::temp_dir().join(format!(
        "podinit-inject-mode-{}-{own_pid_ns}-{}-{}",
        std::process::id(),
        flags.join(""),
        env.iter()
            .map(|(k, v)| format!("{k}{v}"))
            .collect::<String>()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let bundle = dir.join("ctr-9");
    std::fs::create_dir_all(&bundle).unwrap();
    let mut cfg = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "annotations": {"io.podinit.container-name": "app"},
        "linux": {"namespaces": [{"type": "mount"}]}
    });
    if own_pid_ns {
        set_pid_ns(&mut cfg, PidNs::Own, "");
    }
    let before = serde_json::to_vec(&cfg).unwrap();
    std::fs::write(bundle.join("config.json"), &before).unwrap();
    let out = support::run(
        support::podinit()
            .arg("inject")
            .args(flags)
            .arg(&bundle)
            .env("PODINIT_SOCKET", dir.join("ctl.sock"))
            .env("PODINIT_STATE_DIR", dir.join("state"))
            .envs(env.iter().copied()),
        Duration::from_secs(10),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    match want {
        Ok(said) => {
            assert!(out.status.success(), "{stderr}");
            assert!(
                stdout.contains(said) && stdout.contains(bundle.to_str().unwrap()),
                "{said:?}: {stdout}"
            );
            let claims = stdout.contains("no hooks,");
            assert_eq!(
                claims,
                stdout.contains("as container ctr-9"),
                "a claim names the container id it carries (the bundle's name): {stdout}"
            );
        }
        Err(why) => {
            assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
            assert!(stderr.contains(why), "{why:?}: {stderr}");
            assert_eq!(
                std::fs::read(bundle.join("config.json")).unwrap(),
                before,
                "left unchanged"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every claim carries its pod's whole declaration (inject cannot know which container claims
/// first). The pod takes and journals it once, with the first claim; every later claim is
/// registered by the declaration's digest alone, its declaration never parsed, so a claim costs
/// the same in a pod of 64 containers as in a pod of one (issue 13). A claim an older inject
/// wrote, without the digest, is parsed and digested, and still not journalled twice. The
/// supervisor's journal is the witness; the pod itself must run as if nothing were special.
#[rstest]
#[case::spec_order(CreateOrder::Spec)]
#[case::reverse(CreateOrder::Reverse)]
fn a_pods_declaration_is_journalled_once_whatever_claims_it(#[case] order: CreateOrder) {
    pod::require!();
    let sup = pod::SharedSupervisor::start("claim-decl");
    let key = format!("sbx-decl-{}-{order:?}", std::process::id());
    let state = sup.state_dir();
    let out = pod("claim-decl")
        .spec(serde_json::json!({
            "restartPolicy": "Never",
            "containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        }))
        .pod_annotation("io.kubernetes.cri.sandbox-id", &key)
        .add(Container::script("a", "tlog ran"))
        .add(Container::script("b", "tlog ran"))
        .add(Container::script("c", "tlog ran"))
        .after_inject(move |name, bundle| {
            if name != "b" {
                return;
            }
            // b's claim as an older inject wrote it: one line, the declaration in the
            // claim's `pod` field, no digest.
            let (_, text) = token_file(bundle);
            let nonce = text.split_whitespace().next().unwrap().to_owned();
            let file = state.join("claims").join(format!("{nonce}.json"));
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let [head, declaration] = lines[..] else {
                panic!("inject writes the claim, then its declaration: {text}");
            };
            let mut claim: serde_json::Value = serde_json::from_str(head).unwrap();
            assert!(
                claim["pod_digest"].is_string(),
                "inject writes the digest: {claim}"
            );
            claim.as_object_mut().unwrap().remove("pod_digest");
            claim["pod"] = serde_json::from_str(declaration).unwrap();
            std::fs::write(&file, claim.to_string()).unwrap();
        })
        .on(&sup)
        .run(order);
    assert_eq!(out.phase(), Some("Succeeded"), "{out}\n{}", sup.log());
    for c in ["a", "b", "c"] {
        assert_eq!(out.exit_code(c), Some(0), "{out}");
        assert!(out.events_of(c).contains(&"ran"), "{c} ran\n{out}");
    }
    let journal = std::fs::read_to_string(
        sup.state_dir()
            .join("pods")
            .join(&key)
            .join("journal.jsonl"),
    )
    .unwrap_or_else(|e| panic!("the pod's journal: {e}\n{}", sup.log()));
    let registered: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["event"]["event"] == "registered")
        .collect();
    assert_eq!(registered.len(), 3, "{journal}");
    let digests: Vec<&str> = registered
        .iter()
        .map(|r| r["event"]["pod_digest"].as_str().unwrap_or("none"))
        .collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "one declaration: {digests:?}"
    );
    let brought: Vec<bool> = registered
        .iter()
        .map(|r| !r["event"]["pod"].is_null())
        .collect();
    assert_eq!(
        brought,
        [true, false, false],
        "the first registration journals the declaration, the others its digest\n{journal}"
    );
}
