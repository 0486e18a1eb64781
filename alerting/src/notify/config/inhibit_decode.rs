//! `inhibit_rules:`: source and target matchers in all three spellings (`*_match`,
//! `*_match_re`, `*_matchers`) and the `equal` label names.

use super::fields::{Fields, join};
use super::route_decode::{match_re, matchers_list};
use super::scalars::is_label_name;
use super::sink::Sink;
use crate::notify::inhibit_rule::InhibitRule;
use crate::notify::matcher::{MatchOp, Matcher};

const KEYS: [&str; 7] = [
    "source_match",
    "source_match_re",
    "source_matchers",
    "target_match",
    "target_match_re",
    "target_matchers",
    "equal",
];

pub(crate) fn inhibit_rules(sink: &mut Sink, top: &Fields<'_>) -> Vec<InhibitRule> {
    let mut out = Vec::new();
    for (path, node) in top.list(sink, "inhibit_rules") {
        let Some(f) = Fields::read(sink, node, &path, "an inhibit rule", &KEYS) else {
            continue;
        };
        let before = sink.len();
        let source_matchers = side(sink, &f, "source");
        let target_matchers = side(sink, &f, "target");
        let mut equal = Vec::new();
        for (i, (name, n)) in f
            .strings(sink, "equal")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if is_label_name(&name) {
                equal.push(name);
            } else {
                sink.at(
                    &format!("{}[{i}]", f.path_of("equal")),
                    n,
                    format!("{name:?} is not a valid label name"),
                );
            }
        }
        if sink.len() == before {
            out.push(InhibitRule {
                source_matchers,
                target_matchers,
                equal,
            });
        }
    }
    out
}

fn side(sink: &mut Sink, f: &Fields<'_>, which: &str) -> Vec<Matcher> {
    let key = format!("{which}_match");
    let mut out = Vec::new();
    for (name, value, key_node) in f.string_map(sink, &key) {
        if !is_label_name(&name) {
            sink.at(
                &join(&f.path_of(&key), &name),
                key_node,
                format!("invalid label name {name:?}"),
            );
        } else if let Ok(m) = Matcher::new(&name, MatchOp::Equal, &value) {
            out.push(m);
        }
    }
    out.extend(match_re(sink, f, &format!("{which}_match_re")));
    out.extend(matchers_list(sink, f, &format!("{which}_matchers")));
    out
}
