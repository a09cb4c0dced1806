//! Self-test of the pod harness (`integration/pod/`), without podinit semantics: bare runc
//! containers (no `podinit inject`, no supervisor) created one after the other by the serial
//! agent. Proves that the agent reaps the exit codes of containers it created in either order,
//! that the containers of one pod share a network namespace (and pods do not: every pod listens
//! on the same port), that the timeline (busybox `adjtimex` timestamps, root and uid 1000) is
//! parsed and ordered, that the agent's timeouts and failed creates are reported instead of
//! hanging, and that cleanup leaves no runc container, no netns and no directory behind, also
//! when the test panics while the pod runs. Without root, runc, ip, python3 or /bin/busybox each
//! test prints `SKIP` and passes, or fails under `PODINIT_REQUIRE_ALL=1` (`pod::require!`).

use crate::pod;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pod::{Container, CreateOrder, PodOutcome, PodTest, alive, log_line, netns_exists, now_us};

/// The netns inode of this (host) process, e.g. `net:[4026531840]`.
fn host_netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Two containers: `server` listens on 8080 and exits 0 after one connection (then logs from a
/// signal trap); `client` connects (retrying until the server listens) and exits 7. Both print
/// their netns first.
fn server_client_pod(name: &str) -> PodTest {
    // The server's stdin is a FIFO it holds open read-write (never EOF): with /dev/null, nc
    // half-closes the connection on accept and the client may take that EOF and exit 0
    // before it sent its line.
    let server = format!(
        "readlink /proc/self/ns/net; mkfifo /dev/shm/in; exec 3<>/dev/shm/in; {}; \
         timeout 20 nc -l -p 8080 <&3 || exit 1; {}; \
         trap 'tlog \"trapped USR1\"' USR1; kill -USR1 $$",
        log_line("started"),
        log_line("received")
    );
    let client = "readlink /proc/self/ns/net; tlog started
         i=0; until echo hello-from-client | nc 127.0.0.1 8080 2>/dev/null; do
           i=$((i+1)); [ $i -gt 400 ] && exit 1; sleep 0.05; done
         tlog \"connected, it's $GREETING\"; exit 7";
    PodTest::new(name)
        .bare()
        .timeout(Duration::from_secs(40))
        .add(Container::script("server", &server))
        .add(Container::script("client", client).env("GREETING", "hi"))
}

/// What every finished bare pod must show about cleanup.
fn assert_cleaned(out: &PodOutcome) {
    assert!(out.cleanup.is_clean(), "{out}");
    assert!(
        out.cleanup.containers_after_agent.is_empty(),
        "the agent's runc delete left containers\n{out}"
    );
    assert!(!netns_exists(&out.netns), "netns {} left\n{out}", out.netns);
    let ns_list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ns_list.stdout).contains(&out.netns),
        "ip netns list still names {}",
        out.netns
    );
    // The runc root is gone with the pod dir; `runc list` on it is empty.
    assert!(!out.runc_root.exists(), "{} left", out.runc_root.display());
    assert!(pod::runc_list(&out.runc_root).unwrap().is_empty());
    for (name, pid) in &out.pids {
        assert!(!alive(*pid), "{name}'s init {pid} still exists");
    }
}

fn check_server_client(out: &PodOutcome, expected_order: &[&str]) {
    assert_eq!(out.create_order, expected_order, "{out}");
    assert!(out.agent_errors.is_empty(), "{out}");
    assert!(out.unfinished.is_empty(), "{out}");
    assert_eq!(out.exit_code("server"), Some(0), "{out}");
    assert_eq!(out.exit_code("client"), Some(7), "{out}");
    assert_eq!(out.supervisor_exit, pod::SupervisorExit::NotStarted);
    assert_eq!(out.status_json, None);

    // One netns for the pod, not the host's; the connection went through it.
    let server_ns = out.stdout("server").lines().next().unwrap_or("").to_owned();
    let client_ns = out.stdout("client").lines().next().unwrap_or("").to_owned();
    assert!(server_ns.starts_with("net:["), "{out}");
    assert_eq!(server_ns, client_ns, "{out}");
    assert_ne!(server_ns, host_netns(), "{out}");
    assert!(out.stdout("server").contains("hello-from-client"), "{out}");

    // Timeline: exactly the four entries, microsecond wall-clock times within the run.
    assert!(out.notes.is_empty(), "{out}");
    assert_eq!(out.timeline.len(), 5, "{out}");
    let end = out.t0_us + out.elapsed.as_micros() as u64;
    for e in &out.timeline {
        assert!(
            out.t0_us <= e.at_us && e.at_us <= end,
            "entry {e:?} outside the run [{}, {end}]\n{out}",
            out.t0_us
        );
    }
    assert!(out.timeline.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    assert_eq!(
        out.events_of("server"),
        ["started", "received", "trapped USR1"],
        "{out}"
    );
    assert_eq!(
        out.events_of("client"),
        ["started", "connected, it's hi"],
        "{out}"
    );
    out.assert_order(&["server started", "server received", "server trapped USR1"]);
    out.assert_order(&["client started", "client connected, it's hi"]);
    out.assert_order(&["server started", "client connected, it's hi"]);
    assert!(!out.order_of(&["client connected, it's hi", "client started"]));
    assert!(!out.order_of(&["client started", "nobody started"]));
    // The agent timed each step.
    for name in ["server", "client"] {
        let t = &out.timings[name];
        assert!(t["create_ms"] > 0.0 && t["start_ms"] > 0.0, "{out}");
        assert!(
            t.contains_key("delete_ms") && t.contains_key("exited_at_us"),
            "{out}"
        );
    }
    assert_cleaned(out);
}

#[test]
fn serial_agent_spec_order() {
    pod::require!();
    let t = Instant::now();
    let out = server_client_pod("selftest-spec").run(CreateOrder::Spec);
    check_server_client(&out, &["server", "client"]);
    eprintln!(
        "spec order: pod {:?}, test {:?}\n{out}\n{:?}",
        out.elapsed,
        t.elapsed(),
        out.timings
    );
}

#[test]
fn serial_agent_reverse_order() {
    pod::require!();
    let t = Instant::now();
    let out = server_client_pod("selftest-reverse").run(CreateOrder::Reverse);
    check_server_client(&out, &["client", "server"]);
    eprintln!(
        "reverse order: pod {:?}, test {:?}",
        out.elapsed,
        t.elapsed()
    );
}

/// A failed `runc create` and a container that never exits are reported (not waited for
/// forever); the others still run and are reaped; the stuck one is SIGKILLed at the timeout.
#[test]
fn agent_reports_failed_create_and_timeout() {
    pod::require!();
    let out = PodTest::new("selftest-timeout")
        .bare()
        .timeout(Duration::from_secs(3))
        .container("bad", &["/no/such/binary"], &[])
        .container(
            "stuck",
            &[
                "/bin/sh",
                "-c",
                &format!("{}; exec sleep 300", log_line("started")),
            ],
            &[],
        )
        .container("ok", &["/bin/sh", "-c", "exit 3"], &[])
        .run(CreateOrder::Spec);
    assert_eq!(out.create_order, ["bad", "stuck", "ok"], "{out}");
    assert_eq!(out.exit_codes.len(), 1, "{out}");
    assert_eq!(out.exit_code("ok"), Some(3), "{out}");
    assert_eq!(out.unfinished["bad"], "create failed", "{out}");
    assert_eq!(out.unfinished["stuck"], "timeout", "{out}");
    assert!(
        out.agent_errors
            .iter()
            .any(|e| e.starts_with("create bad:")),
        "{out}"
    );
    assert!(out.first("stuck started").is_some(), "{out}");
    assert!(
        out.elapsed >= Duration::from_secs(3) && out.elapsed < Duration::from_secs(15),
        "{out}"
    );
    assert_cleaned(&out);
}

/// A test that panics while its pod runs leaves nothing behind: the `RunningPod` guard kills the
/// agent, force-deletes the containers, deletes the netns and the pod dir. Also checks the
/// timeline clock works for a non-root (uid 1000) container, and the random create order.
#[test]
fn cleanup_after_panic_mid_pod() {
    pod::require!();
    let script = format!("{}; exec sleep 300", log_line("started"));
    let test = PodTest::new("selftest-panic")
        .bare()
        .add(Container::sh("root", &script))
        .add(Container::sh("nonroot", &script).user(1000, 1000))
        .add(Container::sh("third", &script));
    let before = now_us();
    let running = test.start(CreateOrder::Random(42));
    for name in ["root", "nonroot", "third"] {
        assert!(
            running.wait_for(&format!("{name} started"), Duration::from_secs(20)),
            "{name} did not start: {:?}",
            running.timeline()
        );
    }
    running.mark("all started");
    let timeline = running.timeline();
    let nonroot = timeline.iter().find(|e| e.container == "nonroot").unwrap();
    assert!(
        before <= nonroot.at_us && nonroot.at_us <= now_us(),
        "{timeline:?}"
    );
    assert_eq!(timeline.last().unwrap().container, "harness");

    let pids: Vec<u32> = ["root", "nonroot", "third"]
        .iter()
        .map(|n| running.pid(n).expect("pid file"))
        .collect();
    let ids: Vec<String> = ["root", "nonroot", "third"]
        .iter()
        .map(|n| running.id(n).to_owned())
        .collect();
    let root = running.runc_root().to_owned();
    let netns = running.netns().to_owned();
    let listed = pod::runc_list(&root).unwrap();
    for id in &ids {
        assert!(listed.contains(id), "{id} not in {listed:?}");
    }
    assert!(pids.iter().all(|p| alive(*p)));
    assert!(netns_exists(&netns));

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _pod = running;
        panic!("intentional panic of the harness self-test while the pod runs");
    }));
    assert!(panicked.is_err());

    assert!(!netns_exists(&netns), "netns {netns} left");
    assert!(!root.exists(), "{} left", root.display());
    assert!(pod::runc_list(&root).unwrap().is_empty());
    // The inits were reparented away from the killed agent: give init a moment to reap them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for p in &pids {
        assert!(!alive(*p), "container init {p} survived the cleanup");
    }
}

/// Order and parsing helpers, no containers.
#[test]
fn create_order_and_timeline_parsing() {
    let names: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
    assert_eq!(CreateOrder::Spec.apply(&names), names);
    let rev = CreateOrder::Reverse.apply(&names);
    assert_eq!(rev, ["e", "d", "c", "b", "a"]);
    let r1 = CreateOrder::Random(7).apply(&names);
    assert_eq!(r1, CreateOrder::Random(7).apply(&names));
    let mut sorted = r1.clone();
    sorted.sort();
    assert_eq!(sorted, names);
    assert!(
        (0..20).any(|s| CreateOrder::Random(s).apply(&names) != names),
        "random orders are not all the spec order"
    );
    assert_eq!(
        CreateOrder::Names(vec!["c".into(), "a".into()]).apply(&names),
        ["c", "a"]
    );

    let (tl, bad) = pod::parse_timeline(
        "1000000000000002 app started\n\
         garbage\n\
         1000000000000001 sidecar started now\n\
         \n\
         1000000000000002 sidecar ready\n",
    );
    assert_eq!(bad, ["garbage"]);
    assert_eq!(tl.len(), 3);
    assert_eq!(tl[0].container, "sidecar");
    assert_eq!(tl[0].text, "started now");
    // Equal times keep file order.
    assert_eq!(
        (tl[1].container.as_str(), tl[2].container.as_str()),
        ("app", "sidecar")
    );
    assert!(tl[0].matches("sidecar started now") && tl[0].matches("started now"));
    assert!(!tl[0].matches("sidecar started"));

    let q = pod::sh_quote("it's");
    assert_eq!(q, r"'it'\''s'");
    let frag = log_line("a 'quoted' event");
    assert!(frag.contains(TIMELINE_PATH) && frag.contains("adjtimex"));
    assert!(Path::new(pod::AGENT).exists());
}

const TIMELINE_PATH: &str = pod::TIMELINE;
