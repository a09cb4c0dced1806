//! How the container's exit is reported: a Baidu BCI list that reports it as success, and the
//! termination message.

use super::super::keys::BCI_IGNORE_EXIT_CODE;
use super::super::{PlanError, PlanErrorKind, TerminationMessage};
use super::Ctx;

/// Baidu BCI: a pod annotation listing the containers that report success, on the
/// container's own annotations (an agent copies pod annotations there) or the Pod's.
/// `from_dialect` is ECI's word (`ECI_CONTAINER_IGNORE_EXIT_CODE`).
pub fn ignore_exit_code(ctx: &Ctx<'_>, from_dialect: bool, notes: &mut Vec<String>) -> bool {
    let name = ctx.name;
    let bci = super::super::pod_level::lookup(
        BCI_IGNORE_EXIT_CODE,
        ctx.ann(BCI_IGNORE_EXIT_CODE),
        ctx.spec,
    );
    if let Some((list, source)) = bci {
        if list.split(',').map(str::trim).any(|n| n == name) {
            notes.push(format!("exit code reported as 0 ({source} lists {name})"));
            return true;
        }
    }
    from_dialect
}

/// `terminationMessagePath` and `terminationMessagePolicy` as the API server defaults and
/// validates them: empty means the default; the policy is `File` or `FallbackToLogsOnError`;
/// the path is absolute (a relative one is taken from the container's root, where the init
/// reads it).
pub fn termination_message(ctx: &Ctx<'_>) -> Result<TerminationMessage, PlanError> {
    let mut tm = TerminationMessage::default();
    let Some(c) = ctx.container() else {
        return Ok(tm);
    };
    let bad =
        |field: &str, m: String| ctx.err(PlanErrorKind::InvalidValue, ctx.spec_field(field), m);
    match c.termination_message_policy.as_deref() {
        None | Some("") | Some("File") => {}
        Some("FallbackToLogsOnError") => tm.fallback_to_logs = true,
        Some(other) => {
            return Err(bad(
                "terminationMessagePolicy",
                format!("supported values: \"File\", \"FallbackToLogsOnError\"; got {other:?}"),
            ));
        }
    }
    match c.termination_message_path.as_deref() {
        None | Some("") => {}
        Some(p) if p.contains('\0') => {
            return Err(bad(
                "terminationMessagePath",
                "must not contain a NUL byte".into(),
            ));
        }
        Some(p) if p.starts_with('/') => tm.path = p.to_owned(),
        Some(p) => tm.path = format!("/{p}"),
    }
    Ok(tm)
}
