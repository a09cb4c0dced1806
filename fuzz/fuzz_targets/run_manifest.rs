//! The manifests of `podinit run` (YAML or JSON, several `---` documents): YAML → documents →
//! the one workload (ConfigMap/Secret env resolved) → the pod's containers, everything
//! `podinit run` checks before it creates anything. Errors name the file and the line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use podinit::run::{bundle, workload, yaml};

const SOURCE: &str = "fuzz.yaml";

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    // An upper bound on the lines whatever a YAML parser takes for a line break.
    let lines = text
        .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
        .count()
        + 1;
    let docs = match yaml::parse(SOURCE, text) {
        Ok(docs) => docs,
        Err(e) => {
            assert!(e.to_string().starts_with(SOURCE), "{e}");
            return;
        }
    };
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(d.index, i + 1, "documents are numbered in order");
        assert!(
            (1..=lines).contains(&d.line),
            "document {} at line {}",
            d.index,
            d.line
        );
    }
    let w = match workload::select(&docs) {
        Ok(w) => w,
        Err(e) => {
            if let Some(at) = &e.at {
                assert!(at.starts_with(&format!("{SOURCE}, document ")), "{e}");
            }
            assert!(!e.message.is_empty());
            return;
        }
    };
    match bundle::parse_pod(&w.pod, Path::new("/nonexistent/podinit-fuzz/volumes")) {
        Ok(pod) => assert!(!pod.name.is_empty()),
        Err(e) => assert!(!e.is_empty()),
    }
});
