//! Where a pod-level annotation is read from: the container's own annotations first (an agent
//! copies the pod's there, as containerd's pod annotation pass-through does), then a whole Pod's
//! `metadata.annotations` in the pod spec annotation (what `podinit run` writes).

use super::Source;
use super::k8s::PodSpec;

/// `key`'s value and where it was found, for error messages and `explain`.
pub fn lookup<'a>(
    key: &str,
    on_container: Option<&'a str>,
    spec: Option<&'a PodSpec>,
) -> Option<(&'a str, Source)> {
    if let Some(v) = on_container {
        return Some((v, Source::annotation(key)));
    }
    spec.and_then(|s| s.pod_annotations.get(key)).map(|v| {
        (
            v.as_str(),
            Source::PodAnnotation {
                key: key.to_owned(),
            },
        )
    })
}
