//! The manifest files `podinit run` is given: YAML or JSON, several files and several `---`
//! documents each, `-` for standard input, all read before anything runs.

use std::io::Read;
use std::path::PathBuf;

use super::yaml::{self, Document};

/// Larger than any manifest; a stray `/dev/zero` or a binary ends here, not in memory.
const MAX_INPUT: u64 = 16 << 20;

/// Every document of every input, in the order given.
pub fn read(paths: &[PathBuf]) -> Result<Vec<Document>, String> {
    let mut texts = Vec::new();
    let mut stdin_used = false;
    for p in paths {
        let (name, bytes) = if p.as_os_str() == "-" {
            if stdin_used {
                return Err("standard input (-) given twice".into());
            }
            stdin_used = true;
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| format!("standard input: {e}"))?;
            ("<stdin>".to_owned(), buf)
        } else {
            let name = p.display().to_string();
            let f = std::fs::File::open(p).map_err(|e| format!("{name}: {e}"))?;
            let mut buf = Vec::new();
            f.take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| format!("{name}: {e}"))?;
            (name, buf)
        };
        if bytes.len() as u64 > MAX_INPUT {
            return Err(format!("{name}: larger than {} MiB", MAX_INPUT >> 20));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "{name}: not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            )
        })?;
        texts.push((name, text));
    }
    yaml::parse_all(&texts).map_err(|e| e.to_string())
}
