//! promtool's unit-test file (cmd/promtool/unittest.go, v3.0) decoded strictly, as
//! `yaml.UnmarshalStrict` does: an unknown field or a value of the wrong kind is an error
//! naming its line and promtool's Go type (`line 66: field histogram not found in type
//! main.sample`), all of them collected.

use std::collections::BTreeMap;

use cairn_query::promqltest::{parse_duration_ms, parse_number};

use crate::yaml::{Node, NodeKind};

#[derive(Debug, Default)]
pub(super) struct TestFile {
    pub rule_files: Vec<String>,
    /// 0 when not given.
    pub evaluation_interval_ms: i64,
    pub group_eval_order: Vec<String>,
    pub tests: Vec<TestGroup>,
}

#[derive(Debug, Default)]
pub(super) struct TestGroup {
    /// 0 when not given.
    pub interval_ms: i64,
    pub input_series: Vec<InputSeries>,
    pub alert_rule_test: Vec<AlertTestCase>,
    pub promql_expr_test: Vec<PromqlTestCase>,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub(super) struct InputSeries {
    pub series: String,
    pub values: String,
}

#[derive(Debug, Default)]
pub(super) struct AlertTestCase {
    pub eval_time_ms: i64,
    pub alertname: String,
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Default)]
pub(super) struct ExpAlert {
    pub exp_labels: BTreeMap<String, String>,
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub(super) struct PromqlTestCase {
    pub expr: String,
    pub eval_time_ms: i64,
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Default)]
pub(super) struct ExpSample {
    pub labels: String,
    pub value: f64,
    /// A native histogram as promqltest writes it (v3.0's field); Cairn has none.
    pub histogram: String,
}

/// Decodes a whole file; errors are yaml.v2's unmarshal errors.
pub(super) fn decode(root: Option<&Node>) -> Result<TestFile, String> {
    let mut d = Decoder { errors: Vec::new() };
    let mut f = TestFile::default();
    if let Some(root) = root {
        d.map(root, "unitTestFile", |d, key, v| {
            match key {
                "rule_files" => f.rule_files = d.seq(v, |d, n| d.string(n)),
                "evaluation_interval" => f.evaluation_interval_ms = d.duration(v),
                "group_eval_order" => f.group_eval_order = d.seq(v, |d, n| d.string(n)),
                "tests" => f.tests = d.seq(v, test_group),
                _ => return false,
            }
            true
        });
    }
    if d.errors.is_empty() {
        Ok(f)
    } else {
        Err(format!(
            "yaml: unmarshal errors:\n  {}",
            d.errors.join("\n  ")
        ))
    }
}

fn test_group(d: &mut Decoder, n: &Node) -> TestGroup {
    let mut t = TestGroup::default();
    d.map(n, "testGroup", |d, key, v| {
        match key {
            "interval" => t.interval_ms = d.duration(v),
            "input_series" => {
                t.input_series = d.seq(v, |d, n| {
                    let mut s = InputSeries::default();
                    d.map(n, "series", |d, key, v| {
                        match key {
                            "series" => s.series = d.string(v),
                            "values" => s.values = d.string(v),
                            _ => return false,
                        }
                        true
                    });
                    s
                })
            }
            "alert_rule_test" => t.alert_rule_test = d.seq(v, alert_test_case),
            "promql_expr_test" => t.promql_expr_test = d.seq(v, promql_test_case),
            "external_labels" => t.external_labels = d.string_map(v),
            "external_url" => t.external_url = d.string(v),
            "name" => t.name = d.string(v),
            _ => return false,
        }
        true
    });
    t
}

fn alert_test_case(d: &mut Decoder, n: &Node) -> AlertTestCase {
    let mut a = AlertTestCase::default();
    d.map(n, "alertTestCase", |d, key, v| {
        match key {
            "eval_time" => a.eval_time_ms = d.duration(v),
            "alertname" => a.alertname = d.string(v),
            "exp_alerts" => {
                a.exp_alerts = d.seq(v, |d, n| {
                    let mut e = ExpAlert::default();
                    d.map(n, "alert", |d, key, v| {
                        match key {
                            "exp_labels" => e.exp_labels = d.string_map(v),
                            "exp_annotations" => e.exp_annotations = d.string_map(v),
                            _ => return false,
                        }
                        true
                    });
                    e
                })
            }
            _ => return false,
        }
        true
    });
    a
}

fn promql_test_case(d: &mut Decoder, n: &Node) -> PromqlTestCase {
    let mut p = PromqlTestCase::default();
    d.map(n, "promqlTestCase", |d, key, v| {
        match key {
            "expr" => p.expr = d.string(v),
            "eval_time" => p.eval_time_ms = d.duration(v),
            "exp_samples" => {
                p.exp_samples = d.seq(v, |d, n| {
                    let mut s = ExpSample::default();
                    d.map(n, "sample", |d, key, v| {
                        match key {
                            "labels" => s.labels = d.string(v),
                            "value" => s.value = d.float(v),
                            "histogram" => s.histogram = d.string(v),
                            _ => return false,
                        }
                        true
                    });
                    s
                })
            }
            _ => return false,
        }
        true
    });
    p
}

struct Decoder {
    errors: Vec<String>,
}

impl Decoder {
    fn err(&mut self, n: &Node, msg: String) {
        self.errors.push(format!("line {}: {msg}", n.line));
    }

    fn kind_tag(n: &Node) -> &'static str {
        match &n.kind {
            NodeKind::Null => "!!null",
            NodeKind::Scalar { .. } => "!!str",
            NodeKind::Seq(_) => "!!seq",
            NodeKind::Map(_) => "!!map",
        }
    }

    /// Calls `field` for every key of a mapping; a key it does not know is an error.
    fn map(&mut self, n: &Node, ty: &str, mut field: impl FnMut(&mut Self, &str, &Node) -> bool) {
        match &n.kind {
            NodeKind::Null => {}
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_scalar().unwrap_or("").to_string();
                    if !field(self, &key, v) {
                        self.err(k, format!("field {key} not found in type main.{ty}"));
                    }
                }
            }
            _ => {
                let tag = Self::kind_tag(n);
                self.err(n, format!("cannot unmarshal {tag} into main.{ty}"));
            }
        }
    }

    fn seq<T>(&mut self, n: &Node, mut item: impl FnMut(&mut Self, &Node) -> T) -> Vec<T> {
        match &n.kind {
            NodeKind::Null => Vec::new(),
            NodeKind::Seq(items) => items.iter().map(|i| item(self, i)).collect(),
            _ => {
                let tag = Self::kind_tag(n);
                self.err(n, format!("cannot unmarshal {tag} into a list"));
                Vec::new()
            }
        }
    }

    /// A scalar as written (yaml.v2 decodes any scalar into a string field by its text,
    /// so `values: 0x10` stays `0x10`).
    fn string(&mut self, n: &Node) -> String {
        match &n.kind {
            NodeKind::Null => String::new(),
            NodeKind::Scalar { value, .. } => value.clone(),
            _ => {
                let tag = Self::kind_tag(n);
                self.err(n, format!("cannot unmarshal {tag} into string"));
                String::new()
            }
        }
    }

    fn string_map(&mut self, n: &Node) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match &n.kind {
            NodeKind::Null => {}
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let key = self.string(k);
                    let val = self.string(v);
                    m.insert(key, val);
                }
            }
            _ => {
                let tag = Self::kind_tag(n);
                self.err(n, format!("cannot unmarshal {tag} into map[string]string"));
            }
        }
        m
    }

    fn duration(&mut self, n: &Node) -> i64 {
        let s = self.string(n);
        if s.is_empty() {
            return 0;
        }
        match parse_duration_ms(&s) {
            Ok(ms) => ms,
            Err(e) => {
                self.err(n, e);
                0
            }
        }
    }

    fn float(&mut self, n: &Node) -> f64 {
        let s = self.string(n);
        let v = match s.as_str() {
            "" => Some(0.0),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
            _ => parse_number(&s).ok(),
        };
        v.unwrap_or_else(|| {
            self.err(n, format!("cannot unmarshal !!str `{s}` into float64"));
            0.0
        })
    }
}
