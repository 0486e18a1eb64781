//! `MemQuerier`: series held in memory. The in-process PromQL conformance runner and unit
//! tests use it; the node uses the storage engine instead.

use cairn_model::{Labels, Matcher, Sample};

use crate::error::Result;
use crate::querier::{Querier, SeriesHandle};

#[derive(Debug, Default, Clone)]
pub struct MemQuerier {
    series: Vec<(Labels, Vec<Sample>)>,
}

impl MemQuerier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples to the series with these labels (creating it), keeping them sorted and
    /// one per timestamp (a later add wins).
    pub fn add(&mut self, labels: Labels, samples: &[Sample]) {
        let idx = match self.series.iter().position(|(l, _)| *l == labels) {
            Some(i) => i,
            None => {
                self.series.push((labels, Vec::new()));
                self.series.len() - 1
            }
        };
        let v = &mut self.series[idx].1;
        v.extend_from_slice(samples);
        // Stable sort, then keep the last sample of each timestamp.
        v.sort_by_key(|s| s.t);
        let mut out: Vec<Sample> = Vec::with_capacity(v.len());
        for s in v.drain(..) {
            match out.last_mut() {
                Some(last) if last.t == s.t => *last = s,
                _ => out.push(s),
            }
        }
        *v = out;
    }

    pub fn clear(&mut self) {
        self.series.clear();
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

impl Querier for MemQuerier {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SeriesHandle>> {
        Ok(self
            .series
            .iter()
            .enumerate()
            .filter(|(_, (labels, samples))| {
                matchers.iter().all(|m| m.matches(labels.get(&m.name)))
                    && samples.iter().any(|s| s.t >= mint && s.t <= maxt)
            })
            .map(|(i, (labels, _))| SeriesHandle {
                labels: labels.clone(),
                id: i as u64,
            })
            .collect())
    }

    fn samples(&self, id: u64, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        out.clear();
        if let Some((_, v)) = self.series.get(id as usize) {
            let lo = v.partition_point(|s| s.t < mint);
            let hi = v.partition_point(|s| s.t <= maxt);
            out.extend_from_slice(&v[lo..hi]);
        }
        Ok(())
    }
}
