//! The test images, built offline once per test process: a docker-archive tarball (what
//! `docker save` writes: `manifest.json`, one config JSON per image, one layer tar) whose only
//! layer is the pod harness's busybox rootfs (the host's static `/bin/busybox` plus applet
//! links). Two images share that layer: [`BUSYBOX_IMAGE`] (no entrypoint: every container sets
//! its Kubernetes `command`) and [`PAUSE_IMAGE`], containerd's `sandbox_image`, so containerd
//! never pulls anything. Each private containerd imports the tarball with `ctr images import`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;

use crate::pod::build_rootfs;
use crate::support::proc::run_ok;

pub const BUSYBOX_IMAGE: &str = "podinit.test/busybox:1";
pub const PAUSE_IMAGE: &str = "podinit.test/pause:1";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static ARCHIVE: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The tarball, built on first use under `dir` (the test process's directory).
pub fn archive(dir: &Path) -> Result<PathBuf, String> {
    ARCHIVE.get_or_init(|| build(&dir.join("image"))).clone()
}

fn build(dir: &Path) -> Result<PathBuf, String> {
    let t = Duration::from_secs(60);
    let rootfs = dir.join("rootfs");
    let out = dir.join("out");
    fs::create_dir_all(&out).map_err(|e| format!("mkdir {}: {e}", out.display()))?;
    build_rootfs(&rootfs).map_err(|e| format!("busybox rootfs {}: {e}", rootfs.display()))?;
    // Numeric root ownership: the layer must not depend on the host's user names.
    run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&rootfs)
            .arg("-cf")
            .arg(out.join("layer.tar"))
            .arg("."),
        t,
    )?;
    let sum = run_ok(Command::new("sha256sum").arg(out.join("layer.tar")), t)?;
    let diff_id = format!(
        "sha256:{}",
        sum.split_whitespace()
            .next()
            .ok_or("sha256sum: no output")?
    );
    // `ctr images import` keeps only images for the host's platform.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = |entrypoint: &[&str], cmd: &[&str]| {
        json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [PATH_ENV], "Entrypoint": entrypoint, "Cmd": cmd, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
    };
    let write = |name: &str, v: serde_json::Value| {
        fs::write(out.join(name), v.to_string()).map_err(|e| format!("write {name}: {e}"))
    };
    write("busybox.json", config(&[], &["/bin/sh"]))?;
    // The pause container only has to live until StopPodSandbox kills it (with SIGKILL).
    write("pause.json", config(&["/bin/sleep", "2147483647"], &[]))?;
    write(
        "manifest.json",
        json!([
            {"Config": "busybox.json", "RepoTags": [BUSYBOX_IMAGE], "Layers": ["layer.tar"]},
            {"Config": "pause.json", "RepoTags": [PAUSE_IMAGE], "Layers": ["layer.tar"]},
        ]),
    )?;
    let tarball = dir.join("images.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&out)
            .arg("-cf")
            .arg(&tarball)
            .args(["manifest.json", "busybox.json", "pause.json", "layer.tar"]),
        t,
    )?;
    Ok(tarball)
}
