//! Where the container sits in the start sequence: the init sequence (by `io.podinit.index` or
//! its initContainers position) or the regular containers (by launch priority).

use super::super::dialect::{EnvDialect, SidecarStyle};
use super::super::keys::{INDEX, KIND};
use super::super::values::parse_int_in;
use super::super::{Kind, PlanError, PlanErrorKind, Source, StartSlot};
use super::{Ctx, Decided, Role};

pub fn start_slot(
    ctx: &Ctx<'_>,
    kind: Kind,
    dialect: &EnvDialect,
    notes: &mut Vec<String>,
) -> Result<Decided<StartSlot>, PlanError> {
    let index = match ctx.ann(INDEX) {
        Some(raw) => Some(
            parse_int_in(raw, 0, 10_000)
                // Any bad index, out of range included, has always been InvalidValue.
                .map_err(|e| {
                    ctx.err(
                        PlanErrorKind::InvalidValue,
                        Source::annotation(INDEX),
                        e.to_string(),
                    )
                })? as u32,
        ),
        None => None,
    };
    let in_init_sequence = match kind {
        Kind::Init => true,
        // A sidecar is native (init sequence) unless it is a regular container of the spec, or an
        // env-dialect sidecar of an annotation-only pod.
        Kind::Sidecar => match ctx.role() {
            Some(Role::Init(_)) => true,
            Some(Role::Regular(_)) => false,
            None => ctx.ann(KIND).is_some(),
        },
        Kind::App => false,
    };
    if in_init_sequence {
        let (index, source) = match (index, ctx.role()) {
            (Some(i), _) => (i, Source::annotation(INDEX)),
            (None, Some(role @ Role::Init(i))) => (i as u32, Source::spec_field(role.spec_path())),
            _ => {
                notes.push(format!(
                    "no annotation {INDEX}: placed first in the init sequence (index 0)"
                ));
                (0, Source::Default)
            }
        };
        if let Some((_, why, _)) = &dialect.launch_priority {
            notes.push(format!(
                "{why} ignored: init containers start in declaration order"
            ));
        }
        return Ok(Decided::new(StartSlot::Init { index }, source));
    }
    let early = kind == Kind::Sidecar
        && (matches!(dialect.sidecar, Some((SidecarStyle::StartsFirst, ..)))
            || (ctx.ann(KIND).is_some() && dialect.sidecar.is_none()));
    let (priority, source) = match &dialect.launch_priority {
        Some((p, why, source)) => {
            notes.push(format!("launch priority from {why}"));
            (*p, source.clone())
        }
        None => (0, Source::Default),
    };
    Ok(Decided::new(StartSlot::Regular { priority, early }, source))
}
