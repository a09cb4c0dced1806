//! Which pod a container belongs to. One supervisor serves every pod on a machine, so each
//! registration names its pod by a key, and the key is the name of the pod's directory in the
//! state dir (`<state-dir>/pods/<key>/`). Highest first:
//!
//! 1. `io.kubernetes.cri.sandbox-id` (containerd puts it on every container of the sandbox),
//! 2. `io.kubernetes.cri-o.SandboxID` (CRI-O),
//! 3. `io.podinit.pod` (agents without a sandbox id: any name unique among the machine's live pods),
//! 4. the default pod, [`DEFAULT_POD_KEY`]: every container without one of those joins it.
//!
//! The value comes from the agent (or whoever wrote the bundle) and becomes a directory name, so
//! it is validated strictly: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most [`MAX_POD_KEY_LEN`] bytes.
//! The first character being alphanumeric rules out `.`, `..`, hidden names and option-like
//! names (`-x`); the charset rules out `/`, NUL and anything a shell or a terminal would mangle.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::keys::{CRI_SANDBOX_ID, CRIO_SANDBOX_ID, POD};
use super::{PlanError, PlanErrorKind, Source};

/// The pod of containers that name none.
pub const DEFAULT_POD_KEY: &str = "default";
/// containerd's and CRI-O's sandbox ids are 64 hex digits; leave room for agents' own names.
pub const MAX_POD_KEY_LEN: usize = 128;

/// The annotations that name a container's pod, highest precedence first.
pub const POD_KEY_ANNOTATIONS: [&str; 3] = [CRI_SANDBOX_ID, CRIO_SANDBOX_ID, POD];

/// A validated pod key: safe as one path component. Deserializing validates too, so a key read
/// from the socket or a journal is as safe as one computed here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PodKey(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodKeyError {
    Empty,
    TooLong(usize),
    /// The first character must be a letter or a digit (rules out `.`, `..`, `-x`).
    BadFirst(char),
    BadChar(char),
}

impl fmt::Display for PodKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodKeyError::Empty => write!(f, "a pod key cannot be empty"),
            PodKeyError::TooLong(n) => write!(
                f,
                "a pod key has at most {MAX_POD_KEY_LEN} characters, this one {n}"
            ),
            PodKeyError::BadFirst(c) => {
                write!(f, "a pod key starts with a letter or a digit, not {c:?}")
            }
            PodKeyError::BadChar(c) => write!(
                f,
                "a pod key holds only letters, digits, '-', '_' and '.', not {c:?}"
            ),
        }
    }
}

impl std::error::Error for PodKeyError {}

impl PodKey {
    pub fn parse(raw: &str) -> Result<Self, PodKeyError> {
        let mut chars = raw.chars();
        let Some(first) = chars.next() else {
            return Err(PodKeyError::Empty);
        };
        if raw.len() > MAX_POD_KEY_LEN {
            return Err(PodKeyError::TooLong(raw.chars().count()));
        }
        if !first.is_ascii_alphanumeric() {
            return Err(PodKeyError::BadFirst(first));
        }
        if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
            return Err(PodKeyError::BadChar(bad));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The pod of containers that name none ([`DEFAULT_POD_KEY`]).
    pub fn default_pod() -> Self {
        Self(DEFAULT_POD_KEY.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PodKey {
    type Error = PodKeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PodKey::parse(&s)
    }
}

impl From<PodKey> for String {
    fn from(k: PodKey) -> String {
        k.0
    }
}

/// A container's pod and the declaration that named it (for `podinit explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentity {
    pub key: PodKey,
    /// The annotation the key came from ([`Source::Annotation`]), or [`Source::Default`]: the
    /// default pod.
    pub source: Source,
}

impl PodIdentity {
    pub fn reason(&self) -> String {
        match &self.source {
            Source::Annotation { .. } => self.source.to_string(),
            _ => format!(
                "no {} annotation: the default pod {DEFAULT_POD_KEY:?}",
                POD_KEY_ANNOTATIONS.join(" / ")
            ),
        }
    }
}

/// The pod of `container`, from its annotations (see the module doc for the rule).
pub fn identify(
    annotations: &BTreeMap<String, String>,
    container: &str,
) -> Result<PodIdentity, PlanError> {
    for annotation in POD_KEY_ANNOTATIONS {
        if let Some(raw) = annotations.get(annotation) {
            let key = PodKey::parse(raw).map_err(|e| {
                PlanError::new(
                    PlanErrorKind::InvalidValue,
                    container,
                    Source::annotation(annotation),
                    format!("{raw:?} cannot name a pod: {e}"),
                )
            })?;
            return Ok(PodIdentity {
                key,
                source: Source::annotation(annotation),
            });
        }
    }
    Ok(PodIdentity {
        key: PodKey::default_pod(),
        source: Source::Default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const SANDBOX: &str = "5d6f1c0b8e3a4f2d9c7b6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c";

    #[rstest]
    #[case::containerd(&[(CRI_SANDBOX_ID, SANDBOX)], SANDBOX, Some(CRI_SANDBOX_ID))]
    #[case::crio(&[(CRIO_SANDBOX_ID, "crio-sbx")], "crio-sbx", Some(CRIO_SANDBOX_ID))]
    #[case::podinit(&[(POD, "job-42")], "job-42", Some(POD))]
    #[case::nothing(&[], DEFAULT_POD_KEY, None)]
    #[case::unrelated_annotations(&[("io.kubernetes.cri.sandbox-name", "x")], DEFAULT_POD_KEY, None)]
    #[case::containerd_beats_crio(&[(CRIO_SANDBOX_ID, "b"), (CRI_SANDBOX_ID, "a")], "a", Some(CRI_SANDBOX_ID))]
    #[case::containerd_beats_podinit(&[(POD, "mine"), (CRI_SANDBOX_ID, "a")], "a", Some(CRI_SANDBOX_ID))]
    #[case::crio_beats_podinit(&[(POD, "mine"), (CRIO_SANDBOX_ID, "b")], "b", Some(CRIO_SANDBOX_ID))]
    #[case::named_default(&[(POD, "default")], DEFAULT_POD_KEY, Some(POD))]
    #[case::dots_inside(&[(POD, "ns.pod-1_a")], "ns.pod-1_a", Some(POD))]
    fn the_pod_key_rule(
        #[case] pairs: &[(&str, &str)],
        #[case] key: &str,
        #[case] source: Option<&str>,
    ) {
        let id = identify(&ann(pairs), "app").expect("a valid key");
        let source = source.map_or(Source::Default, Source::annotation);
        assert_eq!((id.key.as_str(), id.source), (key, source));
    }

    #[rstest]
    #[case::empty("", "empty")]
    #[case::dot(".", "starts with")]
    #[case::dotdot("..", "starts with")]
    #[case::hidden(".hidden", "starts with")]
    #[case::option_like("-rf", "starts with")]
    #[case::slash("a/b", "'/'")]
    #[case::traversal("a/../../etc", "'/'")]
    #[case::absolute("/etc", "starts with")]
    #[case::nul("a\0b", "'\\0'")]
    #[case::newline("a\nb", "'\\n'")]
    #[case::space("a b", "' '")]
    #[case::unicode("pöd", "'ö'")]
    #[case::too_long(&"a".repeat(MAX_POD_KEY_LEN + 1), "at most 128")]
    #[case::colon("ns:pod", "':'")]
    fn hostile_keys_are_refused_naming_annotation_and_container(
        #[case] raw: &str,
        #[case] why: &str,
    ) {
        for annotation in POD_KEY_ANNOTATIONS {
            let e = identify(&ann(&[(annotation, raw)]), "app").unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.kind, PlanErrorKind::InvalidValue);
            assert!(msg.contains(annotation), "{msg}");
            assert!(msg.contains("\"app\""), "{msg}");
            assert!(msg.contains(why), "{msg}");
        }
    }

    #[test]
    fn the_longest_key_is_accepted() {
        let long = "a".repeat(MAX_POD_KEY_LEN);
        let id = identify(&ann(&[(POD, &long)]), "app").expect("a valid key");
        assert_eq!(id.key.as_str(), long);
    }

    /// A bad key of higher precedence is an error even when a lower one is fine: it is not
    /// silently skipped (a typo would put the container into another pod).
    #[test]
    fn a_bad_key_is_not_skipped_for_a_lower_one() {
        let e = identify(&ann(&[(CRI_SANDBOX_ID, "../x"), (POD, "ok")]), "c").unwrap_err();
        assert!(e.to_string().contains(CRI_SANDBOX_ID), "{e}");
    }

    #[rstest]
    #[case::good("\"abc\"", true)]
    #[case::traversal("\"../x\"", false)]
    #[case::not_a_string("7", false)]
    fn deserializing_validates(#[case] json: &str, #[case] ok: bool) {
        assert_eq!(serde_json::from_str::<PodKey>(json).is_ok(), ok);
    }
}
