use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use super::*;

struct Fake;
impl TemplateQuerier for Fake {
    fn query(&self, expr: &str) -> Result<Vec<QuerySample>, String> {
        match expr {
            "fail" => Err("bad query".into()),
            "empty" => Ok(vec![]),
            _ => Ok(vec![
                QuerySample {
                    labels: BTreeMap::from([
                        ("__name__".into(), "up".into()),
                        ("instance".into(), "b:9090".into()),
                        ("job".into(), "x".into()),
                    ]),
                    value: 1.0,
                },
                QuerySample {
                    labels: BTreeMap::from([
                        ("__name__".into(), "up".into()),
                        ("instance".into(), "a:9090".into()),
                        ("job".into(), "y".into()),
                    ]),
                    value: 0.5,
                },
            ]),
        }
    }
    fn eval_time(&self) -> Option<f64> {
        Some(1700000000.5)
    }
}

#[test]
#[ignore]
fn diff_dev() {
    let labels = BTreeMap::from([
        ("instance".to_string(), "localhost:9090".to_string()),
        ("job".to_string(), "prometheus".to_string()),
        ("severity".to_string(), "page".to_string()),
    ]);
    let ext = BTreeMap::from([("cluster".to_string(), "eu1".to_string())]);
    let data = AlertTemplateData {
        labels: &labels,
        external_labels: &ext,
        external_url: "http://example.com:9090/prom",
        value: 1234.5678,
    };
    let f = std::fs::File::open("/tmp/gochk/cases.jsonl").unwrap();
    let mut out = std::fs::File::create("/tmp/gochk/rust.jsonl").unwrap();
    for line in std::io::BufReader::new(f).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let text = v["text"].as_str().unwrap();
        let r = if v["raw"].as_bool().unwrap_or(false) {
            let funcs = PrometheusFunctions {
                querier: Some(&Fake),
                external_url: "http://example.com:9090/prom".into(),
            };
            let value = Value::Struct { type_name: "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }".into(), fields: vec![
                ("Labels".into(), Value::string_map(&labels)), ("ExternalLabels".into(), Value::string_map(&ext)),
                ("ExternalURL".into(), Value::Str("http://example.com:9090/prom".into())), ("Value".into(), Value::Float(1234.5678))] };
            Template::parse("t", text, &funcs).and_then(|t| t.execute("t", &value, &funcs))
        } else {
            expand_alert_text("__alert_Test", text, &data, Some(&Fake))
        };
        let j = match r {
            Ok(s) => serde_json::json!({"out": s}),
            Err(e) => serde_json::json!({"err": e.message}),
        };
        writeln!(out, "{}", j).unwrap();
    }
}
