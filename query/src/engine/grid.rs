//! The evaluation grid: the step timestamps of a (sub)query, and helpers that line series
//! up on it.

use crate::value::Series;

/// Step timestamps `start, start + step, …, end` (ms). An instant query is a grid of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    pub fn new(start: i64, end: i64, step: i64) -> Self {
        Grid {
            start,
            end,
            step: step.max(1),
        }
    }

    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.step) as usize + 1
        }
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.step) as usize
    }
}

/// The points of many series regrouped by step: `elems(i)` lists `(series index, value)` of
/// every series with a point at step `i`, in series order.
pub(crate) struct ByStep {
    starts: Vec<usize>,
    elems: Vec<(u32, f64)>,
}

impl ByStep {
    pub fn new(series: &[Series], g: &Grid) -> Self {
        let n = g.len();
        let mut counts = vec![0usize; n + 1];
        for s in series {
            for p in &s.samples {
                counts[g.index(p.t) + 1] += 1;
            }
        }
        for i in 1..=n {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut elems = vec![(0u32, 0.0f64); counts[n]];
        for (si, s) in series.iter().enumerate() {
            for p in &s.samples {
                let i = g.index(p.t);
                elems[fill[i]] = (si as u32, p.v);
                fill[i] += 1;
            }
        }
        ByStep {
            starts: counts,
            elems,
        }
    }

    pub fn elems(&self, i: usize) -> &[(u32, f64)] {
        &self.elems[self.starts[i]..self.starts[i + 1]]
    }
}
