//! The Kubernetes parsers: `PodSpec` (bare or a whole Pod) → every container's plan, and the
//! same bytes as one `Probe` (startup/liveness and readiness rules) and one `LifecycleHandler`.
//! Accepted values are in range; errors name the declaration at fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::plan::{self, PodDeclaration, k8s};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match k8s::parse_pod_spec(text) {
        Ok(spec) => match plan::plans_from_pod_spec(&spec) {
            Ok(containers) => podinit_fuzz::check_pod(&PodDeclaration::Spec { containers }),
            Err(e) => podinit_fuzz::check_plan_error(&e),
        },
        Err(e) => assert!(!e.is_empty()),
    }
    let ports = [k8s::ContainerPort {
        name: Some("http".into()),
        container_port: 8080,
    }];
    if let Ok(p) = serde_json::from_str::<k8s::Probe>(text) {
        for must_succeed_once in [false, true] {
            match plan::probe_from_k8s(&p, &ports, must_succeed_once) {
                Ok(spec) => podinit_fuzz::check_probe(&spec, must_succeed_once),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
    if let Ok(h) = serde_json::from_str::<k8s::LifecycleHandler>(text) {
        match plan::handler_from_k8s(&h, &ports) {
            Ok(plan::Handler::Sleep { seconds }) => assert!(seconds <= plan::MAX_SECONDS as u64),
            Ok(_) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
