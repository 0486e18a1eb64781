//! Alertmanager's template data (`template.Data`) as a template value: `.Receiver`,
//! `.Status`, `.Alerts` (with `.Firing`/`.Resolved`), `.GroupLabels`, `.CommonLabels`,
//! `.CommonAnnotations` (KV maps with `.SortedPairs`, `.Names`, `.Values`, `.Remove`) and
//! `.ExternalURL`. The same facts feed the webhook's JSON, so both are built from [`Data`].

use std::collections::BTreeMap;

use crate::notify::notify_alert::NotifyAlert;
use crate::template::{GoTime, Method, Object, ParamType, Value};

/// One alert as templates and the webhook see it (`template.Alert`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataAlert {
    /// `firing` or `resolved`.
    pub status: &'static str,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: GoTime,
    /// Go's zero time while the alert fires: Alertmanager does not show a future end.
    pub ends_at: GoTime,
    pub generator_url: String,
    /// 16 hex digits.
    pub fingerprint: String,
}

/// `template.Data` for one notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub receiver: String,
    pub status: &'static str,
    pub alerts: Vec<DataAlert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

impl Data {
    /// Alertmanager's `Template.Data`: alerts in the given order, the common labels and
    /// annotations those of every alert, the receiver's name escaped as `regexp.QuoteMeta`
    /// escapes it (Alertmanager does, so `team.a` reads `team\.a` in every payload).
    pub fn new(
        receiver: &str,
        group_labels: &BTreeMap<String, String>,
        alerts: &[NotifyAlert],
        external_url: &str,
        now_ms: i64,
    ) -> Data {
        let alerts_out: Vec<DataAlert> = alerts
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(now_ms);
                DataAlert {
                    status: if resolved { "resolved" } else { "firing" },
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: GoTime::from_unix_millis(a.starts_at_ms),
                    ends_at: if resolved {
                        GoTime::from_unix_millis(a.ends_at_ms)
                    } else {
                        GoTime::zero()
                    },
                    generator_url: a.generator_url.clone(),
                    fingerprint: format!("{:016x}", a.fingerprint()),
                }
            })
            .collect();
        let status = if alerts_out.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        };
        let common = |get: fn(&NotifyAlert) -> &BTreeMap<String, String>| {
            let mut out = alerts.first().map(|a| get(a).clone()).unwrap_or_default();
            for a in alerts.iter().skip(1) {
                out.retain(|k, v| get(a).get(k) == Some(v));
            }
            out
        };
        Data {
            receiver: quote_meta(receiver),
            status,
            alerts: alerts_out,
            group_labels: group_labels.clone(),
            common_labels: common(|a| &a.labels),
            common_annotations: common(|a| &a.annotations),
            external_url: external_url.to_string(),
        }
    }

    /// The data as templates see it (`*template.Data`).
    pub fn to_value(&self) -> Value {
        let alerts = self.alerts.iter().map(DataAlert::to_value).collect();
        Value::Struct {
            type_name: "*template.Data".to_string(),
            fields: vec![
                ("Receiver".to_string(), Value::Str(self.receiver.clone())),
                ("Status".to_string(), Value::Str(self.status.to_string())),
                (
                    "Alerts".to_string(),
                    Value::Object(Object::new("template.Alerts", Value::List(alerts), &ALERTS)),
                ),
                ("GroupLabels".to_string(), kv(&self.group_labels)),
                ("CommonLabels".to_string(), kv(&self.common_labels)),
                (
                    "CommonAnnotations".to_string(),
                    kv(&self.common_annotations),
                ),
                (
                    "ExternalURL".to_string(),
                    Value::Str(self.external_url.clone()),
                ),
            ],
        }
    }
}

impl DataAlert {
    fn to_value(&self) -> Value {
        Value::Struct {
            type_name: "template.Alert".to_string(),
            fields: vec![
                ("Status".to_string(), Value::Str(self.status.to_string())),
                ("Labels".to_string(), kv(&self.labels)),
                ("Annotations".to_string(), kv(&self.annotations)),
                ("StartsAt".to_string(), Value::Time(self.starts_at.clone())),
                ("EndsAt".to_string(), Value::Time(self.ends_at.clone())),
                (
                    "GeneratorURL".to_string(),
                    Value::Str(self.generator_url.clone()),
                ),
                (
                    "Fingerprint".to_string(),
                    Value::Str(self.fingerprint.clone()),
                ),
            ],
        }
    }
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A `template.KV` value. Printed, it reads as Go prints a map (`map[a:b]`), as in
/// Alertmanager 0.25 (0.27 added a `String` method printing `a=b, c=d`).
pub fn kv(map: &BTreeMap<String, String>) -> Value {
    Value::Object(Object::new("template.KV", Value::string_map(map), &KV))
}

fn strings(items: Vec<String>) -> Value {
    Value::Object(Object::new(
        "template.Strings",
        Value::List(items.into_iter().map(Value::Str).collect()),
        &STRINGS,
    ))
}

/// The map's string entries, Alertmanager's `SortedPairs` order: `alertname` first, then
/// by name.
fn sorted_pairs(map: &Value) -> Vec<(String, String)> {
    let Value::Map(m) = map.underlying() else {
        return Vec::new();
    };
    let mut pairs: Vec<(String, String)> = m
        .iter()
        .map(|(k, v)| match v {
            Value::Str(s) => (k.clone(), s.clone()),
            other => (
                k.clone(),
                crate::template::sprint(std::slice::from_ref(other)),
            ),
        })
        .collect();
    // BTreeMap order is by name already; alertname moves to the front.
    if let Some(i) = pairs.iter().position(|(k, _)| k == "alertname") {
        let p = pairs.remove(i);
        pairs.insert(0, p);
    }
    pairs
}

fn pairs_value(pairs: Vec<(String, String)>) -> Value {
    let items = pairs
        .into_iter()
        .map(|(n, v)| Value::Struct {
            type_name: "template.Pair".to_string(),
            fields: vec![
                ("Name".to_string(), Value::Str(n)),
                ("Value".to_string(), Value::Str(v)),
            ],
        })
        .collect();
    Value::Object(Object::new("template.Pairs", Value::List(items), &PAIRS))
}

fn pair_list(pairs: &Value) -> Vec<(String, String)> {
    let Value::List(items) = pairs.underlying() else {
        return Vec::new();
    };
    items
        .iter()
        .map(|p| {
            let s = |f: &str| match p.field(f) {
                Some(Value::Str(s)) => s.clone(),
                _ => String::new(),
            };
            (s("Name"), s("Value"))
        })
        .collect()
}

/// A `[]string` argument (a list of strings, or a named type over one).
pub fn string_list(v: &Value) -> Result<Vec<String>, String> {
    match v.underlying() {
        Value::List(items) => items
            .iter()
            .map(|i| match i.underlying() {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.go_type()
                )),
            })
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!(
            "wrong type for value; expected []string; got {}",
            other.go_type()
        )),
    }
}

static KV: [Method; 4] = [
    Method {
        name: "SortedPairs",
        params: &[],
        variadic: None,
        call: |m, _| Ok(pairs_value(sorted_pairs(m))),
    },
    Method {
        name: "Names",
        params: &[],
        variadic: None,
        call: |m, _| Ok(strings(sorted_pairs(m).into_iter().map(|p| p.0).collect())),
    },
    Method {
        name: "Values",
        params: &[],
        variadic: None,
        call: |m, _| Ok(strings(sorted_pairs(m).into_iter().map(|p| p.1).collect())),
    },
    Method {
        name: "Remove",
        params: &[ParamType::Any],
        variadic: None,
        call: |m, args| {
            let keys = string_list(args.first().unwrap_or(&Value::Nil))?;
            let Value::Map(m) = m.underlying() else {
                return Ok(kv(&BTreeMap::new()));
            };
            let rest: BTreeMap<String, String> = m
                .iter()
                .filter(|(k, _)| !keys.contains(k))
                .map(|(k, v)| {
                    let s = match v {
                        Value::Str(s) => s.clone(),
                        _ => String::new(),
                    };
                    (k.clone(), s)
                })
                .collect();
            Ok(kv(&rest))
        },
    },
];

static PAIRS: [Method; 2] = [
    Method {
        name: "Names",
        params: &[],
        variadic: None,
        call: |p, _| Ok(strings(pair_list(p).into_iter().map(|p| p.0).collect())),
    },
    Method {
        name: "Values",
        params: &[],
        variadic: None,
        call: |p, _| Ok(strings(pair_list(p).into_iter().map(|p| p.1).collect())),
    },
];

static STRINGS: [Method; 1] = [Method {
    name: "Join",
    params: &[ParamType::String],
    variadic: None,
    call: |s, args| {
        let sep = match args.first() {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(Value::Str(string_list(s)?.join(&sep)))
    },
}];

fn with_status(alerts: &Value, status: &str) -> Value {
    let Value::List(items) = alerts.underlying() else {
        return Value::List(Vec::new());
    };
    Value::List(
        items
            .iter()
            .filter(|a| matches!(a.field("Status"), Some(Value::Str(s)) if s == status))
            .cloned()
            .collect(),
    )
}

static ALERTS: [Method; 2] = [
    Method {
        name: "Firing",
        params: &[],
        variadic: None,
        call: |a, _| Ok(with_status(a, "firing")),
    },
    Method {
        name: "Resolved",
        params: &[],
        variadic: None,
        call: |a, _| Ok(with_status(a, "resolved")),
    },
];
