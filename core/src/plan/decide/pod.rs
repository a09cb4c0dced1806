//! The pod-level declarations a container's plan carries: the sidecars' grace reserve, the
//! sidecars an app needs, the pod's active deadline and the start-wait deadline.

use super::super::keys::{NEEDS_SIDECARS, SIDECAR_GRACE_RESERVE};
use super::super::start_wait::{self, StartTimeout};
use super::super::{Kind, NeedsSidecars, PlanError, PlanErrorKind, SidecarLoss, Source};
use super::Ctx;

pub fn sidecar_reserve(ctx: &Ctx<'_>, notes: &mut Vec<String>) -> Result<Option<u64>, PlanError> {
    let found =
        super::super::sidecar_reserve::read(ctx.name, ctx.ann(SIDECAR_GRACE_RESERVE), ctx.spec)?;
    Ok(found.map(|(n, source)| {
        notes.push(format!(
            "at teardown the sidecars keep the last {n}s of the grace budget: apps are \
             killed {n}s before its end ({source})"
        ));
        n
    }))
}

pub fn needs_sidecars(
    ctx: &Ctx<'_>,
    kind: Kind,
    notes: &mut Vec<String>,
) -> Result<Option<NeedsSidecars>, PlanError> {
    let needs = super::super::regate::read(ctx.name, kind, ctx.ann(NEEDS_SIDECARS), ctx.spec)?;
    if let Some(n) = &needs {
        notes.push(format!(
            "needs {} for its whole life: {}",
            n.sidecars.join(", "),
            match n.on_loss {
                SidecarLoss::Restart => "stopped when one exits or turns unready, started again once all are started and ready",
                SidecarLoss::Hold => "its restarts wait until they are all started and ready",
            }
        ));
    }
    Ok(needs)
}

/// The API server's rule (ValidatePodSpec): 1 to 2147483647 seconds.
pub fn active_deadline(ctx: &Ctx<'_>, notes: &mut Vec<String>) -> Result<Option<u64>, PlanError> {
    match ctx.spec.and_then(|s| s.active_deadline_seconds) {
        None => Ok(None),
        Some(n) if (1..=i64::from(i32::MAX)).contains(&n) => {
            notes.push(format!(
                "the pod fails with DeadlineExceeded {n}s after it started (pod spec activeDeadlineSeconds)"
            ));
            // Invariant: 1..=i32::MAX fits u64.
            Ok(Some(n as u64))
        }
        Some(n) => Err(ctx.err(
            PlanErrorKind::OutOfRange,
            Source::spec_field("activeDeadlineSeconds"),
            format!("must be between 1 and {}, got {n}", i32::MAX),
        )),
    }
}

pub fn start_timeout(
    ctx: &Ctx<'_>,
    notes: &mut Vec<String>,
) -> Result<Option<StartTimeout>, PlanError> {
    start_wait::read(ctx.annotations, ctx.spec, notes)
        .map_err(|(source, e)| ctx.err(e.kind(), source, e.to_string()))
}
