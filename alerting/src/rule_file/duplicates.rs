//! promtool's duplicate-rule lint (`checkDuplicates`): rules of a file with the same name
//! (recorded metric or alert name) and the same labels. Evaluating both would write the same
//! series twice per evaluation ("Might cause inconsistency while recording expressions").
//! Like promtool 3.0 it looks at alerting rules too, not only recording rules.

use std::collections::BTreeMap;

use crate::rule::RuleGroup;

/// A name and label set shared by `count` (≥ 2) rules.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRule {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub count: usize,
}

/// The duplicated rules of `groups` (all groups of one file), sorted by name then labels,
/// as promtool lists them.
pub fn find_duplicates(groups: &[RuleGroup]) -> Vec<DuplicateRule> {
    let mut counts: BTreeMap<(&str, &BTreeMap<String, String>), usize> = BTreeMap::new();
    for rule in groups.iter().flat_map(|g| &g.rules) {
        *counts.entry((rule.name(), rule.labels())).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((metric, labels), count)| DuplicateRule {
            metric: metric.to_string(),
            labels: labels.clone(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{AlertingRule, RecordingRule, Rule};

    fn record(name: &str, labels: &[(&str, &str)]) -> Rule {
        Rule::Recording(RecordingRule {
            record: name.to_string(),
            expr: "1".to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            line: 0,
        })
    }

    fn alert(name: &str) -> Rule {
        Rule::Alerting(AlertingRule {
            alert: name.to_string(),
            expr: "1".to_string(),
            kind: None,
            for_ms: 0,
            keep_firing_for_ms: 0,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            line: 0,
        })
    }

    fn group(name: &str, rules: Vec<Rule>) -> RuleGroup {
        RuleGroup {
            file: "f.yml".to_string(),
            name: name.to_string(),
            interval_ms: None,
            query_offset_ms: None,
            limit: 0,
            rules,
            line: 0,
        }
    }

    #[test]
    fn same_name_and_labels_across_groups_are_duplicates() {
        let groups = vec![
            group(
                "a",
                vec![
                    record("m", &[]),
                    record("b", &[("x", "1")]),
                    record("m", &[]),
                ],
            ),
            group(
                "b",
                vec![
                    record("m", &[]),
                    record("b", &[("x", "2")]),
                    alert("A"),
                    alert("A"),
                ],
            ),
        ];
        let d = find_duplicates(&groups);
        assert_eq!(
            d,
            vec![
                DuplicateRule {
                    metric: "A".into(),
                    labels: BTreeMap::new(),
                    count: 2
                },
                DuplicateRule {
                    metric: "m".into(),
                    labels: BTreeMap::new(),
                    count: 3
                },
            ]
        );
    }

    #[test]
    fn different_labels_are_not_duplicates() {
        let groups = vec![group(
            "a",
            vec![record("m", &[("x", "1")]), record("m", &[("x", "2")])],
        )];
        assert!(find_duplicates(&groups).is_empty());
    }
}
