//! How the container is stopped: its stop signal (annotation > the pod spec's
//! `lifecycle.stopSignal` > SIGTERM) and the pod's grace period (annotation > the pod spec's
//! `terminationGracePeriodSeconds` > none declared).

use super::super::keys::{GRACE, STOP_SIGNAL};
use super::super::values::{check_seconds, parse_seconds, parse_signal};
use super::super::{PlanError, Source};
use super::{Ctx, Decided};
use crate::signal::Signal;

pub fn stop_signal(ctx: &Ctx<'_>) -> Result<Decided<Signal>, PlanError> {
    let from_spec = ctx
        .container()
        .and_then(|c| c.lifecycle.as_ref())
        .and_then(|l| l.stop_signal.as_deref());
    let (raw, source) = match (ctx.ann(STOP_SIGNAL), from_spec) {
        (Some(raw), _) => (raw, Source::annotation(STOP_SIGNAL)),
        (None, Some(raw)) => (raw, ctx.spec_field("lifecycle.stopSignal")),
        (None, None) => return Ok(Decided::new(Signal::SIGTERM, Source::Default)),
    };
    let signal = parse_signal(raw).map_err(|e| ctx.err(e.kind(), source.clone(), e.to_string()))?;
    Ok(Decided::new(signal, source))
}

pub fn grace_seconds(ctx: &Ctx<'_>) -> Result<Option<Decided<u64>>, PlanError> {
    let (parsed, source) = match (
        ctx.ann(GRACE),
        ctx.spec.and_then(|s| s.termination_grace_period_seconds),
    ) {
        (Some(raw), _) => (parse_seconds(raw), Source::annotation(GRACE)),
        (None, Some(n)) => (
            check_seconds(n),
            ctx.spec_field("terminationGracePeriodSeconds"),
        ),
        (None, None) => return Ok(None),
    };
    let n = parsed.map_err(|e| ctx.err(e.kind(), source.clone(), e.to_string()))?;
    Ok(Some(Decided::new(n, source)))
}
