//! How the container is stopped: its stop signal (annotation > the pod spec's
//! `lifecycle.stopSignal` > SIGTERM) and the pod's grace period (annotation > the pod spec's
//! `terminationGracePeriodSeconds` > none declared).

use super::super::keys::{GRACE, STOP_SIGNAL};
use super::super::values::{check_seconds, parse_signal};
use super::super::{PlanError, PlanErrorKind, Source, StopSignal};
use super::{Ctx, Decided};

pub fn stop_signal(ctx: &Ctx<'_>) -> Result<Decided<StopSignal>, PlanError> {
    let from_spec = ctx
        .container()
        .and_then(|c| c.lifecycle.as_ref())
        .and_then(|l| l.stop_signal.as_deref());
    let (raw, source) = match (ctx.ann(STOP_SIGNAL), from_spec) {
        (Some(raw), _) => (raw, Source::annotation(STOP_SIGNAL)),
        (None, Some(raw)) => (raw, ctx.spec_field("lifecycle.stopSignal")),
        (None, None) => return Ok(Decided::new(StopSignal::default(), Source::Default)),
    };
    let (number, name) =
        parse_signal(raw).map_err(|m| ctx.err(PlanErrorKind::InvalidValue, source.clone(), m))?;
    Ok(Decided::new(StopSignal { number, name }, source))
}

pub fn grace_seconds(ctx: &Ctx<'_>) -> Result<Option<Decided<u64>>, PlanError> {
    match (
        ctx.ann(GRACE),
        ctx.spec.and_then(|s| s.termination_grace_period_seconds),
    ) {
        (Some(raw), _) => {
            let source = Source::annotation(GRACE);
            let t = raw.trim();
            let n: i64 = t.parse().map_err(|_| {
                // Digits that overflow i64 are a number out of range, not a typo.
                let kind = if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '-') {
                    PlanErrorKind::OutOfRange
                } else {
                    PlanErrorKind::InvalidValue
                };
                ctx.err(
                    kind,
                    source.clone(),
                    format!("expected whole seconds, got {raw:?}"),
                )
            })?;
            let n = check_seconds(n)
                .map_err(|m| ctx.err(PlanErrorKind::OutOfRange, source.clone(), m))?;
            Ok(Some(Decided::new(n, source)))
        }
        (None, Some(n)) => {
            let source = ctx.spec_field("terminationGracePeriodSeconds");
            let n = check_seconds(n)
                .map_err(|m| ctx.err(PlanErrorKind::OutOfRange, source.clone(), m))?;
            Ok(Some(Decided::new(n, source)))
        }
        (None, None) => Ok(None),
    }
}
