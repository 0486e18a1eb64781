//! An inhibit rule: while an alert matching `source_matchers` fires, alerts matching
//! `target_matchers` with equal values of the `equal` labels are muted.

use super::matcher::Matcher;

#[derive(Debug, Clone, PartialEq)]
pub struct InhibitRule {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}
