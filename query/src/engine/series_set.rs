//! `SeriesSet`: output series of an operator, keyed by label set, that rejects two values
//! for one label set at one step, as Prometheus does ("vector cannot contain metrics with
//! the same labelset").

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::value::{Labels, Sample, Series};

#[derive(Default)]
pub(crate) struct SeriesSet {
    index: HashMap<Labels, usize>,
    series: Vec<Series>,
}

pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

impl SeriesSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot of the output series with these labels, created on first use. Slots are in
    /// order of first use, which is the order of an instant query's result.
    pub fn slot(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.series.len();
        self.index.insert(labels.clone(), i);
        self.series.push(Series::new(labels, Vec::new()));
        i
    }

    /// Appends a point; points must come in time order per slot.
    pub fn push(&mut self, slot: usize, t: i64, v: f64) -> Result<()> {
        let s = &mut self.series[slot].samples;
        if s.last().is_some_and(|p| p.t == t) {
            return Err(Error::exec(DUPLICATE_LABELSET));
        }
        s.push(Sample::new(t, v));
        Ok(())
    }

    pub fn finish(self) -> Vec<Series> {
        self.series
            .into_iter()
            .filter(|s| !s.samples.is_empty())
            .collect()
    }
}
