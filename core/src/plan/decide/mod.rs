//! The plan's decisions, one function each, called in order by `build::build_plan`: the
//! container's own restart fields, then kind, start slot, probes and handlers, gate, restart
//! policy, stop signal and grace, exit reporting, and the pod-level declarations. Each reads
//! the declarations in their precedence order (`plan/mod.rs`), returns what it decided with
//! the [`Source`] that decided it, and adds its explain notes.

use std::collections::BTreeMap;

use super::k8s::{self, PodSpec};
use super::{PlanError, PlanErrorKind, Source};

pub mod exit;
pub mod gate;
pub mod kind;
pub mod pod;
pub mod probes;
pub mod restart;
pub mod slot;
pub mod stop;
#[cfg(test)]
mod tests;

/// Where a container sits in the pod spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Init(usize),
    Regular(usize),
}

impl Role {
    /// The API server's path of the entry (`spec.initContainers[0]`).
    pub fn spec_path(self) -> String {
        match self {
            Role::Init(i) => format!("spec.initContainers[{i}]"),
            Role::Regular(i) => format!("spec.containers[{i}]"),
        }
    }
}

/// One container's declarations, as every decision reads them.
pub struct Ctx<'a> {
    pub name: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
    pub spec: Option<&'a PodSpec>,
    /// Its pod-spec entry and where that sits, when it has one.
    pub entry: Option<(&'a k8s::Container, Role)>,
}

impl Ctx<'_> {
    pub fn ann(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    pub fn container(&self) -> Option<&k8s::Container> {
        self.entry.map(|(c, _)| c)
    }

    pub fn role(&self) -> Option<Role> {
        self.entry.map(|(_, r)| r)
    }

    /// A field of this container's pod-spec entry, as messages name it (`app.startupProbe`).
    pub fn spec_field(&self, field: &str) -> Source {
        Source::spec_field(format!("{}.{field}", self.name))
    }

    pub fn err(&self, kind: PlanErrorKind, source: Source, message: String) -> PlanError {
        PlanError::new(kind, self.name, source, message)
    }
}

/// A value and the declaration that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Decided<T> {
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}
