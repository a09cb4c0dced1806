//! The restart decisions: the container's own `restartPolicy` / `restartPolicyRules` as the API
//! server validates them, and the effective policy (annotation > kind rule > pod spec >
//! Kubernetes default, Always).

use super::super::dialect::{EnvDialect, SidecarStyle};
use super::super::keys::{KIND, RESTART_POLICY};
use super::super::restart::{self, ContainerRestart, FieldErrorType, RestartRule};
use super::super::{Kind, PlanError, PlanErrorKind, RestartPolicy, Source};
use super::{Ctx, Decided, Role};

/// The container's own restartPolicy and restartPolicyRules (KEP-5307), as the API server
/// validates them; an initContainers entry with Always is a native sidecar.
pub fn own(ctx: &Ctx<'_>) -> Result<ContainerRestart, PlanError> {
    let Some((c, role)) = ctx.entry else {
        return Ok(ContainerRestart::default());
    };
    restart::validate(c, &role.spec_path(), matches!(role, Role::Init(_))).map_err(|e| {
        let kind = match e.kind {
            FieldErrorType::TooMany => PlanErrorKind::OutOfRange,
            _ => PlanErrorKind::InvalidValue,
        };
        ctx.err(kind, Source::spec_field(e.path.clone()), e.to_string())
    })
}

/// The restart policy: annotation > kind rule > pod spec > Kubernetes default (Always).
/// `kind_source` is what made it a sidecar, cited when the kind rule decides.
pub fn policy(
    ctx: &Ctx<'_>,
    kind: Kind,
    kind_source: &Source,
    own: &ContainerRestart,
    dialect: &EnvDialect,
    notes: &mut Vec<String>,
) -> Result<Decided<RestartPolicy>, PlanError> {
    let own_src = ctx.role().map(Role::spec_path).unwrap_or_default();
    let native_sidecar = matches!(ctx.role(), Some(Role::Init(_)));
    let pod_policy = match ctx.spec.and_then(|s| s.restart_policy.as_deref()) {
        None => Decided::new(RestartPolicy::Always, Source::Default),
        Some(raw) => Decided::new(
            RestartPolicy::parse(raw).ok_or_else(|| {
                ctx.err(
                    PlanErrorKind::InvalidValue,
                    Source::spec_field("restartPolicy"),
                    format!("expected Always, OnFailure or Never, got {raw:?}"),
                )
            })?,
            Source::spec_field("restartPolicy"),
        ),
    };
    if let Some(raw) = ctx.ann(RESTART_POLICY) {
        notes.push(format!("restart policy from annotation {RESTART_POLICY}"));
        let policy = RestartPolicy::parse(raw).ok_or_else(|| {
            ctx.err(
                PlanErrorKind::InvalidValue,
                Source::annotation(RESTART_POLICY),
                format!("expected Always, OnFailure or Never, got {raw:?}"),
            )
        })?;
        return Ok(Decided::new(policy, Source::annotation(RESTART_POLICY)));
    }
    if let Some(own) = own
        .policy
        .filter(|_| !(kind == Kind::Sidecar && ctx.ann(KIND).is_some()))
    {
        // The pod spec's word on this container outranks an env dialect's "always restarts".
        let pod = pod_policy.value;
        if own != pod && kind != Kind::Sidecar {
            notes.push(format!(
                "restart policy {own:?} from pod spec {own_src}.restartPolicy (overrides the pod's {pod:?})"
            ));
        } else if kind == Kind::Sidecar && !native_sidecar && own != RestartPolicy::Always {
            notes.push(format!(
                "restart policy {own:?} from pod spec {own_src}.restartPolicy (the sidecar declaration would restart it always)"
            ));
        }
        return Ok(Decided::new(
            own,
            Source::spec_field(format!("{own_src}.restartPolicy")),
        ));
    }
    if kind == Kind::Sidecar && !matches!(dialect.sidecar, Some((SidecarStyle::StopOnly, ..))) {
        return Ok(Decided::new(RestartPolicy::Always, kind_source.clone()));
    }
    Ok(pod_policy)
}

/// The explain note for `restartPolicyRules`, if the container has any.
pub fn rules_note(
    ctx: &Ctx<'_>,
    rules: &[RestartRule],
    policy: RestartPolicy,
    notes: &mut Vec<String>,
) {
    if rules.is_empty() {
        return;
    }
    let own_src = ctx.role().map(Role::spec_path).unwrap_or_default();
    let list: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("[{i}] {}", r.describe()))
        .collect();
    notes.push(format!(
        "restartPolicyRules from pod spec {own_src}, first match wins: {}; else {policy:?}",
        list.join("; ")
    ));
}
