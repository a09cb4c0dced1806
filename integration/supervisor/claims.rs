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
    assert!(
        supervisor_log(&out).contains("container late (")
            && supervisor_log(&out).contains("claimed by its init"),
        "{out}"
    );
    assert_eq!(names_in_status(&out), ["first", "late"], "{out}");
    assert_eq!(out.phase(), Some("Succeeded"), "{out}");
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
