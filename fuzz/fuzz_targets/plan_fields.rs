//! The declarations inside a valid `config.json`: every annotation and env dialect, including
//! the pod spec (JSON inside an annotation). Byte mutations of a whole config mostly break its
//! JSON; here the input is one declaration a line, so the mutations land in the values:
//! `@KEY=VALUE` an annotation, `$NAME=VALUE` a `process.env` entry (other lines ignored).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let mut annotations = Map::new();
    let mut env = Vec::new();
    for line in text.lines() {
        if let Some(a) = line.strip_prefix('@') {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            annotations.insert(k.to_owned(), Value::String(v.to_owned()));
        } else if let Some(e) = line.strip_prefix('$') {
            env.push(Value::String(e.to_owned()));
        }
    }
    let config = json!({
        "ociVersion": "1.0.2",
        "process": { "args": ["sh"], "env": env, "cwd": "/" },
        "root": { "path": "rootfs" },
        "annotations": annotations,
    });
    podinit_fuzz::classify(&config);
});
