//! `MemRuleStore`: a [`RuleStore`] over a [`MemQuerier`], for rule unit tests and the
//! evaluator's own tests. Appended samples are visible to the next query at once; a sample
//! at a timestamp the series already has replaces it (a stale marker included).

use cairn_model::{Labels, Sample};
use cairn_query::{MemQuerier, Querier};

use crate::error::Result;
use crate::rule_store::RuleStore;

#[derive(Debug, Default, Clone)]
pub struct MemRuleStore {
    data: MemQuerier,
    appended: usize,
}

impl MemRuleStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `data` (e.g. a test's input series).
    pub fn with_data(data: MemQuerier) -> Self {
        MemRuleStore { data, appended: 0 }
    }

    /// Adds input samples directly (not through `append`).
    pub fn add(&mut self, labels: Labels, samples: &[Sample]) {
        self.data.add(labels, samples);
    }

    /// Samples written through [`RuleStore::append`] so far.
    pub fn appended(&self) -> usize {
        self.appended
    }

    pub fn querier_mut(&mut self) -> &mut MemQuerier {
        &mut self.data
    }
}

impl RuleStore for MemRuleStore {
    fn querier(&self) -> &dyn Querier {
        &self.data
    }

    fn append(&mut self, samples: Vec<(Labels, Sample)>) -> Result<()> {
        self.appended += samples.len();
        for (labels, sample) in samples {
            self.data.add(labels, &[sample]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cairn_model::Matcher;

    use super::*;

    #[test]
    fn appended_samples_are_visible_at_once() {
        let mut s = MemRuleStore::new();
        let l = Labels::from_pairs([("__name__", "x"), ("a", "1")]).unwrap();
        s.append(vec![(l.clone(), Sample::new(10, 1.0))]).unwrap();
        s.append(vec![(l.clone(), Sample::new(10, 2.0))]).unwrap();
        let found = s
            .querier()
            .select(&[Matcher::equal("__name__", "x")], 0, 100)
            .unwrap();
        assert_eq!(found.len(), 1);
        let mut out = Vec::new();
        s.querier().samples(found[0].id, 0, 100, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Sample::new(10, 2.0)],
            "a later sample at the same t wins"
        );
        assert_eq!(s.appended(), 2);
    }
}
