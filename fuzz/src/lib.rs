//! The properties the fuzz targets check, beyond "no panic": shared by the targets so each one is
//! the input it feeds and nothing else.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use podinit::plan::{self, BundleInput, Classified, PlanError, PodDeclaration};
use podinit::proto::{self, ControlRequest};

/// decode ∘ encode is the identity on every message the decoder accepts, and the encoding is
/// stable: what one side sends, the other reads back unchanged.
pub fn protocol_round_trip<T>(line: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    match proto::decode::<T>(line) {
        Ok(msg) => {
            let wire = proto::encode(&msg);
            assert_eq!(wire.last(), Some(&b'\n'), "one message is one line");
            assert!(
                !wire[..wire.len() - 1].contains(&b'\n'),
                "an encoded message spans lines"
            );
            let again: T = proto::decode(&wire).expect("an encoded message decodes");
            assert_eq!(again, msg, "decode(encode(m)) != m");
            assert_eq!(proto::encode(&again), wire, "encoding is not stable");
        }
        Err(e) => assert!(
            !e.to_string().is_empty(),
            "a decode error without a message"
        ),
    }
}

/// A plan error names the container and the declaration at fault, and says something.
pub fn check_plan_error(e: &PlanError) {
    assert!(!e.container.is_empty(), "no container named: {e:?}");
    assert!(
        !e.source.to_string().is_empty(),
        "no declaration named: {e:?}"
    );
    assert!(!e.message.is_empty(), "no message: {e:?}");
}

/// What a hook sends for this classification crosses the control socket unchanged.
pub fn check_classified(c: &Classified) {
    let Classified::Container { plan, pod, pod_key } = c else {
        return;
    };
    assert!(!plan.name.is_empty(), "a plan without a name");
    check_pod(pod);
    let register = ControlRequest::Register {
        id: "fuzz".into(),
        pid: 1,
        bundle: "/b".into(),
        plan: plan.clone(),
        pod: Some(pod.clone()),
        pod_spec: None,
        // The declaration's digest, as the first registration of a pod sends it beside the
        // declaration (later ones send the digest alone).
        pod_digest: Some(plan::declaration::digest(pod)),
        pod_key: Some(pod_key.key.clone()),
    };
    let wire = proto::encode(&register);
    assert_eq!(
        proto::decode::<ControlRequest>(&wire).as_ref(),
        Ok(&register),
        "a register does not survive the control socket"
    );
}

/// The pod's plans keep their numbers in range and cross the wire unchanged.
pub fn check_pod(pod: &PodDeclaration) {
    if let PodDeclaration::Spec { containers } = pod {
        check_plans(containers);
    }
    assert_eq!(
        proto::decode::<PodDeclaration>(&proto::encode(pod)).as_ref(),
        Ok(pod),
        "a pod declaration does not survive the wire"
    );
}

/// Every number a plan carries is inside the range the plan module documents.
pub fn check_plans(plans: &[plan::ContainerPlan]) {
    for p in plans {
        for probe in [&p.startup_probe, &p.readiness_probe, &p.liveness_probe]
            .into_iter()
            .flatten()
        {
            check_probe(probe, false);
        }
        for s in [p.grace_seconds, p.active_deadline_seconds]
            .into_iter()
            .flatten()
        {
            assert!(s <= plan::MAX_SECONDS as u64, "{s} seconds in {p:?}");
        }
    }
}

pub fn check_probe(p: &plan::ProbeSpec, must_succeed_once: bool) {
    assert!(p.timeout_seconds >= 1 && p.period_seconds >= 1, "{p:?}");
    assert!((1..=1_000_000).contains(&p.success_threshold), "{p:?}");
    assert!((1..=1_000_000).contains(&p.failure_threshold), "{p:?}");
    assert!(!must_succeed_once || p.success_threshold == 1, "{p:?}");
    for s in [p.initial_delay_seconds, p.timeout_seconds, p.period_seconds] {
        assert!(s <= plan::MAX_SECONDS as u64, "{p:?}");
    }
}

/// `config.json` as JSON, classified as a hook or `explain` would.
pub fn classify(config: &Value) {
    match plan::classify_bundle(&BundleInput {
        config,
        fallback_name: "fuzz",
    }) {
        Ok(c) => check_classified(&c),
        Err(e) => check_plan_error(&e),
    }
}

/// A bundle directory of this process's own on tmpfs (inject fsyncs; a disk would make every
/// execution a write to it), made once and reused by every execution.
pub fn temp_bundle() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("podinit-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp bundle directory");
        dir
    })
}
