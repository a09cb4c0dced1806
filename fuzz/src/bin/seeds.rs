//! Seed corpora for every fuzz target, from `testdata/` (run by `fuzz/seed.sh`):
//! `seeds ROOT OUT` writes `OUT/<target>/<name>` files. Built by `cargo fuzz build` with the
//! targets (no second build of podinit); not a fuzz target itself. The bundles' `config.json` files seed
//! the config targets as they are; their declarations (annotations, env, the pod spec and its
//! probes and handlers) seed the targets that take those; the protocol targets get the messages
//! a real pod of those bundles exchanges (a `register` carries every plan of the pod).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use podinit::engine::{ExitStatus, HandlerKind, ProbeKind};
use podinit::plan::{self, BundleInput, Classified};
use podinit::proto::{self, ControlRequest, InitMessage, SupervisorMessage};

// The instrumented build calls libFuzzer's coverage callbacks: link them (its `main` stays out,
// this binary has its own).
use libfuzzer_sys as _;

struct Out(PathBuf);

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    out.sort();
    out
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in files(dir) {
        if p.is_dir() && p.file_name().is_some_and(|n| n != "bundles") {
            out.extend(manifests(&p));
        } else if p
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(p);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, root, out] = args.as_slice() else {
        eprintln!("usage: seeds REPO_ROOT OUT_DIR");
        std::process::exit(2);
    };
    let root = Path::new(root).join("testdata");
    let out = Out(PathBuf::from(out));

    for bundle in files(&root.join("bundles")).iter().filter(|p| p.is_dir()) {
        let name = bundle
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Ok(bytes) = std::fs::read(bundle.join("config.json")) else {
            continue;
        };
        for target in ["plan_config", "inject", "explain"] {
            out.put(target, &name, &bytes);
        }
        let Ok(config) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        declarations(&out, &name, &config);
        if let Ok(Classified::Container { plan, pod, pod_key }) =
            plan::classify_bundle(&BundleInput {
                config: &config,
                fallback_name: &name,
            })
        {
            let welcome = SupervisorMessage::Welcome {
                name: plan.name.clone(),
                plan: plan.clone(),
            };
            out.put(
                "supervisor_message",
                &format!("welcome-{name}"),
                &proto::encode(&welcome),
            );
            // A pod's first registration brings the declaration and its digest; every later
            // one the digest alone.
            let digest = podinit::plan::declaration::digest(&pod);
            let register = ControlRequest::Register {
                id: name.clone(),
                pid: 4242,
                bundle: bundle.display().to_string(),
                plan: plan.clone(),
                pod: Some(pod),
                pod_spec: None,
                pod_digest: Some(digest.clone()),
                pod_key: Some(pod_key.key.clone()),
            };
            out.put(
                "control_request",
                &format!("register-{name}"),
                &proto::encode(&register),
            );
            let by_digest = ControlRequest::Register {
                id: format!("{name}-2"),
                pid: 4243,
                bundle: bundle.display().to_string(),
                plan,
                pod: None,
                pod_spec: None,
                pod_digest: Some(digest),
                pod_key: Some(pod_key.key),
            };
            out.put(
                "control_request",
                &format!("register-by-digest-{name}"),
                &proto::encode(&by_digest),
            );
        }
    }

    // Every manifest under testdata/ but the bundles: pods, jobs, sources, acs/*, vm, ...
    for f in manifests(&root) {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let rel = f.strip_prefix(&root).unwrap_or(&f);
        let name = rel.to_string_lossy().replace('/', "-");
        out.put("run_manifest", &name, &bytes);
        if f.extension().is_some_and(|e| e == "json") {
            out.put("pod_spec", &name, &bytes);
        }
    }

    let init = [
        InitMessage::Hello,
        InitMessage::Started { pid: 7 },
        InitMessage::Exited {
            status: ExitStatus::Code(3),
            oom_killed: false,
            message: None,
        },
        InitMessage::Exited {
            status: ExitStatus::Signal(9),
            oom_killed: true,
            message: Some("Killed".into()),
        },
        InitMessage::HandlerDone {
            handler: HandlerKind::PostStart,
            ok: true,
        },
        InitMessage::Probe {
            probe: ProbeKind::Readiness,
            ok: false,
        },
        InitMessage::AgentStop { signal: 15 },
    ];
    for (i, m) in init.iter().enumerate() {
        out.put("init_message", &format!("m{i}"), &proto::encode(m));
    }
    let sup = [
        SupervisorMessage::Release,
        SupervisorMessage::Restart,
        SupervisorMessage::RunHandler {
            handler: HandlerKind::PreStop,
        },
        SupervisorMessage::StartProbes,
        SupervisorMessage::StopProbes {
            keep_readiness: false,
        },
        SupervisorMessage::StopProbes {
            keep_readiness: true,
        },
        SupervisorMessage::Signal { signal: 15 },
        SupervisorMessage::Kill,
        SupervisorMessage::Finish {
            exit_code: 0,
            leftover_grace_ms: Some(1500),
        },
    ];
    for (i, m) in sup.iter().enumerate() {
        out.put("supervisor_message", &format!("m{i}"), &proto::encode(m));
    }
    let control = [
        ControlRequest::Poststart { id: "c1".into() },
        ControlRequest::Poststop { id: "c1".into() },
        ControlRequest::Status { pod_key: None },
        ControlRequest::Status {
            pod_key: plan::PodKey::parse("sbx-1").ok(),
        },
        ControlRequest::Stop {
            grace_seconds: Some(30),
            pod_key: None,
        },
    ];
    for (i, m) in control.iter().enumerate() {
        out.put("control_request", &format!("m{i}"), &proto::encode(m));
    }
    // runc's createRuntime state and crun's startContainer state (SPEC section 4).
    out.put("oci_state", "runc", br#"{"ociVersion":"1.0.2-dev","id":"app","status":"creating","pid":4242,"bundle":"/run/b/app","annotations":{"io.kubernetes.cri.container-name":"app"}}"#);
    out.put("oci_state", "crun", br#"{"ociVersion":"1.0","id":"c1","pid":0,"root":"/run/crun/c1","bundle":"/","status":"starting"}"#);
}

/// A bundle's declarations: `plan_fields` lines, and its pod spec with the probes and
/// handlers inside it for `pod_spec`.
fn declarations(out: &Out, name: &str, config: &Value) {
    let mut lines = String::new();
    for (k, v) in config["annotations"].as_object().into_iter().flatten() {
        if let Some(v) = v.as_str() {
            // The pod spec on one line (the line format has no escapes).
            let v = serde_json::from_str::<Value>(v).map_or(v.to_owned(), |j| {
                if j.is_object() {
                    j.to_string()
                } else {
                    v.to_owned()
                }
            });
            lines += &format!("@{k}={}\n", v.replace('\n', " "));
        }
    }
    for e in config
        .pointer("/process/env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(e) = e.as_str() {
            lines += &format!("${}\n", e.replace('\n', " "));
        }
    }
    out.put("plan_fields", name, lines.as_bytes());
    let Some(spec) = config["annotations"][plan::keys::POD_SPEC].as_str() else {
        return;
    };
    out.put("pod_spec", name, spec.as_bytes());
    let Ok(spec) = serde_json::from_str::<Value>(spec) else {
        return;
    };
    let spec = if spec.get("containers").is_none() {
        &spec["spec"]
    } else {
        &spec
    };
    let mut n = 0;
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            let parts = ["startupProbe", "readinessProbe", "livenessProbe"]
                .iter()
                .map(|k| &c[*k])
                .chain(["postStart", "preStop"].iter().map(|k| &c["lifecycle"][*k]));
            for part in parts.filter(|p| p.is_object()) {
                out.put(
                    "pod_spec",
                    &format!("{name}-part{n}"),
                    json!(part).to_string().as_bytes(),
                );
                n += 1;
            }
        }
    }
}
