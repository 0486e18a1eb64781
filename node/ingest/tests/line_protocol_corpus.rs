//! Runs every `decode` case of InfluxData's line-protocol corpus
//! (`tests/conformance/line-protocol/corpus.json`, schema in `schema.cue` beside it) through
//! the public parser.
//!
//! The corpus was made by decoders that fail a whole input when any line fails, so "some line
//! failed" is the error outcome here; otherwise the points must match: measurement, tags
//! (order-insensitive, as the corpus sorts them), fields in order with their types, and time in
//! nanoseconds. As in InfluxData's own corpus runner, a repeated tag key is an error: Cairn's
//! write path rejects such a line when it builds labels.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use cairn_ingest::line_protocol::{FieldValue, Parser};
use serde_json::Value;

#[derive(Debug, PartialEq)]
struct Point {
    time: i64,
    name: Vec<u8>,
    tags: Vec<(Vec<u8>, Vec<u8>)>,
    fields: Vec<(Vec<u8>, Field)>,
}

#[derive(Debug)]
enum Field {
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        match (self, other) {
            (Field::Int(a), Field::Int(b)) => a == b,
            (Field::UInt(a), Field::UInt(b)) => a == b,
            // serde_json's float parsing may be one ulp off the correctly rounded value.
            (Field::Float(a), Field::Float(b)) => {
                a == b || (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 1
            }
            (Field::Bool(a), Field::Bool(b)) => a == b,
            (Field::Bytes(a), Field::Bytes(b)) => a == b,
            _ => false,
        }
    }
}

/// The project's unchanged copy of the corpus (`tests/conformance/README.md`).
fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance/line-protocol/corpus.json")
}

#[test]
fn line_protocol_corpus_decode() -> Result<()> {
    let path = corpus_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let corpus: Value = serde_json::from_str(&text)?;
    let cases = corpus["decode"]
        .as_object()
        .ok_or_else(|| anyhow!("{}: no \"decode\" object", path.display()))?;
    let cases: BTreeMap<&String, &Value> = cases.iter().collect();
    let mut failures = Vec::new();
    for (key, case) in &cases {
        if let Err(e) = run_case(case) {
            failures.push(format!("{key}: {e:#}"));
        }
    }
    let total = cases.len();
    let passed = total - failures.len();
    // The encode cases test an encoder; Cairn only decodes line protocol.
    let not_run = corpus["encode"].as_object().map_or(0, |c| c.len());
    println!(
        "line-protocol corpus: {passed}/{total} decode cases pass ({not_run} encode cases not run)"
    );
    if !failures.is_empty() {
        bail!(
            "{} of {total} decode cases fail:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    // The whole corpus, exactly: a lost or newly skipped case changes these numbers. After a
    // deliberate change (a new copy of the corpus) set them to the line printed above.
    assert_eq!(
        (passed, not_run),
        (6615, 115),
        "decode cases passed, encode cases not run"
    );
    Ok(())
}

fn run_case(case: &Value) -> Result<()> {
    let input = &case["input"];
    let text = string_or_binary(&input["text"]).context("input.text")?;
    let precision_ns = precision_ns(input["precision"].as_str().unwrap_or_default())?;
    let default_time = input["defaultTime"]
        .as_i64()
        .ok_or_else(|| anyhow!("input.defaultTime is not an i64"))?;
    let got = decode(&text, precision_ns, default_time);
    let output = &case["output"];
    if output.get("error").is_some() {
        return match got {
            Err(_) => Ok(()),
            Ok(points) => bail!(
                "want an error ({}), got {points:?} from {:?}",
                output["error"],
                String::from_utf8_lossy(&text)
            ),
        };
    }
    let want = match &output["result"] {
        Value::Null => Vec::new(),
        Value::Array(points) => points.iter().map(point).collect::<Result<Vec<_>>>()?,
        other => bail!("output.result is {other}"),
    };
    match got {
        Ok(points) if points == want => Ok(()),
        Ok(points) => bail!(
            "from {:?}\n  want {want:?}\n  got  {points:?}",
            String::from_utf8_lossy(&text)
        ),
        Err(e) => bail!(
            "from {:?}\n  want {want:?}\n  got error {e}",
            String::from_utf8_lossy(&text)
        ),
    }
}

/// Decodes `text` as the corpus' decoders do: any bad line fails the whole input.
fn decode(text: &[u8], precision_ns: i64, default_time: i64) -> Result<Vec<Point>, String> {
    let mut parser = Parser::new(text);
    let mut points = Vec::new();
    while let Some(line) = parser.next_line() {
        let line = line.map_err(|e| e.to_string())?;
        let mut tags: Vec<(Vec<u8>, Vec<u8>)> = line
            .tags
            .iter()
            .map(|t| (t.key.as_bytes().to_vec(), t.value.as_bytes().to_vec()))
            .collect();
        tags.sort();
        if let Some(w) = tags.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!(
                "duplicate tag key {:?}",
                String::from_utf8_lossy(&w[0].0)
            ));
        }
        let fields = line
            .fields
            .iter()
            .map(|f| {
                let v = match &f.value {
                    FieldValue::Float(v) => Field::Float(*v),
                    FieldValue::Int(v) => Field::Int(*v),
                    FieldValue::UInt(v) => Field::UInt(*v),
                    FieldValue::Bool(v) => Field::Bool(*v),
                    FieldValue::String(s) => Field::Bytes(s.as_bytes().to_vec()),
                };
                (f.key.as_bytes().to_vec(), v)
            })
            .collect();
        let time = match line.timestamp {
            Some(t) => t
                .checked_mul(precision_ns)
                .ok_or_else(|| format!("timestamp {t} overflows nanoseconds"))?,
            // Go's `time.Truncate` to the precision; whole units since the epoch.
            None => default_time - default_time.rem_euclid(precision_ns),
        };
        points.push(Point {
            time,
            name: line.measurement.as_bytes().to_vec(),
            tags,
            fields,
        });
    }
    Ok(points)
}

fn point(v: &Value) -> Result<Point> {
    let mut tags = Vec::new();
    for t in v["tags"].as_array().map(Vec::as_slice).unwrap_or_default() {
        tags.push((string_or_binary(&t["key"])?, string_or_binary(&t["value"])?));
    }
    tags.sort();
    let mut fields = Vec::new();
    for f in v["fields"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        fields.push((string_or_binary(&f["key"])?, field(&f["value"])?));
    }
    Ok(Point {
        time: v["time"]
            .as_i64()
            .ok_or_else(|| anyhow!("time {} is not an i64", v["time"]))?,
        name: string_or_binary(&v["name"])?,
        tags,
        fields,
    })
}

fn field(v: &Value) -> Result<Field> {
    let (kind, x) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| anyhow!("field value {v} is not {{kind: value}}"))?;
    let bad = || anyhow!("field value {v} does not fit its kind");
    Ok(match kind.as_str() {
        "int" => Field::Int(x.as_i64().ok_or_else(bad)?),
        "uint" => Field::UInt(x.as_u64().ok_or_else(bad)?),
        "float" => Field::Float(x.as_f64().ok_or_else(bad)?),
        "bool" => Field::Bool(x.as_bool().ok_or_else(bad)?),
        "string" => Field::Bytes(x.as_str().ok_or_else(bad)?.as_bytes().to_vec()),
        "binary" => Field::Bytes(base64(x.as_str().ok_or_else(bad)?)?),
        other => bail!("unknown field kind {other:?}"),
    })
}

/// `#StringOrBinary`: a JSON string, or `{binary: base64}`.
fn string_or_binary(v: &Value) -> Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(o) => match o.get("binary") {
            Some(Value::String(b)) => base64(b),
            _ => bail!("{v} is neither a string nor {{binary: ...}}"),
        },
        _ => bail!("{v} is neither a string nor {{binary: ...}}"),
    }
}

/// `#Precision`: "1ns", "1µs", "1ms", "1s", "1m" or "1h", in nanoseconds.
fn precision_ns(p: &str) -> Result<i64> {
    Ok(match p {
        "1ns" => 1,
        "1µs" | "1μs" | "1us" => 1_000,
        "1ms" => 1_000_000,
        "1s" => 1_000_000_000,
        "1m" => 60_000_000_000,
        "1h" => 3_600_000_000_000,
        other => bail!("unknown precision {other:?}"),
    })
}

/// Standard base64 (RFC 4648 alphabet, `=` padding optional).
fn base64(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("bad base64 byte {:?} in {s:?}", c as char),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[test]
fn base64_decodes_padded_and_unpadded() -> Result<()> {
    assert_eq!(base64("")?, b"");
    assert_eq!(base64("Zg==")?, b"f");
    assert_eq!(base64("Zm8=")?, b"fo");
    assert_eq!(base64("Zm9v")?, b"foo");
    assert_eq!(base64("Zm9vYg")?, b"foob");
    assert_eq!(base64("+/8=")?, [0xfb, 0xff]);
    assert!(base64("a*b").is_err());
    Ok(())
}
