//! `io.podinit.sidecar-grace-reserve`: seconds of the pod's grace budget kept for its sidecars
//! at teardown, so a log sidecar that flushes after the apps are gone gets that long even when
//! an app takes its whole share. A pod-level value: on the container's annotations (an agent
//! copies pod annotations there, as for `io.kubernetes.pod.terminationGracePeriod`) or in a
//! whole Pod's `metadata.annotations` in the pod spec annotation.

use super::k8s::PodSpec;
use super::keys::SIDECAR_GRACE_RESERVE;
use super::values::check_seconds;
use super::{PlanError, PlanErrorKind, Source};

/// The reserve and where it was declared, or `None`.
pub fn read(
    name: &str,
    annotation: Option<&str>,
    spec: Option<&PodSpec>,
) -> Result<Option<(u64, Source)>, PlanError> {
    let Some((raw, source)) = super::pod_level::lookup(SIDECAR_GRACE_RESERVE, annotation, spec)
    else {
        return Ok(None);
    };
    let bad = |kind, msg: String| PlanError::new(kind, name, source.clone(), msg);
    let n: i64 = raw.trim().parse().map_err(|_| {
        bad(
            PlanErrorKind::InvalidValue,
            format!("expected whole seconds (e.g. \"10\"), got {raw:?}"),
        )
    })?;
    let n = check_seconds(n).map_err(|e| bad(e.kind(), e.to_string()))?;
    Ok(Some((n, source)))
}
