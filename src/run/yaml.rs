//! YAML (and JSON, which is YAML) manifests to JSON values, as kubectl reads them: every
//! `---` document on its own, empty documents skipped, and plain scalars resolved the way
//! sigs.k8s.io/yaml (go-yaml v2, YAML 1.1) resolves them, so `yes`/`on` are booleans, `0644` is
//! octal (a `defaultMode`), and a quoted `"true"` or a block scalar stays a string.
//!
//! saphyr-parser gives events with positions; building the value here (instead of through a
//! serde deserializer) is what lets every node keep its line, so a later error about a field can
//! name the line the user wrote it on.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

/// Deeper than any manifest; keeps recursive drops and serialisation off the stack's edge.
const MAX_DEPTH: usize = 64;
/// Nodes a document may expand to (aliases included): defeats "billion laughs".
const MAX_NODES: usize = 200_000;

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where it came from: a file name or `-` (standard input).
    pub source: String,
    /// 1-based position among the file's non-empty documents (the ones kubectl would apply).
    pub index: usize,
    /// The line where the document's content starts.
    pub line: usize,
    pub value: Value,
    /// JSON pointer (`/spec/containers/0/image`) → line of that node (for a mapping entry, its key).
    lines: HashMap<String, usize>,
}

impl Document {
    /// The line of a node, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &str) -> usize {
        let mut p = pointer;
        loop {
            if let Some(l) = self.lines.get(p) {
                return *l;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.line,
            }
        }
    }

    /// `FILE, document N, line L` for an error about the node at `pointer`.
    pub fn at(&self, pointer: &str) -> String {
        format!(
            "{}, document {}, line {}",
            self.source,
            self.index,
            self.line_of(pointer)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub source: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: line {}, column {}: {}",
            self.source, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// A container under construction: a sequence, or a mapping waiting for its next key.
enum Open {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

struct Builder<'a> {
    source: &'a str,
    stack: Vec<(Open, String)>,
    anchors: HashMap<usize, Value>,
    lines: HashMap<String, usize>,
    nodes: usize,
    done: Option<Value>,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Builder<'_> {
    fn err(&self, line: usize, col: usize, message: impl Into<String>) -> YamlError {
        YamlError {
            source: self.source.to_owned(),
            line,
            col: col + 1,
            message: message.into(),
        }
    }

    /// The pointer of the node about to be added, or `None` when a mapping key is expected.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some((Open::Seq(items, _), p)) => Some(format!("{p}/{}", items.len())),
            Some((Open::Map(_, Some(k), _), p)) => Some(format!("{p}/{}", escape(k))),
            Some((Open::Map(_, None, _), _)) => None,
        }
    }

    fn count(&mut self, n: usize, line: usize, col: usize) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.err(
                line,
                col,
                format!("the document expands to more than {MAX_NODES} nodes"),
            ));
        }
        Ok(())
    }

    /// Add a finished node (or a mapping key) to the innermost open container.
    fn push(&mut self, v: Value, line: usize, col: usize, key_ok: bool) -> Result<(), YamlError> {
        let Some((open, _)) = self.stack.last_mut() else {
            self.done = Some(v);
            return Ok(());
        };
        match open {
            Open::Seq(items, _) => items.push(v),
            Open::Map(map, slot @ None, _) => {
                // Keys become strings, as sigs.k8s.io/yaml makes them (`1: x` is "1").
                let key = match v {
                    Value::String(s) if key_ok => s,
                    Value::Number(n) if key_ok => n.to_string(),
                    Value::Bool(b) if key_ok => b.to_string(),
                    Value::Null if key_ok => "null".to_owned(),
                    _ => return Err(self.err(line, col, "a mapping key must be a scalar")),
                };
                if key == "<<" {
                    return Err(self.err(line, col, "merge keys (<<) are not supported"));
                }
                if map.contains_key(&key) {
                    return Err(self.err(
                        line,
                        col,
                        format!("mapping key {key:?} already defined"),
                    ));
                }
                *slot = Some(key);
            }
            Open::Map(map, slot @ Some(_), _) => {
                let key = slot.take().unwrap_or_default();
                map.insert(key, v);
            }
        }
        Ok(())
    }

    fn open(&mut self, open: Open, line: usize, col: usize) -> Result<(), YamlError> {
        let Some(pointer) = self.next_pointer() else {
            return Err(self.err(line, col, "a mapping key must be a scalar"));
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(line, col, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.count(1, line, col)?;
        self.lines.entry(pointer.clone()).or_insert(line);
        self.stack.push((open, pointer));
        Ok(())
    }

    fn close(&mut self, line: usize, col: usize) -> Result<(), YamlError> {
        let Some((open, _)) = self.stack.pop() else {
            return Err(self.err(line, col, "unbalanced end of a collection"));
        };
        let (v, anchor) = match open {
            Open::Seq(items, a) => (Value::Array(items), a),
            Open::Map(map, _, a) => (Value::Object(map), a),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        self.push(v, line, col, false)
    }
}

fn nodes_in(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(nodes_in).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(nodes_in).sum::<usize>(),
        _ => 1,
    }
}

/// Attempts at `lenient_flow_ends` per file: more closing lines than any manifest has.
const MAX_FLOW_END_FIXES: usize = 256;

/// Parse a whole file: one `Document` per non-empty YAML document.
pub fn parse(source: &str, text: &str) -> Result<Vec<Document>, YamlError> {
    let mut text = Cow::Borrowed(text);
    for _ in 0..MAX_FLOW_END_FIXES {
        match parse_strict(source, &text) {
            Err(e) if e.message == "invalid indentation" => match lenient_flow_end(&text, &e) {
                Some(fixed) => text = Cow::Owned(fixed),
                None => return Err(e),
            },
            other => return other,
        }
    }
    parse_strict(source, &text)
}

/// libyaml and go-yaml (so kubectl) accept a flow collection's closing `]` or `}` on a line of
/// its own at the indentation of the key it is the value of, as the ACK document writes
/// `args: [ ... ]`; saphyr-parser holds it to the YAML spec (more indented than the key). A
/// closing bracket's indentation means nothing inside a flow collection, so one more space in
/// front of it, on the line the error names, reads the text as kubectl does, with the same lines.
fn lenient_flow_end(text: &str, e: &YamlError) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 1);
    let mut fixed = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let rest = line.trim_start_matches(' ');
        if i + 1 == e.line && (rest.starts_with(']') || rest.starts_with('}')) {
            out.push(' ');
            fixed = true;
        }
        out.push_str(line);
    }
    fixed.then_some(out)
}

fn parse_strict(source: &str, text: &str) -> Result<Vec<Document>, YamlError> {
    let mut docs = Vec::new();
    let mut b = Builder {
        source,
        stack: Vec::new(),
        anchors: HashMap::new(),
        lines: HashMap::new(),
        nodes: 0,
        done: None,
    };
    let mut index = 0;
    let mut start_line = 1;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            source: source.to_owned(),
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let (line, col) = (span.start.line(), span.start.col());
        match ev {
            Event::DocumentStart(_) => {
                start_line = line;
                b.anchors.clear();
                b.lines.clear();
                b.nodes = 0;
                b.done = None;
            }
            Event::DocumentEnd => {
                // Comment-only and empty documents are skipped, as kubectl skips them.
                if let Some(value) = b.done.take().filter(|v| !v.is_null()) {
                    index += 1;
                    let line = b.lines.get("").copied().unwrap_or(start_line);
                    docs.push(Document {
                        source: source.to_owned(),
                        index,
                        line,
                        value,
                        lines: std::mem::take(&mut b.lines),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pointer = b.next_pointer();
                b.count(1, line, col)?;
                let v = resolve(&text, style, tag.as_deref()).map_err(|m| b.err(line, col, m))?;
                if let Some(p) = pointer {
                    b.lines.entry(p).or_insert(line);
                }
                if anchor > 0 {
                    b.anchors.insert(anchor, v.clone());
                }
                b.push(v, line, col, true)?;
            }
            Event::Alias(id) => {
                let Some(v) = b.anchors.get(&id).cloned() else {
                    return Err(b.err(line, col, "alias to an unknown anchor"));
                };
                b.count(nodes_in(&v), line, col)?;
                if let Some(p) = b.next_pointer() {
                    b.lines.entry(p).or_insert(line);
                }
                let key_ok = !v.is_array() && !v.is_object();
                b.push(v, line, col, key_ok)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq").map_err(|m| b.err(line, col, m))?;
                b.open(Open::Seq(Vec::new(), anchor), line, col)?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map").map_err(|m| b.err(line, col, m))?;
                b.open(Open::Map(Map::new(), None, anchor), line, col)?;
            }
            Event::SequenceEnd | Event::MappingEnd => b.close(line, col)?,
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
    Ok(docs)
}

fn is_core(tag: &Tag) -> bool {
    tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:"
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(t) if is_core(t) && t.suffix == expected => Ok(()),
        Some(t) => Err(format!("unsupported tag {}{}", t.handle, t.suffix)),
    }
}

/// A scalar's value: quoted and block scalars are strings; plain ones resolve as YAML 1.1 does.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(t) = tag {
        if !is_core(t) {
            // `!` alone is the non-specific tag: a string.
            if format!("{}{}", t.handle, t.suffix) == "!" {
                return Ok(Value::String(text.to_owned()));
            }
            return Err(format!("unsupported tag {}{}", t.handle, t.suffix));
        }
        let plain = resolve_plain(text);
        let bad = || format!("{text:?} is not a valid !!{}", t.suffix);
        return match t.suffix.as_str() {
            "str" => Ok(Value::String(text.to_owned())),
            "null" if plain.is_null() => Ok(plain),
            "bool" if plain.is_boolean() => Ok(plain),
            "int" if plain.is_i64() || plain.is_u64() => Ok(plain),
            "float" if plain.is_number() => Ok(plain),
            "null" | "bool" | "int" | "float" => Err(bad()),
            other => Err(format!("unsupported tag !!{other}")),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Value::String(text.to_owned()),
    })
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities: kubectl fails on them too; keep the text for the error.
            return Value::String(text.to_owned());
        }
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return n;
    }
    if looks_like_float(text) {
        if let Some(n) = text
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

/// YAML 1.1 integers as go-yaml v2 reads them: decimal, `0x`, `0b`, and a leading `0` for octal
/// (`defaultMode: 0644` is 420); `_` separators allowed.
fn parse_int(text: &str) -> Option<Value> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let body: Cow<str> = if body.contains('_') {
        Cow::Owned(body.replace('_', ""))
    } else {
        Cow::Borrowed(body)
    };
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x") {
        (h, 16)
    } else if let Some(b) = body.strip_prefix("0b") {
        (b, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (&*body, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Value::from(v))
    } else {
        Some(Value::from(magnitude))
    }
}

fn looks_like_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' | '_' => seen_digit |= c != '_',
            '.' if !seen_dot => seen_dot = true,
            'e' | 'E' if seen_digit => {
                if matches!(chars.peek(), Some('+' | '-')) {
                    chars.next();
                }
                return chars.peek().is_some() && chars.all(|c| c.is_ascii_digit());
            }
            _ => return false,
        }
    }
    seen_digit
}

/// All documents of several sources, in order (a `BTreeMap` would reorder them).
pub fn parse_all(inputs: &[(String, String)]) -> Result<Vec<Document>, YamlError> {
    let mut out = Vec::new();
    for (source, text) in inputs {
        out.extend(parse(source, text)?);
    }
    Ok(out)
}

/// Lines of every node, for tests.
#[cfg(test)]
fn lines(d: &Document) -> std::collections::BTreeMap<String, usize> {
    d.lines.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let docs = parse("t.yaml", text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs[0].value.clone()
    }

    #[test]
    fn kubernetes_yaml_parses_as_kubectl_reads_it() {
        let v = one(concat!(
            "apiVersion: v1\n",
            "kind: Pod\n",
            "spec:\n",
            "  containers:\n",
            "  - name: app\n",
            "    command: ['sh', '-c', 'echo \"hi\"']\n",
            "    args:\n",
            "    - |\n",
            "      line one\n",
            "      line two\n",
            "    - >-\n",
            "      folded\n",
            "      text\n",
            "    env:\n",
            "    - name: __IS_SIDECAR__\n",
            "      value: \"true\"   # a comment\n",
            "    - {name: N, value: '0644'}\n",
            "  volumes:\n",
            "  - name: c\n",
            "    configMap: {defaultMode: 0644, optional: yes}\n",
            "  terminationGracePeriodSeconds: 30\n",
            "  x: [1.5, -3, 0x1F, ~, null, on, 1e3, 12:30, 1_000]\n",
        ));
        let c = &v["spec"]["containers"][0];
        assert_eq!(c["command"], json!(["sh", "-c", "echo \"hi\""]));
        assert_eq!(c["args"], json!(["line one\nline two\n", "folded text"]));
        assert_eq!(c["env"][0]["value"], json!("true"));
        assert_eq!(c["env"][1]["value"], json!("0644"));
        assert_eq!(
            v["spec"]["volumes"][0]["configMap"],
            json!({"defaultMode": 420, "optional": true})
        );
        assert_eq!(
            v["spec"]["x"],
            json!([1.5, -3, 31, null, null, true, 1000.0, "12:30", 1000])
        );
    }

    /// The ACK document's `args: [ ... ]` with the `]` under the key, as kubectl accepts it.
    #[test]
    fn a_flow_collection_closed_at_its_keys_indentation_parses_as_kubectl_reads_it() {
        let text = "spec:\n  containers:\n  - name: f\n    args: [\n      \"/bin/sh\",\n      \"-c\", # why\n    ]\n    env: {\n      A: b\n    }\n    image: busybox\n";
        let docs = parse("f.yaml", text).unwrap();
        let c = &docs[0].value["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["/bin/sh", "-c"]));
        assert_eq!(c["env"], json!({"A": "b"}));
        assert_eq!(docs[0].line_of("/spec/containers/0/image"), 11);
        // Real indentation errors stay errors, with their line.
        let e = parse("g.yaml", "a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn documents_are_split_counted_and_located() {
        let text =
            "# comment only\n---\nkind: A\nspec:\n  x: 1\n---\n---\n# nothing\n---\nkind: B\n...\n";
        let docs = parse("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line), (1, 3));
        assert_eq!(docs[0].line_of("/spec/x"), 5);
        assert_eq!(docs[0].line_of("/spec/x/deeper/3"), 5);
        assert_eq!(docs[0].at("/kind"), "f.yaml, document 1, line 3");
        assert_eq!((docs[1].index, docs[1].line), (2, 10));
        assert_eq!(lines(&docs[1]).get("/kind"), Some(&10));
    }

    #[test]
    fn json_is_read_too_with_lines() {
        let docs = parse(
            "p.json",
            "{\n  \"kind\": \"Pod\",\n  \"spec\": {\"containers\": []}\n}\n",
        )
        .unwrap();
        assert_eq!(docs[0].value["kind"], "Pod");
        assert_eq!(docs[0].line_of("/spec/containers"), 3);
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let v = one("a: &x {k: v}\nb: *x\nc: &s str\nd: *s\n");
        assert_eq!(v["b"], json!({"k": "v"}));
        assert_eq!(v["d"], "str");
    }

    #[test]
    fn tags() {
        let v = one("a: !!str 0644\nb: !!int \"12\"\nc: ! 12\n");
        assert_eq!(v, json!({"a": "0644", "b": 12, "c": "12"}));
        assert!(parse("t", "a: !!int x\n").is_err());
        assert!(parse("t", "a: !custom x\n").is_err());
    }

    #[test]
    fn hostile_inputs_are_errors_with_a_line_never_panics() {
        let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
        let laughs = {
            let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..9 {
                let p = i - 1;
                s.push_str(&format!(
                    "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
                ));
            }
            s
        };
        for (bad, line) in [
            ("a: 1\na: 2\n", 2),
            ("a: [1, 2\n", 2),
            ("a:\n  b: 1\n c: 2\n", 3),
            ("? [a, b]\n: c\n", 1),
            ("a: *nope\n", 1),
            ("<<: {a: 1}\n", 1),
            ("key: \"unterminated\n", 1),
            (deep.as_str(), 1),
            (laughs.as_str(), 0),
        ] {
            let e = parse("bad.yaml", bad).expect_err(bad);
            if line > 0 {
                assert_eq!(e.line, line, "{bad:?}: {e}");
            }
            assert!(e.to_string().starts_with("bad.yaml: line "), "{e}");
        }
        // Random bytes and truncations of a real manifest: errors or values, no panic.
        let real = "kind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        command: ['sh', '-c', \"x\"]\n        env: [{name: A, value: |\n  b\n}]\n";
        for i in 0..real.len() {
            let _ = parse("t", &real[..i]);
        }
        let mut seed = 7u64;
        for _ in 0..300 {
            let s: String = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = b"ab:- \n\t[]{}&*!|>'\"#?,0x.%@`";
                    alphabet[(seed % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = parse("t", &s);
        }
    }

    #[test]
    fn integers_follow_yaml_1_1() {
        for (t, v) in [
            ("0", json!(0)),
            ("-0", json!(0)),
            ("0755", json!(493)),
            ("0b101", json!(5)),
            ("+7", json!(7)),
            ("08", json!(8.0)),
            ("18446744073709551616", json!(1.8446744073709552e19)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("1.", json!(1.0)),
            (".5", json!(0.5)),
            ("1e", json!("1e")),
            ("-", json!("-")),
            ("1.2.3", json!("1.2.3")),
        ] {
            assert_eq!(resolve_plain(t), v, "{t}");
        }
    }
}
