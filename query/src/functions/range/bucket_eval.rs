//! Range functions over rollups: the value of a function over a window that is a run of whole
//! buckets, from the buckets merged left to right ([`cairn_model::Bucket::merge`]). Only the
//! functions the merged fields determine ([`RangeFunction::exact_over_buckets`]) have one.

use cairn_model::Bucket;

use super::{RangeFunction, RateInputs, extrapolated_rate};

impl RangeFunction {
    /// Whether the function's value over a window is a function of the window's merged
    /// bucket, so rollups answer it exactly for aligned windows.
    pub fn exact_over_buckets(self) -> bool {
        use RangeFunction::*;
        matches!(
            self,
            Rate | Increase
                | Delta
                | AvgOverTime
                | MinOverTime
                | MaxOverTime
                | SumOverTime
                | CountOverTime
                | LastOverTime
                | PresentOverTime
        )
    }

    /// Evaluates over the merged bucket `b` of the window `(range_start, range_end]`. `None`
    /// where Prometheus gives no sample (an empty window, rate with fewer than two samples)
    /// and for functions not [`exact_over_buckets`](Self::exact_over_buckets).
    pub fn eval_bucket(self, b: &Bucket, range_start: i64, range_end: i64) -> Option<f64> {
        use RangeFunction::*;
        if b.count == 0 {
            return None;
        }
        match self {
            Rate | Increase | Delta => {
                let (is_counter, is_rate) = (self != Delta, self == Rate);
                let w = RateInputs {
                    first_t: b.first_t,
                    first_v: b.first_v,
                    last_t: b.last_t,
                    last_v: b.last_v,
                    count: b.count,
                    change: if is_counter {
                        b.counter_increase()
                    } else {
                        b.last_v - b.first_v
                    },
                };
                extrapolated_rate(&w, range_start, range_end, is_counter, is_rate)
            }
            // A plain sum: the rollup's `sum` is not Kahan-compensated, so this differs from
            // the raw answer in the last bits only.
            AvgOverTime => Some(b.sum / b.count as f64),
            SumOverTime => Some(b.sum),
            MinOverTime => Some(b.min),
            MaxOverTime => Some(b.max),
            CountOverTime => Some(b.count as f64),
            LastOverTime => Some(b.last_v),
            PresentOverTime => Some(1.0),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_model::Sample;

    use super::*;

    /// A counter with a reset, scraped irregularly, in two 5 m buckets.
    fn samples() -> Vec<Sample> {
        [
            (10, 5.0),
            (70, 9.0),
            (200, 2.0),
            (290, 4.0),
            (330, 7.0),
            (600, 12.0),
        ]
        .iter()
        .map(|&(s, v)| Sample::new(s * 1000, v))
        .collect()
    }

    #[test]
    fn merged_buckets_give_the_raw_answer() {
        let s = samples();
        let mut b = Bucket::of_samples(300_000, &s[..4]);
        b.merge(&Bucket::of_samples(600_000, &s[4..]));
        use RangeFunction::*;
        for f in [
            Rate,
            Increase,
            Delta,
            AvgOverTime,
            MinOverTime,
            MaxOverTime,
            SumOverTime,
            CountOverTime,
            LastOverTime,
            PresentOverTime,
        ] {
            let raw = f.eval(&s, 0, 600_000, 600_000, &[]).unwrap();
            let rolled = f.eval_bucket(&b, 0, 600_000).unwrap();
            assert!(
                (raw - rolled).abs() <= 1e-12 * raw.abs(),
                "{f:?}: {raw} vs {rolled}"
            );
        }
    }

    #[test]
    fn empty_and_single_sample_windows_give_what_raw_gives() {
        let empty = Bucket::empty(300_000);
        assert_eq!(
            RangeFunction::CountOverTime.eval_bucket(&empty, 0, 300_000),
            None
        );
        let one = Bucket::of_samples(300_000, &samples()[..1]);
        assert_eq!(RangeFunction::Rate.eval_bucket(&one, 0, 300_000), None);
        assert_eq!(
            RangeFunction::LastOverTime.eval_bucket(&one, 0, 300_000),
            Some(5.0)
        );
    }
}
