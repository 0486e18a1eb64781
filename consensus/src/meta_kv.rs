//! `MetaKv`: the meta group's key-value space, where the node keeps replicated records that
//! are not the cluster's shape (rule groups, alert state: `cairn_alerting::state_keys` says
//! where). Keys are strings, values JSON text; the consensus layer never looks inside them.
//!
//! ```text
//!  MetaCommand::Kv { ops } ──MetaStateMachine::apply──► MetaKv::apply(ops)  (all, in order)
//!  MetaGroup::kv_get / kv_scan ◄── Arc<RwLock<MetaKv>> (read-only outside the state machine)
//! ```
//! Applying never fails, so every replica holds the same map after the same commands. It is
//! kept whole in memory and persisted per key (the meta state machine writes only the keys a
//! command changed, which [`MetaKv::apply_noting`] reports): it is meant for thousands of small
//! records, not for bulk data.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

/// One change to the key-value space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Sets `key` to `value` (JSON text), replacing any value.
    Put { key: String, value: String },
    /// Removes `key` (nothing if absent).
    Delete { key: String },
    /// Removes every key starting with `prefix` (an empty prefix: every key).
    DeletePrefix { prefix: String },
    /// Moves the value at `from` (if any) to `to`, as it is when the command applies: a
    /// proposer that read the value earlier cannot put back a stale copy.
    Move { from: String, to: String },
    /// A precondition: the whole command applies only if `key` holds `value` (`None`:
    /// is absent) when it applies; otherwise nothing of it does. A proposer acting on what
    /// it read (a rule group being evaluated) cannot overwrite a change made since.
    Expect { key: String, value: Option<String> },
}

/// The key-value space: ordered, so a prefix is a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MetaKv {
    entries: BTreeMap<String, String>,
}

impl MetaKv {
    /// Applies `ops` in order, or none of them if an `Expect` does not hold; returns whether
    /// they applied. A command's ops are applied together: readers take the lock around the
    /// whole call, so they see all of them or none.
    pub fn apply(&mut self, ops: &[KvOp]) -> bool {
        self.apply_noting(ops, &mut BTreeSet::new())
    }

    /// [`MetaKv::apply`], adding to `changed` every key it put or removed (each key a
    /// `DeletePrefix` removed, both ends of a `Move` that moved something). A refused command
    /// adds nothing. The caller persists exactly these keys, as they are after the command.
    pub fn apply_noting(&mut self, ops: &[KvOp], changed: &mut BTreeSet<String>) -> bool {
        let holds = ops.iter().all(|op| match op {
            KvOp::Expect { key, value } => self.entries.get(key) == value.as_ref(),
            _ => true,
        });
        if !holds {
            return false;
        }
        for op in ops {
            match op {
                KvOp::Put { key, value } => {
                    self.entries.insert(key.clone(), value.clone());
                    changed.insert(key.clone());
                }
                KvOp::Delete { key } => {
                    if self.entries.remove(key).is_some() {
                        changed.insert(key.clone());
                    }
                }
                KvOp::DeletePrefix { prefix } => {
                    let doomed: Vec<String> =
                        self.prefix_range(prefix).map(|(k, _)| k.clone()).collect();
                    for k in doomed {
                        self.entries.remove(&k);
                        changed.insert(k);
                    }
                }
                KvOp::Move { from, to } => {
                    if let Some(v) = self.entries.remove(from) {
                        self.entries.insert(to.clone(), v);
                        changed.insert(from.clone());
                        changed.insert(to.clone());
                    }
                }
                KvOp::Expect { .. } => {}
            }
        }
        true
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Every key starting with `prefix` and its value, in key order.
    pub fn scan_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.prefix_range(prefix)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Every key and its value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn prefix_range<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
        // Keys sort bytewise, so every key with the prefix follows it directly.
        self.entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }
}

impl FromIterator<(String, String)> for MetaKv {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> MetaKv {
        MetaKv {
            entries: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    fn keys(kv: &MetaKv, prefix: &str) -> Vec<String> {
        kv.scan_prefix(prefix).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn ops_apply_in_order() {
        let mut kv = MetaKv::default();
        kv.apply(&[put("a", "1"), put("a", "2"), put("b", "3")]);
        assert_eq!(kv.get("a"), Some("2"), "the later put wins");
        kv.apply(&[
            KvOp::Delete { key: "b".into() },
            put("b", "4"),
            KvOp::Delete { key: "a".into() },
        ]);
        assert_eq!((kv.get("a"), kv.get("b")), (None, Some("4")));
        kv.apply(&[KvOp::DeletePrefix { prefix: "".into() }, put("c", "5")]);
        assert_eq!(keys(&kv, ""), ["c"], "a put after the wipe stays");
    }

    #[test]
    fn prefixes_select_only_their_keys() {
        let mut kv = MetaKv::default();
        kv.apply(&[
            put("rules/t1/a", "1"),
            put("rules/t1/b", "2"),
            put("rules/t10/a", "3"),
            put("rules/t1", "4"),
            put("rules/t0/z", "5"),
            put("rulesX", "6"),
        ]);
        assert_eq!(keys(&kv, "rules/t1/"), ["rules/t1/a", "rules/t1/b"]);
        assert_eq!(
            keys(&kv, "rules/t1"),
            ["rules/t1", "rules/t1/a", "rules/t1/b", "rules/t10/a"]
        );
        assert_eq!(kv.scan_prefix("nothing/"), vec![]);
        kv.apply(&[KvOp::DeletePrefix {
            prefix: "rules/t1/".into(),
        }]);
        assert_eq!(
            keys(&kv, ""),
            ["rules/t0/z", "rules/t1", "rules/t10/a", "rulesX"]
        );
        assert_eq!(kv.len(), 4);
    }

    #[test]
    fn serializes_as_a_plain_json_object() {
        let mut kv = MetaKv::default();
        kv.apply(&[put("k", "{\"x\":1}")]);
        let json = serde_json::to_string(&kv).unwrap();
        assert_eq!(json, r#"{"k":"{\"x\":1}"}"#);
        assert_eq!(serde_json::from_str::<MetaKv>(&json).unwrap(), kv);
    }

    #[test]
    fn move_takes_the_value_as_it_is_when_applied() {
        let mut kv = MetaKv::default();
        kv.apply(&[put("a/0", "pending")]);
        // Committed after the mover read "pending": the move carries "firing".
        kv.apply(&[put("a/0", "firing")]);
        assert!(kv.apply(&[KvOp::Move {
            from: "a/0".into(),
            to: "a/1".into(),
        }]));
        assert_eq!(kv.get("a/0"), None);
        assert_eq!(kv.get("a/1"), Some("firing"));
        // Applied again (a retried proposal): nothing to move, nothing lost.
        kv.apply(&[KvOp::Move {
            from: "a/0".into(),
            to: "a/1".into(),
        }]);
        assert_eq!(kv.get("a/1"), Some("firing"));
    }

    #[test]
    fn a_command_whose_expectation_fails_applies_nothing() {
        let mut kv = MetaKv::default();
        kv.apply(&[put("rules/g", "v1"), put("alerts/g/1", "x")]);
        let expect = |v: Option<&str>| KvOp::Expect {
            key: "rules/g".into(),
            value: v.map(str::to_string),
        };
        assert!(!kv.apply(&[expect(Some("v0")), put("alerts/g/1", "y"), put("n", "1")]));
        assert_eq!(kv.get("alerts/g/1"), Some("x"));
        assert_eq!(kv.get("n"), None);
        assert!(!kv.apply(&[expect(None), put("n", "1")]));
        assert!(kv.apply(&[expect(Some("v1")), put("alerts/g/1", "y")]));
        assert_eq!(kv.get("alerts/g/1"), Some("y"));
        assert!(kv.apply(&[
            KvOp::Expect {
                key: "absent".into(),
                value: None
            },
            put("n", "1")
        ]));
        assert_eq!(kv.get("n"), Some("1"));
    }

    #[test]
    fn apply_noting_reports_every_key_it_changed() {
        let mut kv = MetaKv::default();
        let mut changed = BTreeSet::new();
        let noted =
            |c: &mut BTreeSet<String>| -> Vec<String> { std::mem::take(c).into_iter().collect() };
        assert!(kv.apply_noting(
            &[
                put("a/1", "1"),
                put("a/2", "2"),
                put("b", "3"),
                put("c", "4")
            ],
            &mut changed
        ));
        assert_eq!(noted(&mut changed), ["a/1", "a/2", "b", "c"]);
        assert!(kv.apply_noting(
            &[
                KvOp::DeletePrefix {
                    prefix: "a/".into()
                },
                KvOp::Move {
                    from: "b".into(),
                    to: "d".into()
                },
                // Nothing to move or delete: nothing changed.
                KvOp::Move {
                    from: "absent".into(),
                    to: "e".into()
                },
                KvOp::Delete {
                    key: "absent".into()
                },
                KvOp::Delete { key: "c".into() },
            ],
            &mut changed
        ));
        assert_eq!(noted(&mut changed), ["a/1", "a/2", "b", "c", "d"]);
        let before = kv.clone();
        assert!(!kv.apply_noting(
            &[
                put("x", "1"),
                KvOp::Expect {
                    key: "d".into(),
                    value: None
                }
            ],
            &mut changed
        ));
        assert!(changed.is_empty(), "a refused command changes nothing");
        assert_eq!(kv, before);
        assert_eq!(kv.iter().collect::<Vec<_>>(), [("d", "3")]);
        assert_eq!(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<MetaKv>(),
            kv
        );
    }
}
