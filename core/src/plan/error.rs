//! Plan errors: each names the container, the declaration at fault (annotation, env var or field)
//! and what would be accepted, so an operator can fix the pod without reading podinit's code.

use std::fmt;

use super::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// `config.json` or an annotation is not JSON, or not the JSON shape expected.
    InvalidJson,
    /// A value of the wrong type or format (a number that is not a number, an unknown kind).
    InvalidValue,
    /// A number outside its documented range.
    OutOfRange,
    /// A declaration podinit understands but deliberately does not support (e.g. gRPC probes).
    Unsupported,
    /// The pod spec has no entry for this container.
    NotInPodSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub kind: PlanErrorKind,
    /// The container's name as far as it is known (or the bundle path).
    pub container: String,
    /// The annotation, env var or field at fault.
    pub source: Source,
    pub message: String,
}

impl PlanError {
    pub fn new(
        kind: PlanErrorKind,
        container: &str,
        source: Source,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            container: container.to_owned(),
            source,
            message: message.into(),
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "container \"{}\": {}: {}",
            self.container, self.source, self.message
        )
    }
}

impl std::error::Error for PlanError {}
