//! `podinit run` with saved images: an OCI image layout built here from the host's static
//! busybox, with an Entrypoint, Cmd, Env, WorkingDir and User in its config, run under runc with
//! `--image myapp=DIR`; what the containers print (argv, cwd, env, uid) shows the config merged
//! with the pod's command/args/env/workingDir as Kubernetes does, and two containers of the
//! same image share one unpacked root with a writable copy each. With podman, the same layout
//! is `podman load`ed (a private `--root`/`--runroot`, vfs) and `podman save`d as a docker
//! archive and an OCI archive, and each runs (`--image`, `--image-store`). Without root, runc,
//! busybox-static or podman a test prints `SKIP` and passes, or fails under
//! `PODINIT_REQUIRE_ALL=1` (`support::skip`).

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::skip::{Need, Root, program};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "podinit-imgtest-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// What the image's entrypoint script prints: its arguments, where it runs, its env, its ids.
const SCRIPT: &str = "#!/bin/sh\n\
echo \"argv=$*\"\n\
echo \"cwd=$(pwd)\"\n\
echo \"env=GREETING:$GREETING IMAGE_ONLY:$IMAGE_ONLY POD_ONLY:$POD_ONLY\"\n\
echo \"ids=$(id -u):$(id -g)\"\n\
echo mine > \"$(pwd)/written-by-$(hostname)-$$\" 2>/dev/null || true\n";

/// The layer: busybox with the applets the script uses, an app user, the script, /app.
fn layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32, uid: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1);
        h.set_size(0);
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, p, data).unwrap();
    };
    for d in ["bin", "etc", "tmp", "proc", "dev", "sys"] {
        dir(&mut b, d, 0o755, 0);
    }
    dir(&mut b, "app", 0o777, 1000);
    file(
        &mut b,
        "bin/busybox",
        0o755,
        &std::fs::read("/bin/busybox").unwrap(),
    );
    for applet in ["sh", "id", "pwd", "hostname", "cat", "echo"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
    );
    file(&mut b, "etc/group", 0o644, b"root:x:0:\napp:x:1000:\n");
    file(&mut b, "entry.sh", 0o755, SCRIPT.as_bytes());
    b.into_inner().unwrap()
}

/// An OCI layout of one gzip layer and this config, named `localhost/myapp:1`.
fn layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |media: &str, bytes: &[u8]| -> Value {
        let d = digest(bytes);
        std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
        json!({"mediaType": media, "digest": d, "size": bytes.len()})
    };
    let tar = layer();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let l = blob(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &gz.finish().unwrap(),
    );
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/entry.sh"], "Cmd": ["from-cmd"],
            "Env": ["PATH=/bin", "GREETING=image", "IMAGE_ONLY=yes"],
            "WorkingDir": "/app", "User": "app"},
        "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]}});
    let c = blob(
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": c, "layers": [l]});
    let mut m = blob(
        "application/vnd.oci.image.manifest.v1+json",
        m.to_string().as_bytes(),
    );
    m["annotations"] = json!({"org.opencontainers.image.ref.name": "localhost/myapp:1"});
    std::fs::write(
        dir.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [m]}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Two containers of the image: `args` with the pod's env, and `workingDir` with nothing else.
fn pod(dir: &Path, image: &str) -> PathBuf {
    let p = dir.join("pod.json");
    let text = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "imgpod"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "withargs", "image": image, "args": ["one", "two"],
             "env": [{"name": "GREETING", "value": "pod"}, {"name": "POD_ONLY", "value": "p"}]},
            {"name": "plain", "image": image, "workingDir": "/tmp",
             "securityContext": {"runAsUser": 4242}}]}})
    .to_string();
    std::fs::write(&p, text).unwrap();
    p
}

struct Ran {
    work: Dir,
    out: Output,
}

impl Ran {
    fn log(&self, c: &str) -> String {
        std::fs::read_to_string(self.work.0.join("logs").join(format!("{c}.log")))
            .unwrap_or_default()
    }
    fn dump(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.out.status.code(),
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

fn podinit_run(image_args: &[&str], pod: &Path) -> Ran {
    let work = Dir(temp("work"));
    let out = Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args(["run", "--runtime", "runc", "--keep", "--timeout", "60"])
        .args(image_args)
        .arg("--work-dir")
        .arg(&work.0)
        .arg(pod)
        .stdin(Stdio::null())
        .output()
        .expect("podinit run");
    Ran { work, out }
}

/// The config merged as Kubernetes does, seen from inside both containers.
fn assert_merged(r: &Ran) {
    assert_eq!(r.out.status.code(), Some(0), "{}", r.dump());
    let a = r.log("withargs");
    for want in [
        "argv=one two",
        "cwd=/app",
        "env=GREETING:pod IMAGE_ONLY:yes POD_ONLY:p",
        "ids=1000:1000",
    ] {
        assert!(a.contains(want), "withargs: {want}: {a}\n{}", r.dump());
    }
    let p = r.log("plain");
    for want in [
        "argv=from-cmd",
        "cwd=/tmp",
        "env=GREETING:image IMAGE_ONLY:yes POD_ONLY:",
        "ids=4242:4242",
    ] {
        assert!(p.contains(want), "plain: {want}: {p}\n{}", r.dump());
    }
    // One unpacked root for both, and each container wrote into its own copy.
    let cached: Vec<_> = std::fs::read_dir(r.work.0.join("images"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1, "{}", r.dump());
    let wrote = |c: &str| {
        std::fs::read_dir(r.work.0.join("rootfs").join(c).join("app"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().starts_with("written-by"))
            })
            .unwrap_or(false)
    };
    assert!(wrote("withargs") && !wrote("plain"), "{}", r.dump());
}

/// What a test of `podinit run` with images needs: root, runc, the host's busybox, and podman
/// for the one that saves its archives with it.
fn needs(with_podman: bool) -> Vec<Need<'static>> {
    let mut needs = vec![
        Root,
        program("runc", "runc"),
        program("/bin/busybox", "busybox-static"),
    ];
    if with_podman {
        needs.push(program("podman", "podman"));
    }
    needs
}

#[test]
fn an_oci_layout_runs_with_its_config_merged_as_kubernetes_does() {
    support::require!(&needs(false));
    let dir = Dir(temp("layout"));
    let img = dir.0.join("myapp-oci");
    layout(&img);
    let r = podinit_run(
        &["--image", &format!("myapp={}", img.display())],
        &pod(&dir.0, "myapp"),
    );
    assert_merged(&r);
    // Without the option the reference is an error naming it and the options.
    let r = podinit_run(&[], &pod(&dir.0, "myapp"));
    let err = String::from_utf8_lossy(&r.out.stderr).into_owned();
    assert_eq!(r.out.status.code(), Some(2), "{}", r.dump());
    for part in [
        "container withargs",
        "\"myapp\"",
        "--image myapp=PATH",
        "--image-store",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
}

/// A podman with its own storage in `dir`, so nothing is shared with other tests.
fn podman(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("podman")
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("runroot"))
        .args(["--storage-driver", "vfs", "--events-backend", "none"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("podman");
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn podman_saved_docker_and_oci_archives_run() {
    support::require!(&needs(true));
    let dir = Dir(temp("podman"));
    let img = dir.0.join("myapp-oci");
    layout(&img);
    // The layout as an OCI archive for podman load.
    let archive = dir.0.join("in.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &img).unwrap();
    b.finish().unwrap();
    drop(b);
    podman(&dir.0, &["load", "-i", &archive.to_string_lossy()]);
    let store = dir.0.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let docker = dir.0.join("myapp-docker.tar");
    let oci = store.join("myapp-oci.tar");
    podman(
        &dir.0,
        &[
            "save",
            "--format",
            "docker-archive",
            "-o",
            &docker.to_string_lossy(),
            "localhost/myapp:1",
        ],
    );
    podman(
        &dir.0,
        &[
            "save",
            "--format",
            "oci-archive",
            "-o",
            &oci.to_string_lossy(),
            "localhost/myapp:1",
        ],
    );
    let r = podinit_run(
        &[
            "--image",
            &format!("localhost/myapp:1={}", docker.display()),
        ],
        &pod(&dir.0, "localhost/myapp:1"),
    );
    assert_merged(&r);
    let r = podinit_run(
        &["--image-store", &store.to_string_lossy()],
        &pod(&dir.0, "localhost/myapp:1"),
    );
    assert_merged(&r);
}
