//! Mutation fuzzing of every parser that reads what a container, a runtime or an agent wrote
//! (SPEC section 6: "parsers fuzzed"): protocol lines, OCI state, `config.json` with its
//! annotations and env, and `inject`'s rewrite. The seeds are real inputs (the testdata bundles,
//! runc's and crun's hook state, encoded messages); each case applies a few random byte-level or
//! JSON-token mutations, or mutates one annotation/env value inside an otherwise valid config.
//! The property: no panic, and every error has a message. A failure prints its seed and case so
//! it replays exactly; `PODINIT_FUZZ_SEED` and `PODINIT_FUZZ_CASES` change the run.

use std::path::PathBuf;

use serde_json::Value;

use crate::inject::{self, InjectOptions};
use crate::oci_state;
use crate::plan::{self, BundleInput};
use crate::proto::{self, ControlRequest, InitMessage, SupervisorMessage};
use podinit_core::rng::Rng;

/// Tokens that push JSON parsers and our typed fields to their edges.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775809",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"Always\"",
    "\"sidecar\"",
    "{\"exec\":{\"command\":[]}}",
    "[[[[[[[[",
    "\"restartPolicy\"",
    "\"initContainers\"",
    "\u{feff}",
    "\\",
    "\n",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let end = (at + 1 + rng.below(32)).min(out.len());
                let chunk = out[at.min(end)..end].to_vec();
                out.splice(at..at, chunk);
            }
            3 => out.truncate(at),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
        }
    }
    out
}

fn seed_and_cases() -> (u64, usize) {
    let seed = std::env::var("PODINIT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005E_ED0F_90D1_u64);
    let cases = std::env::var("PODINIT_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    (seed | 1, cases)
}

/// Runs `check` on `cases` mutations of the seeds; a panic names the seed, case and input.
fn fuzz(target: &str, seeds: &[Vec<u8>], check: impl Fn(&[u8])) {
    let (seed, cases) = seed_and_cases();
    let mut rng = Rng(seed ^ target.len() as u64);
    for case in 0..cases {
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick]);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        assert!(
            outcome.is_ok(),
            "{target}: panicked on case {case} (PODINIT_FUZZ_SEED={seed}): {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

fn testdata_configs() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/bundles");
    let mut configs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("testdata/bundles is part of the repository")
        .filter_map(|e| std::fs::read(e.ok()?.path().join("config.json")).ok())
        .collect();
    configs.sort();
    assert!(configs.len() > 20, "testdata bundles not found in {dir:?}");
    configs
}

fn classify(config: &Value) {
    if let Err(e) = plan::classify_bundle(&BundleInput {
        config,
        fallback_name: "fuzz",
    }) {
        assert!(!e.to_string().is_empty(), "an error without a message");
    }
}

#[test]
fn protocol_lines() {
    let plan_seed = testdata_configs()
        .iter()
        .filter_map(|c| serde_json::from_slice::<Value>(c).ok())
        .find_map(|config| {
            match plan::classify_bundle(&BundleInput {
                config: &config,
                fallback_name: "seed",
            }) {
                // A whole pod spec: the largest register message there is.
                Ok(plan::Classified::Container {
                    plan,
                    pod: pod @ plan::PodDeclaration::Spec { .. },
                    ..
                }) => Some((plan, pod)),
                _ => None,
            }
        })
        .expect("a testdata bundle carries a pod spec");
    let seeds = vec![
        proto::encode(&ControlRequest::Register {
            id: "c1".into(),
            pid: 42,
            bundle: "/b".into(),
            plan: plan_seed.0,
            pod_digest: Some(crate::plan::declaration::digest(&plan_seed.1)),
            pod: Some(plan_seed.1),
            pod_spec: None,
            pod_key: Some(crate::plan::PodKey::default_pod()),
        }),
        proto::encode(&ControlRequest::Stop {
            grace_seconds: Some(30),
            pod_key: None,
        }),
        proto::encode(&ControlRequest::Status {
            pod_key: crate::plan::PodKey::parse("sbx-1").ok(),
        }),
        proto::encode(&InitMessage::Hello),
        proto::encode(&InitMessage::Started { pid: 7 }),
        proto::encode(&SupervisorMessage::Finish {
            exit_code: 0,
            leftover_grace_ms: Some(10),
        }),
    ];
    fuzz("protocol", &seeds, |line| {
        for result in [
            proto::decode::<ControlRequest>(line).map(drop),
            proto::decode::<InitMessage>(line).map(drop),
            proto::decode::<SupervisorMessage>(line).map(drop),
        ] {
            if let Err(e) = result {
                assert!(!e.to_string().is_empty());
            }
        }
    });
}

#[test]
fn oci_state_from_runc_and_crun() {
    let seeds = vec![
        br#"{"ociVersion":"1.0.2","id":"c1","status":"created","pid":4242,"bundle":"/run/b/c1","annotations":{"a":"b"}}"#.to_vec(),
        br#"{"ociVersion":"1.0.2","id":"c1","status":"starting","pid":0,"bundle":"/"}"#.to_vec(),
    ];
    fuzz("oci-state", &seeds, |input| {
        if let Err(e) = oci_state::parse(input) {
            assert!(!e.to_string().is_empty());
        }
    });
}

#[test]
fn config_json_bytes() {
    fuzz("config-bytes", &testdata_configs(), |input| {
        if let Ok(config) = serde_json::from_slice::<Value>(input) {
            classify(&config);
        }
    });
}

/// Byte mutations mostly break the JSON; these keep it valid and mutate one annotation or env
/// value (the pod spec is JSON inside a JSON string), so the plan's own parsers see the damage.
#[test]
fn annotation_and_env_values() {
    let configs: Vec<Value> = testdata_configs()
        .iter()
        .filter_map(|c| serde_json::from_slice(c).ok())
        .collect();
    let (seed, cases) = seed_and_cases();
    let mut rng = Rng(seed ^ 0xA77);
    for case in 0..cases {
        let mut config = configs[rng.below(configs.len())].clone();
        let n_ann = config
            .get("annotations")
            .and_then(Value::as_object)
            .map_or(0, |a| a.len());
        let n_env = config
            .pointer("/process/env")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if n_ann + n_env == 0 {
            continue;
        }
        let k = rng.below(n_ann + n_env);
        let slot = if k < n_ann {
            // Invariant: just counted n_ann entries in this object.
            config["annotations"]
                .as_object_mut()
                .and_then(|a| a.values_mut().nth(k))
                .expect("counted above")
        } else {
            &mut config["process"]["env"][k - n_ann]
        };
        let before = slot.as_str().unwrap_or_default().to_owned();
        let mutated = mutate(&mut rng, before.as_bytes());
        *slot = Value::String(String::from_utf8_lossy(&mutated).into_owned());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| classify(&config)));
        assert!(
            outcome.is_ok(),
            "classify panicked on case {case} (PODINIT_FUZZ_SEED={seed}), mutating {before:?}"
        );
    }
}

#[test]
fn inject_rewrite() {
    let opts = InjectOptions {
        binary: "/usr/local/bin/podinit".into(),
        socket: "/run/podinit/podinit.sock".into(),
        state_dir: "/run/podinit".into(),
        log_level: None,
        hooks: inject::HookMode::Hooks,
        id: "c".into(),
    };
    let no_hooks = InjectOptions {
        hooks: inject::HookMode::NoHooks,
        ..opts.clone()
    };
    let auto = InjectOptions {
        hooks: inject::HookMode::Auto,
        ..opts.clone()
    };
    fuzz("inject", &testdata_configs(), |input| {
        if let Ok(original) = serde_json::from_slice::<Value>(input) {
            for opts in [&opts, &no_hooks, &auto] {
                let mut config = original.clone();
                if inject::rewrite(&mut config, opts).is_ok() {
                    // Idempotent on whatever it accepted, with hooks and without.
                    let once = config.clone();
                    assert_eq!(inject::rewrite(&mut config, opts), Ok(false));
                    assert_eq!(config, once);
                }
            }
        }
    });
}
