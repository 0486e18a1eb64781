//! A YAML mapping read as one of Alertmanager's structs: unknown and repeated keys reported
//! (yaml.v2's `UnmarshalStrict`), then typed getters that report a wrong type under the
//! field's key path and treat null as absent (Go leaves the zero value).

use super::scalars;
use super::sink::Sink;
use crate::notify::config::Secret;
use crate::yaml::{Node, NodeKind};

/// The path of a key under `parent` (`route` + `receiver` → `route.receiver`).
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A mapping's entries, checked against the struct's keys.
pub(crate) struct Fields<'n> {
    pub(crate) path: String,
    pub(crate) node: &'n Node,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// Reads `node` as the struct `what` with keys `known`. Null reads as an empty mapping;
    /// anything but a mapping is reported and gives None.
    pub(crate) fn read(
        sink: &mut Sink,
        node: &'n Node,
        path: &str,
        what: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let items = match &node.kind {
            NodeKind::Map(items) => items.as_slice(),
            NodeKind::Null => &[],
            _ => {
                sink.at(
                    path,
                    node,
                    format!("expected {what} (a mapping), found {}", node.describe()),
                );
                return None;
            }
        };
        let mut entries: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        for (key, value) in items {
            let Some(name) = key.as_scalar() else {
                sink.at(
                    path,
                    key,
                    format!("a key of {what} must be a string, found {}", key.describe()),
                );
                continue;
            };
            let key_path = join(path, name);
            if !known.contains(&name) {
                // yaml.v2 says `field X not found in type config.plain`.
                sink.at(&key_path, key, format!("unknown key {name:?} in {what}"));
                continue;
            }
            if entries.iter().any(|(k, _, _)| *k == name) {
                sink.at(
                    &key_path,
                    key,
                    format!("key {name:?} is set twice in {what}"),
                );
                continue;
            }
            entries.push((name, key, value));
        }
        Some(Fields {
            path: path.to_string(),
            node,
            entries,
        })
    }

    /// The value node of `key`, null or not; None when the key is absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    /// The key node of `key` (for "set here" errors).
    pub(crate) fn key_node(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| *k)
    }

    /// Whether `key` is present with a non-null value.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.kind != NodeKind::Null)
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Where to report a problem with `key`: its value, else the mapping itself.
    pub(crate) fn report(&self, sink: &mut Sink, key: &str, message: impl Into<String>) {
        let node = self.get(key).unwrap_or(self.node);
        sink.at(&self.path_of(key), node, message);
    }

    fn typed<T>(
        &self,
        sink: &mut Sink,
        key: &str,
        f: impl Fn(&Node) -> Result<Option<T>, String>,
    ) -> Option<T> {
        let node = self.get(key)?;
        match f(node) {
            Ok(v) => v,
            Err(e) => {
                sink.at(&self.path_of(key), node, e);
                None
            }
        }
    }

    pub(crate) fn string(&self, sink: &mut Sink, key: &str) -> Option<String> {
        self.typed(sink, key, scalars::string)
    }

    /// A string field where Go's empty string means unset.
    pub(crate) fn nonempty(&self, sink: &mut Sink, key: &str) -> Option<String> {
        self.string(sink, key).filter(|s| !s.is_empty())
    }

    pub(crate) fn secret(&self, sink: &mut Sink, key: &str) -> Option<Secret> {
        self.nonempty(sink, key).map(Secret)
    }

    pub(crate) fn boolean(&self, sink: &mut Sink, key: &str) -> Option<bool> {
        self.typed(sink, key, scalars::boolean)
    }

    pub(crate) fn integer(&self, sink: &mut Sink, key: &str) -> Option<i64> {
        self.typed(sink, key, scalars::integer)
    }

    pub(crate) fn duration(&self, sink: &mut Sink, key: &str) -> Option<i64> {
        self.typed(sink, key, scalars::duration)
    }

    /// An http(s) URL (Alertmanager's `URL`).
    pub(crate) fn url(&self, sink: &mut Sink, key: &str) -> Option<String> {
        let s = self.string(sink, key)?;
        match scalars::check_url(&s) {
            Ok(()) => Some(s),
            Err(e) => {
                self.report(sink, key, e);
                None
            }
        }
    }

    /// A URL that is a secret (`SecretURL`): `<secret>` is accepted as it is, so a
    /// configuration read back from the API loads again.
    pub(crate) fn secret_url(&self, sink: &mut Sink, key: &str) -> Option<Secret> {
        let s = self.string(sink, key)?;
        if s == "<secret>" {
            return Some(Secret(s));
        }
        match scalars::check_url(&s) {
            Ok(()) => Some(Secret(s)),
            Err(e) => {
                self.report(sink, key, e);
                None
            }
        }
    }

    /// A `host:port` address; the empty string is unset.
    pub(crate) fn host_port(&self, sink: &mut Sink, key: &str) -> Option<String> {
        let s = self.nonempty(sink, key)?;
        match scalars::check_host_port(&s) {
            Ok(()) => Some(s),
            Err(e) => {
                self.report(sink, key, e);
                None
            }
        }
    }

    /// A list's items with their paths (`receivers[2]`); null is an empty list.
    pub(crate) fn list(&self, sink: &mut Sink, key: &str) -> Vec<(String, &'n Node)> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        list_items(sink, node, &self.path_of(key))
    }

    /// A list of strings.
    pub(crate) fn strings(&self, sink: &mut Sink, key: &str) -> Option<Vec<(String, &'n Node)>> {
        let node = self.get(key)?;
        if node.kind == NodeKind::Null {
            return None;
        }
        let mut out = Vec::new();
        for (path, item) in list_items(sink, node, &self.path_of(key)) {
            match scalars::string(item) {
                Ok(s) => out.push((s.unwrap_or_default(), item)),
                Err(e) => sink.at(&path, item, e),
            }
        }
        Some(out)
    }

    /// A mapping of strings to strings, in file order; repeated keys reported.
    pub(crate) fn string_map(&self, sink: &mut Sink, key: &str) -> Vec<(String, String, &'n Node)> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        let path = self.path_of(key);
        let items = match &node.kind {
            NodeKind::Map(items) => items,
            NodeKind::Null => return Vec::new(),
            _ => {
                sink.at(
                    &path,
                    node,
                    format!("expected a mapping of strings, found {}", node.describe()),
                );
                return Vec::new();
            }
        };
        let mut out: Vec<(String, String, &Node)> = Vec::new();
        for (k, v) in items {
            let name = match scalars::string(k) {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => {
                    sink.at(&path, k, e);
                    continue;
                }
            };
            let item_path = join(&path, &name);
            if out.iter().any(|(n, _, _)| *n == name) {
                sink.at(&item_path, k, format!("key {name:?} is set twice"));
                continue;
            }
            match scalars::string(v) {
                Ok(s) => out.push((name, s.unwrap_or_default(), k)),
                Err(e) => sink.at(&item_path, v, e),
            }
        }
        out
    }
}

/// A list node's items with their paths; null is empty, anything else but a list is reported.
pub(crate) fn list_items<'n>(
    sink: &mut Sink,
    node: &'n Node,
    path: &str,
) -> Vec<(String, &'n Node)> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{path}[{i}]"), n))
            .collect(),
        NodeKind::Null => Vec::new(),
        _ => {
            sink.at(
                path,
                node,
                format!("expected a list, found {}", node.describe()),
            );
            Vec::new()
        }
    }
}
