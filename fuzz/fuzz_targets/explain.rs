//! `podinit explain BUNDLE` on a fuzzed `config.json` in a temp bundle: an explanation (JSON
//! and text) of whatever classifies, naming the container; an error that names the file or the
//! declaration at fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::explain::{self, ExplainError};
use podinit::plan::Classified;

fuzz_target!(|input: &[u8]| {
    let bundle = podinit_fuzz::temp_bundle();
    std::fs::write(bundle.join("config.json"), input).expect("write the temp bundle");
    match explain::classify_path(bundle) {
        Ok(c) => {
            podinit_fuzz::check_classified(&c);
            let name = match &c {
                Classified::Ignored { name, .. } => name,
                Classified::Container { plan, .. } => &plan.name,
            };
            let json = explain::to_json(&c);
            assert_eq!(json["name"].as_str(), Some(name.as_str()));
            let text = explain::to_text(&c);
            assert!(text.starts_with(&format!("{name}: ")), "{text}");
        }
        Err(ExplainError::NotJson { path, .. }) => assert!(path.ends_with("config.json")),
        Err(ExplainError::Plan(e)) => podinit_fuzz::check_plan_error(&e),
        Err(e) => panic!("unexpected error on a tmpfs bundle: {e}"),
    }
});
