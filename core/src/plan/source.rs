//! Where a declaration came from: the annotation, env var or pod-spec field that decided a part
//! of the plan, or that a plan error is about. Typed so `explain --json` can say it as data;
//! its `Display` is the text every message and `podinit explain` line has always used.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::keys::POD_SPEC;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Source {
    /// The bundle's `config.json`, or one of its fields (`annotations`, `process.env`).
    Config {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// A container annotation (`io.podinit.kind`).
    Annotation { key: String },
    /// The pod spec annotation as a whole (it does not parse, or lacks the container).
    PodSpec,
    /// A field of the pod spec annotation, as the message names it: the container's
    /// (`app.startupProbe`), the API server's path (`spec.initContainers[0].restartPolicy`) or
    /// the pod's (`restartPolicy`).
    PodSpecField { path: String },
    /// A pod annotation in the pod spec annotation's `metadata.annotations`.
    PodAnnotation { key: String },
    /// An env var of the container (`process.env` first, then the pod spec's `env`).
    Env { name: String },
    /// Nothing declared it: Kubernetes' or podinit's default.
    #[default]
    Default,
}

impl Source {
    pub fn annotation(key: &str) -> Self {
        Source::Annotation {
            key: key.to_owned(),
        }
    }

    pub fn spec_field(path: impl Into<String>) -> Self {
        Source::PodSpecField { path: path.into() }
    }

    pub fn env(name: &str) -> Self {
        Source::Env {
            name: name.to_owned(),
        }
    }

    pub fn config(field: Option<&str>) -> Self {
        Source::Config {
            field: field.map(str::to_owned),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Config { field: None } => f.write_str("config.json"),
            Source::Config { field: Some(field) } => write!(f, "config.json {field}"),
            Source::Annotation { key } => write!(f, "annotation {key}"),
            Source::PodSpec => write!(f, "annotation {POD_SPEC}"),
            Source::PodSpecField { path } => write!(f, "annotation {POD_SPEC}: {path}"),
            Source::PodAnnotation { key } => {
                write!(f, "annotation {POD_SPEC}: metadata.annotations {key}")
            }
            Source::Env { name } => write!(f, "env {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The source of each of a plan's main decisions, for `explain --json` (the sentences are in
/// `ContainerPlan::reason` and `notes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    pub kind: Source,
    pub start: Source,
    pub restart: Source,
    pub stop_signal: Source,
    /// Only when a grace period is declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<Source>,
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    /// The text every plan error and explain line used before the type existed.
    #[rstest]
    #[case::config(Source::config(None), "config.json")]
    #[case::config_field(Source::config(Some("process.env")), "config.json process.env")]
    #[case::annotation(Source::annotation("io.podinit.kind"), "annotation io.podinit.kind")]
    #[case::pod_spec(Source::PodSpec, "annotation io.podinit.pod-spec")]
    #[case::spec_field(
        Source::spec_field("app.lifecycle.preStop"),
        "annotation io.podinit.pod-spec: app.lifecycle.preStop"
    )]
    #[case::pod_annotation(
        Source::PodAnnotation { key: "io.podinit.start-timeout".into() },
        "annotation io.podinit.pod-spec: metadata.annotations io.podinit.start-timeout"
    )]
    #[case::env(Source::env("__IS_SIDECAR__"), "env __IS_SIDECAR__")]
    #[case::default(Source::Default, "default")]
    fn displays_as_before(#[case] source: Source, #[case] text: &str) {
        assert_eq!(source.to_string(), text);
    }

    #[test]
    fn serializes_with_its_kind() {
        assert_eq!(
            serde_json::to_value(Source::annotation("io.podinit.kind")).unwrap(),
            json!({"kind": "annotation", "key": "io.podinit.kind"})
        );
        assert_eq!(
            serde_json::to_value(Source::spec_field("restartPolicy")).unwrap(),
            json!({"kind": "podSpecField", "path": "restartPolicy"})
        );
        assert_eq!(
            serde_json::to_value(Source::Default).unwrap(),
            json!({"kind": "default"})
        );
    }
}
