//! CRI pod start with and without the runtime front, side by side in one containerd: the same
//! two-container pod (a native sidecar, then an app, both long-running, created and started
//! serially as a kubelet does) run on the plain `runc` handler and on the shipped `podinit`
//! handler (`oci-hooks/containerd/`: the `podinit-runc` front script, `podinit runtime`, the
//! supervisor, each container's `podinit exec`) and on the hookless front (`podinit-nohooks`:
//! the multi-call symlink, `PODINIT_NO_HOOKS=1` in its podinit.conf, each init claims its
//! registration; `integration/cri/containerd.rs`), variants interleaved. Since issue 13 made
//! hookless the default the shipped handler has no hooks either for these containers (each has a
//! pid namespace of its own): the two podinit variants now differ by the front (script against
//! symlink); the `podinit-hooks` handler (`PODINIT_HOOKS=1`) is the one with hooks.
//!
//! Measured per pod from the containers' own timeline (busybox `adjtimex` time, as every test
//! timeline): RunPodSandbox's start → the last container's process logged `started`. Also the
//! CRI calls' own durations (RunPodSandbox, Create+Start of each container).
//!
//! `cargo bench --bench cri_pod_start` (release build; `PODINIT_BENCH_PODS=N` pods per variant,
//! default 20) prints the report BENCHMARKS.md quotes. Under `cargo test` (no `--bench`
//! argument) it runs one pod per variant and checks that both measured: the benchmark stays
//! runnable.

// The integration tests' harness (pod, support, cri) has more than this benchmark uses.
#![allow(dead_code, unused_imports, unused_macros)]

#[path = "../../integration/pod/mod.rs"]
mod pod;
#[path = "../../integration/support/mod.rs"]
mod support;

#[path = "../../integration/cri/mod.rs"]
mod cri;

use std::time::{Duration, Instant};

use serde_json::json;

use cri::image::BUSYBOX_IMAGE;
use cri::{CriEnv, Ctr};

const VARIANTS: [&str; 3] = ["runc", "podinit", "podinit-nohooks"];

#[derive(Default)]
struct Samples {
    /// RunPodSandbox start → last `started`, ms.
    running: Vec<f64>,
    sandbox: Vec<f64>,
    create_start: Vec<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn one_pod(env: &CriEnv, handler: &str, n: usize, s: &mut Samples) -> Result<(), String> {
    let sidecar = Ctr::new(
        "sidecar",
        "tlog started; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
    );
    let app = Ctr::new(
        "app",
        "tlog started; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
    );
    let k8s = |c: &Ctr| json!({"name": c.name, "image": BUSYBOX_IMAGE, "command": c.command()});
    let mut side_spec = k8s(&sidecar);
    side_spec["restartPolicy"] = json!("Always");
    let spec = json!({
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [side_spec],
        "containers": [k8s(&app)],
    })
    .to_string();
    let t = Instant::now();
    let mut p = env.run_pod_on(
        handler,
        &format!("{handler}-{n}"),
        &[("io.podinit.pod-spec", &spec)],
    );
    s.sandbox.push(ms(t.elapsed()));
    let t = Instant::now();
    p.create_start(&sidecar)?;
    p.create_start(&app)?;
    s.create_start.push(ms(t.elapsed()));
    let both = support::eventually(Duration::from_secs(30), || {
        let tl = p.timeline();
        ["sidecar started", "app started"]
            .iter()
            .all(|e| tl.iter().any(|x| x.matches(e)))
    });
    let tl = p.timeline();
    let errors = p.remove();
    if !both {
        return Err(format!("{handler} pod {n}: not running: {tl:?}"));
    }
    if !errors.is_empty() {
        return Err(format!("{handler} pod {n}: removal: {errors:?}"));
    }
    let last = tl.iter().map(|e| e.at_us).max().unwrap_or(p.t0_us);
    s.running.push((last as f64 - p.t0_us as f64) / 1000.0);
    Ok(())
}

/// `containerd --version`'s version word (`1.6.20~ds1`).
fn containerd_version() -> String {
    let out = std::process::Command::new("containerd")
        .arg("--version")
        .output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(2)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let pods: usize = if full {
        std::env::var("PODINIT_BENCH_PODS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
    } else {
        1
    };
    let env = CriEnv::start("cri_pod_start");
    let mut samples = [Samples::default(), Samples::default(), Samples::default()];
    // One pod per variant first, not counted: the first container of a handler pays for
    // the shim binary's and the image's first use.
    for (v, handler) in VARIANTS.iter().enumerate() {
        let mut warm = Samples::default();
        one_pod(&env, handler, usize::MAX - v, &mut warm).unwrap_or_else(|e| panic!("{e}"));
    }
    for n in 0..pods {
        // Interleaved, and the order rotated, so drift and warm caches favour neither.
        for k in 0..VARIANTS.len() {
            let v = (n + k) % VARIANTS.len();
            one_pod(&env, VARIANTS[v], n, &mut samples[v]).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for (v, s) in samples.iter().enumerate() {
        assert_eq!(s.running.len(), pods, "{}: every pod measured", VARIANTS[v]);
    }
    let row = |name: &str, f: fn(&Samples) -> &Vec<f64>| {
        let (r, p, h) = (f(&samples[0]), f(&samples[1]), f(&samples[2]));
        let p50 = |v: &[f64]| quantile(v, 0.5);
        format!(
            "| {name} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2}x | {:.1} / {:.1} | {:.2}x |",
            p50(r),
            quantile(r, 0.9),
            p50(p),
            quantile(p, 0.9),
            p50(p) / p50(r),
            p50(h),
            quantile(h, 0.9),
            p50(h) / p50(r)
        )
    };
    println!(
        "CRI pod start, containerd {}, n = {pods} pods per variant, interleaved\n",
        containerd_version()
    );
    println!(
        "| ms (p50 / p90) | runc | podinit (script front, default) | ratio | podinit-nohooks (symlink front, claims) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "{}",
        row("RunPodSandbox → both processes started", |s| &s.running)
    );
    println!("{}", row("RunPodSandbox call", |s| &s.sandbox));
    println!(
        "{}",
        row("Create+Start sidecar, then app", |s| &s.create_start)
    );
}
