//! The values a template works on: a small dynamic model of the Go values Prometheus and
//! Alertmanager hand to `text/template` (strings, float64, maps, slices, structs, times), with
//! Go's truth rule and Go's type names for error messages. Printing lives in `go_fmt`.

use std::collections::BTreeMap;

use super::ParamType;
pub use super::go_time::GoTime;

/// A template value. Go's reflection sees data as typed values; these variants stand for the
/// types Cairn's templates meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's untyped nil (a missing value; prints `<no value>` at the top level).
    Nil,
    Bool(bool),
    /// Go's `int`.
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    Str(String),
    /// Go's `[]interface{}`.
    List(Vec<Value>),
    /// A map with string keys. A map whose values are all strings behaves as Go's
    /// `map[string]string` (a missing key reads as ""); any other map as
    /// `map[string]interface{}` (a missing key reads as nil, printed `<no value>`).
    Map(BTreeMap<String, Value>),
    /// A Go struct (or pointer to one): fields in declaration order. `type_name` is Go's
    /// spelling of its type, used in error messages; a name starting with `*` prints as `&{..}`.
    Struct {
        type_name: String,
        fields: Vec<(String, Value)>,
    },
    /// A `time.Time` (Prometheus' `toTime`, Alertmanager's alert times).
    Time(GoTime),
    /// A `*time.Duration` (Prometheus' `toDuration`), in nanoseconds.
    Duration(i64),
    /// `html/template.HTML` (Prometheus' `safeHtml`): a string of another type.
    Html(String),
    /// A value of a named Go type with methods (Alertmanager's `KV`, a map with
    /// `SortedPairs`; `Alerts`, a slice with `Firing`): it behaves as its underlying value
    /// (ranging, indexing, `len`, fields and keys) and its methods are callable as fields.
    Object(Object),
}

/// A named type's value: the underlying value and the type's methods.
#[derive(Clone)]
pub struct Object {
    /// Go's spelling of the type (`template.KV`).
    pub type_name: &'static str,
    pub inner: Box<Value>,
    pub methods: &'static [Method],
}

/// A method of a named type: its Go signature and what it computes from the receiver's
/// underlying value and the evaluated arguments.
pub struct Method {
    pub name: &'static str,
    pub params: &'static [ParamType],
    pub variadic: Option<ParamType>,
    pub call: fn(&Value, &[Value]) -> Result<Value, String>,
}

impl Object {
    pub fn new(type_name: &'static str, inner: Value, methods: &'static [Method]) -> Object {
        Object {
            type_name,
            inner: Box::new(inner),
            methods,
        }
    }

    pub fn method(&self, name: &str) -> Option<&'static Method> {
        self.methods.iter().find(|m| m.name == name)
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({:?})", self.type_name, self.inner)
    }
}

/// Two objects are equal when their types' names and underlying values are.
impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.type_name == other.type_name && self.inner == other.inner
    }
}

impl Value {
    /// Builds a Go `map[string]string` value (Prometheus' label maps).
    pub fn string_map(map: &BTreeMap<String, String>) -> Value {
        Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                .collect(),
        )
    }

    /// Go's truth (text/template's `isTrue`): false, 0, nil, "" and empty collections are
    /// false; structs and times are true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Html(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct { .. } | Value::Time(_) | Value::Duration(_) => true,
            Value::Object(o) => o.inner.is_true(),
        }
    }

    /// Whether a map reads as Go's `map[string]string`.
    pub fn is_string_map(map: &BTreeMap<String, Value>) -> bool {
        map.values().all(|v| matches!(v, Value::Str(_)))
    }

    /// Go's name for the value's type, as `%T` and error messages print it.
    pub fn go_type(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Bool(_) => "bool".to_string(),
            Value::Int(_) => "int".to_string(),
            Value::Float(_) => "float64".to_string(),
            Value::Str(_) => "string".to_string(),
            Value::List(_) => "[]interface {}".to_string(),
            Value::Map(m) if Value::is_string_map(m) => "map[string]string".to_string(),
            Value::Map(_) => "map[string]interface {}".to_string(),
            Value::Struct { type_name, .. } => type_name.clone(),
            Value::Time(_) => "*time.Time".to_string(),
            Value::Duration(_) => "*time.Duration".to_string(),
            Value::Html(_) => "template.HTML".to_string(),
            Value::Object(o) => o.type_name.to_string(),
        }
    }

    /// A struct's field by name.
    pub(crate) fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            Value::Object(o) => o.inner.field(name),
            _ => None,
        }
    }

    /// The underlying value of a named type's value (itself for any other).
    pub fn underlying(&self) -> &Value {
        match self {
            Value::Object(o) => o.inner.underlying(),
            v => v,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_is_gos() {
        assert!(!Value::Nil.is_true());
        assert!(!Value::Int(0).is_true());
        assert!(!Value::Float(0.0).is_true());
        assert!(!Value::from("").is_true());
        assert!(!Value::List(vec![]).is_true());
        assert!(!Value::Map(BTreeMap::new()).is_true());
        assert!(Value::Float(f64::NAN).is_true());
        assert!(Value::from("0").is_true());
        assert!(Value::Time(GoTime::from_unix_nanos(0)).is_true());
    }

    #[test]
    fn type_names_are_gos() {
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        assert_eq!(Value::string_map(&labels).go_type(), "map[string]string");
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::Int(1));
        assert_eq!(Value::Map(m).go_type(), "map[string]interface {}");
        assert_eq!(Value::Float(1.0).go_type(), "float64");
    }
}
