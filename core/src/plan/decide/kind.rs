//! What the container is: annotation > pod-spec structure > env dialect > default.

use super::super::dialect::EnvDialect;
use super::super::keys::KIND;
use super::super::restart::ContainerRestart;
use super::super::{Kind, PlanError, PlanErrorKind, RestartPolicy, Source};
use super::{Ctx, Decided, Role};

/// The kind, the sentence explain gives for it (`ContainerPlan::reason`) and its source.
pub fn kind(
    ctx: &Ctx<'_>,
    own: &ContainerRestart,
    dialect: &EnvDialect,
    notes: &mut Vec<String>,
) -> Result<(Decided<Kind>, String), PlanError> {
    let init_entry = match ctx.role() {
        Some(Role::Init(i)) => Some(i),
        _ => None,
    };
    // Env dialects only refine regular containers: an initContainers entry keeps its place.
    if let (Some(_), Some((_, why, _))) = (init_entry, &dialect.sidecar) {
        notes.push(format!(
            "{why} ignored: an initContainers entry keeps its place in the init sequence"
        ));
    }
    if let Some(k) = ctx.ann(KIND) {
        let kind = match k {
            "init" => Kind::Init,
            "sidecar" => Kind::Sidecar,
            "app" => Kind::App,
            other => {
                return Err(ctx.err(
                    PlanErrorKind::InvalidValue,
                    Source::annotation(KIND),
                    format!("unknown kind {other:?} (expected init, sidecar or app)"),
                ));
            }
        };
        return Ok((
            Decided::new(kind, Source::annotation(KIND)),
            format!("annotation {KIND}={k}"),
        ));
    }
    if let Some(i) = init_entry {
        let path = format!("spec.initContainers[{i}]");
        return Ok(if own.policy == Some(RestartPolicy::Always) {
            (
                Decided::new(
                    Kind::Sidecar,
                    Source::spec_field(format!("{path}.restartPolicy")),
                ),
                format!("pod spec initContainers[{i}] has restartPolicy: Always (native sidecar)"),
            )
        } else {
            (
                Decided::new(Kind::Init, Source::spec_field(path)),
                format!("pod spec initContainers[{i}] (regular init container)"),
            )
        });
    }
    if let Some((_, why, source)) = &dialect.sidecar {
        return Ok((Decided::new(Kind::Sidecar, source.clone()), why.clone()));
    }
    if let Some(Role::Regular(i)) = ctx.role() {
        return Ok((
            Decided::new(
                Kind::App,
                Source::spec_field(format!("spec.containers[{i}]")),
            ),
            format!("pod spec containers[{i}] with no sidecar declaration"),
        ));
    }
    Ok((
        Decided::new(Kind::App, Source::Default),
        "no init or sidecar declaration (annotation, pod spec or env dialect): an app container"
            .to_owned(),
    ))
}
