//! Probes and lifecycle handlers: the annotation (a Kubernetes `Probe` / `LifecycleHandler` as
//! JSON) over the pod spec's field; none on a regular init container.

use super::super::k8s;
use super::super::keys::{LIVENESS_PROBE, POST_START, PRE_STOP, READINESS_PROBE, STARTUP_PROBE};
use super::super::probe::{Handler, ProbeSpec, handler_from_k8s, probe_from_k8s};
use super::super::{Kind, PlanError, PlanErrorKind, Source};
use super::Ctx;

#[derive(Debug, Default)]
pub struct Probes {
    pub startup: Option<ProbeSpec>,
    pub readiness: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub post_start: Option<Handler>,
    pub pre_stop: Option<Handler>,
}

pub fn probes(ctx: &Ctx<'_>, kind: Kind, notes: &mut Vec<String>) -> Result<Probes, PlanError> {
    let entry = ctx.container();
    let lifecycle = entry.and_then(|c| c.lifecycle.as_ref());
    let found = Probes {
        startup: probe(
            ctx,
            STARTUP_PROBE,
            entry.and_then(|c| c.startup_probe.as_ref()),
            "startupProbe",
            true,
        )?,
        readiness: probe(
            ctx,
            READINESS_PROBE,
            entry.and_then(|c| c.readiness_probe.as_ref()),
            "readinessProbe",
            false,
        )?,
        liveness: probe(
            ctx,
            LIVENESS_PROBE,
            entry.and_then(|c| c.liveness_probe.as_ref()),
            "livenessProbe",
            true,
        )?,
        post_start: handler(
            ctx,
            POST_START,
            lifecycle.and_then(|l| l.post_start.as_ref()),
            "lifecycle.postStart",
        )?,
        pre_stop: handler(
            ctx,
            PRE_STOP,
            lifecycle.and_then(|l| l.pre_stop.as_ref()),
            "lifecycle.preStop",
        )?,
    };
    if kind != Kind::Init {
        return Ok(found);
    }
    // Kubernetes rejects probes and lifecycle on regular init containers (istio/istio#52245).
    if found.startup.is_some()
        || found.readiness.is_some()
        || found.liveness.is_some()
        || found.post_start.is_some()
        || found.pre_stop.is_some()
    {
        notes.push(
            "probes and lifecycle handlers ignored: Kubernetes allows them only on sidecars and apps"
                .into(),
        );
    }
    Ok(Probes::default())
}

fn ports<'a>(ctx: &Ctx<'a>) -> &'a [k8s::ContainerPort] {
    ctx.entry.map(|(c, _)| c.ports.as_slice()).unwrap_or(&[])
}

fn probe(
    ctx: &Ctx<'_>,
    key: &str,
    from_spec: Option<&k8s::Probe>,
    field: &str,
    once: bool,
) -> Result<Option<ProbeSpec>, PlanError> {
    let ports = ports(ctx);
    if let Some(raw) = ctx.ann(key) {
        let p: k8s::Probe = serde_json::from_str(raw).map_err(|e| {
            ctx.err(
                PlanErrorKind::InvalidJson,
                Source::annotation(key),
                format!("not a Kubernetes Probe: {e}"),
            )
        })?;
        return probe_from_k8s(&p, ports, once).map(Some).map_err(|e| {
            ctx.err(
                PlanErrorKind::InvalidValue,
                Source::annotation(key),
                e.to_string(),
            )
        });
    }
    from_spec
        .map(|p| {
            probe_from_k8s(p, ports, once).map_err(|e| {
                ctx.err(
                    PlanErrorKind::InvalidValue,
                    ctx.spec_field(field),
                    e.to_string(),
                )
            })
        })
        .transpose()
}

fn handler(
    ctx: &Ctx<'_>,
    key: &str,
    from_spec: Option<&k8s::LifecycleHandler>,
    field: &str,
) -> Result<Option<Handler>, PlanError> {
    let ports = ports(ctx);
    if let Some(raw) = ctx.ann(key) {
        let h: k8s::LifecycleHandler = serde_json::from_str(raw).map_err(|e| {
            ctx.err(
                PlanErrorKind::InvalidJson,
                Source::annotation(key),
                format!("not a Kubernetes LifecycleHandler: {e}"),
            )
        })?;
        return handler_from_k8s(&h, ports).map(Some).map_err(|e| {
            ctx.err(
                PlanErrorKind::InvalidValue,
                Source::annotation(key),
                e.to_string(),
            )
        });
    }
    from_spec
        .map(|h| {
            handler_from_k8s(h, ports).map_err(|e| {
                ctx.err(
                    PlanErrorKind::InvalidValue,
                    ctx.spec_field(field),
                    e.to_string(),
                )
            })
        })
        .transpose()
}
