//! A pod's declaration travels and is journalled once per pod (issue 13 item 2): every later
//! registration names it by its digest, and the supervisor refuses one that names another.

use sha2::Digest as _;

use super::build::plans_from_pod_spec;
use super::k8s::parse_pod_spec;
use super::{PlanError, PlanErrorKind, PodDeclaration, Source};

const PREFIX: &str = "sha256:";

/// `sha256:` and the hex SHA-256 of the declaration's canonical bytes: its compact JSON as
/// podinit serializes it (struct fields in declaration order, maps sorted), so the hook and the
/// supervisor of one podinit compute the same digest from the same declaration, however the
/// annotation was spelled around it.
pub fn digest(pod: &PodDeclaration) -> String {
    // Invariant: a declaration is plain data (strings, numbers, sorted maps).
    let bytes = serde_json::to_vec(pod).expect("a pod declaration serializes");
    // sha2: already a dependency (image digests, run/image/blobs.rs).
    let sum = sha2::Sha256::digest(&bytes);
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for b in sum {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out
}

/// Whether `s` is a digest as [`digest`] writes it (what a client may send).
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The declaration of a pod spec annotation's text: every container's plan, from the spec alone,
/// as `classify_bundle` builds it for each container of the pod. The registrant sends this text
/// (bounded by Kubernetes' 256 KiB for all annotations) rather than the plans, which expand a
/// minimal container entry some forty times.
pub fn from_pod_spec(container: &str, text: &str) -> Result<PodDeclaration, PlanError> {
    let spec = parse_pod_spec(text)
        .map_err(|m| PlanError::new(PlanErrorKind::InvalidJson, container, Source::PodSpec, m))?;
    Ok(PodDeclaration::Spec {
        containers: plans_from_pod_spec(&spec)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::keys::POD_SPEC;
    use crate::plan::{BundleInput, Classified, classify_bundle};
    use serde_json::json;

    fn classified(name: &str, spec_text: &str) -> PodDeclaration {
        let config = json!({"annotations": {
            "io.podinit.container-name": name, "io.podinit.pod-spec": spec_text}});
        match classify_bundle(&BundleInput {
            config: &config,
            fallback_name: name,
        }) {
            Ok(Classified::Container { pod, .. }) => pod,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_container_of_a_pod_names_the_same_declaration() {
        let spec = r#"{"initContainers":[{"name":"sc","restartPolicy":"Always"}],
                       "containers":[{"name":"a"},{"name":"b"}]}"#;
        let (sc, a) = (classified("sc", spec), classified("a", spec));
        assert_eq!(digest(&sc), digest(&a));
        assert!(is_digest(&digest(&sc)), "{}", digest(&sc));
        // Rebuilt from the text by the supervisor: the same plans, the same digest.
        assert_eq!(from_pod_spec("a", spec).ok(), Some(a.clone()));
        // Spelled differently around the same declaration: still the same.
        let respaced: String = spec.split_whitespace().collect();
        assert_eq!(digest(&classified("b", &respaced)), digest(&a));
        // Another declaration: another digest.
        let other = r#"{"containers":[{"name":"a"},{"name":"b","restartPolicy":"Never"}]}"#;
        assert_ne!(digest(&classified("a", other)), digest(&a));
        assert_ne!(digest(&PodDeclaration::Unknown), digest(&a));
    }

    #[rstest::rstest]
    #[case::empty("")]
    #[case::no_prefix("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::short("sha256:0123")]
    #[case::long(&format!("sha256:{}", "a".repeat(65)))]
    #[case::upper("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::not_hex("sha256:0123456789abcdefg123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::other_hash("md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::huge(&"sha256:".repeat(100_000))]
    fn only_a_well_formed_digest_is_one(#[case] s: &str) {
        assert!(!is_digest(s));
    }

    #[test]
    fn a_spec_text_that_is_not_a_pod_spec_names_the_container() {
        let e = from_pod_spec("app", "{not json").unwrap_err().to_string();
        assert!(e.contains("app") && e.contains(POD_SPEC), "{e}");
    }
}
