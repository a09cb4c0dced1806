//! Hostile input (no runtime needed): the hook fed garbage, `inject` on a bad `config.json`,
//! `explain` naming a bad annotation; each fails cleanly, naming what is at fault.

use super::*;

// ---------------------------------------------------------------------------------------------
// 13. Hostile inputs (no runtime needed)

/// Runs podinit with `stdin` and no `PODINIT_*` from our environment but these; panics if it
/// hangs for 10 s.
fn podinit_with(args: &[&str], stdin: &[u8], env: &[(&str, &Path)]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(PODINIT);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PODINIT_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn podinit");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data); // podinit may stop reading early
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("podinit {args:?} still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

/// A fresh scratch dir, unique in this process (cases run in parallel).
fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("podinit-s13-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn assert_clean_failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what}: exited 0\nstderr: {stderr}");
    assert_ne!(out.status.code(), Some(101), "{what}: panic exit\n{stderr}");
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: panicked\n{stderr}");
    assert!(!stderr.trim().is_empty(), "{what}: no message");
    stderr
}

#[rstest]
#[case::garbage(b"garbage{\x00\xff".to_vec())]
#[case::empty(Vec::new())]
#[case::not_an_object(b"[1, 2, 3]".to_vec())]
#[case::wrong_types(br#"{"ociVersion": 1, "id": ["x"], "pid": "one", "bundle": 7}"#.to_vec())]
#[case::huge(vec![b'{'; 4 << 20])]
fn s13a_hook_with_garbage_stdin_fails_cleanly(#[case] stdin: Vec<u8>) {
    let dir = scratch("hook");
    let sock = dir.join("no-supervisor.sock");
    let out = podinit_with(
        &["hook", "createRuntime"],
        &stdin,
        &[("PODINIT_SOCKET", &sock), ("PODINIT_STATE_DIR", &dir)],
    );
    let stderr = assert_clean_failure("podinit hook createRuntime", &out);
    assert!(
        stderr.contains("state"),
        "the message does not say the OCI state is at fault: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[rstest]
#[case::not_json(b"{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"".to_vec())]
#[case::binary(b"\x7fELF\x02\x01\x01\x00\x00\x00garbage\xff\xfe".to_vec())]
#[case::json_not_an_object(b"[\"not\", \"a\", \"config\"]\n".to_vec())]
#[case::empty(Vec::new())]
fn s13b_inject_refuses_bad_config_unchanged(#[case] content: Vec<u8>) {
    let dir = scratch("inject");
    let config = dir.join("config.json");
    std::fs::write(&config, &content).unwrap();
    let out = podinit_with(
        &["inject", dir.to_str().unwrap()],
        b"",
        &[
            ("PODINIT_SOCKET", &dir.join("ctl.sock")),
            ("PODINIT_STATE_DIR", &dir.join("state")),
        ],
    );
    let stderr = assert_clean_failure("podinit inject", &out);
    assert!(stderr.contains("config.json"), "{stderr}");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        content,
        "config.json changed"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.json"], "inject left files behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[rstest]
#[case::probe_not_json("io.podinit.startup-probe", "{not json")]
#[case::probe_wrong_type("io.podinit.readiness-probe", r#"{"periodSeconds": "ten"}"#)]
#[case::unknown_kind("io.podinit.kind", "daemon")]
#[case::pod_spec_not_json("io.podinit.pod-spec", "{\"containers\": [")]
#[case::pod_spec_wrong_type("io.podinit.pod-spec", r#"{"containers": "app"}"#)]
#[case::negative_index("io.podinit.index", "-3")]
fn s13c_explain_names_the_bad_annotation(#[case] key: &str, #[case] value: &str) {
    let dir = scratch("explain");
    let config = json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "env": ["PATH=/bin"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "annotations": {"io.podinit.container-name": "web", key: value},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    for json_flag in [false, true] {
        let mut args = vec!["explain"];
        if json_flag {
            args.push("--json");
        }
        let d = dir.to_str().unwrap().to_owned();
        args.push(&d);
        let out = podinit_with(&args, b"", &[]);
        let stderr = assert_clean_failure("podinit explain", &out);
        assert!(
            stderr.contains(key),
            "podinit {args:?}: the message does not name {key}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
