//! For tests that speak the supervisor's protocol themselves: what the createRuntime hook would
//! send for a container, and the python3 their fake clients run in.

use std::path::Path;

use serde_json::{Value, json};

use super::skip::{Need, program};

/// The plan and pod declaration the hook would send for container `name` of a pod with `spec`
/// (`{"plan": …, "pod": …}`), from `podinit explain`'s classification of a bundle in `dir`.
pub fn declaration(dir: &Path, name: &str, spec: &Value) -> Value {
    let bundle = dir.join(format!("bundle-{name}"));
    std::fs::create_dir_all(&bundle).unwrap();
    let config = json!({"process": {"args": ["true"]}, "annotations": {
        "io.podinit.container-name": name, "io.podinit.pod-spec": spec.to_string()}});
    std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    let classified = podinit::explain::classify_path(&bundle).unwrap();
    let _ = std::fs::remove_dir_all(&bundle);
    match classified {
        podinit::plan::Classified::Container { plan, pod, .. } => json!({"plan": plan, "pod": pod}),
        podinit::plan::Classified::Ignored { .. } => panic!("not a sandbox"),
    }
}

/// The python3 the fake clients run in.
pub const PYTHON3: Need = program("python3", "python3");
