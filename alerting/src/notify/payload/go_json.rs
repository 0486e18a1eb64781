//! JSON as Go's `encoding/json` writes it, so bodies match Alertmanager's byte for byte:
//! struct fields in declaration order, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029
//! escaped as `\u003c`-style sequences (Go's HTML-safe default), and `Encoder.Encode`'s
//! trailing newline.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    /// Fields in the order written (a Go struct's declaration order).
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// A Go `map[string]string`: keys sorted.
    pub fn string_map(m: &BTreeMap<String, String>) -> Json {
        Json::Obj(
            m.iter()
                .map(|(k, v)| (k.clone(), Json::Str(v.clone())))
                .collect(),
        )
    }

    /// An object from fields, for brevity.
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// `json.Marshal`'s text.
    pub fn marshal(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// `json.NewEncoder(w).Encode(v)`'s text: Marshal plus a newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.marshal();
        out.push('\n');
        out.into_bytes()
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Str(s) => write_string(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go() {
        let j = Json::obj(vec![
            ("a", Json::str("<b>&\"x\"\n\u{1}\u{2028}é")),
            ("n", Json::Null),
            ("l", Json::Arr(vec![Json::Int(1), Json::Bool(false)])),
        ]);
        assert_eq!(
            j.marshal(),
            r#"{"a":"\u003cb\u003e\u0026\"x\"\n\u0001\u2028é","n":null,"l":[1,false]}"#
        );
        assert_eq!(j.encode().last(), Some(&b'\n'));
    }
}
