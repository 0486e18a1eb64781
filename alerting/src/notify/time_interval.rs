//! A time interval (`time_intervals:`): the union of its parts; each part is the
//! intersection of its non-empty fields, evaluated in its `location`.

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`, 0..=1440.
    pub times: Vec<(u32, u32)>,
    /// Inclusive ranges; Sunday is 0, as Go counts weekdays.
    pub weekdays: Vec<(i32, i32)>,
    /// Inclusive ranges; negative counts from the month's end (-1 is its last day).
    pub days_of_month: Vec<(i32, i32)>,
    /// Inclusive ranges, January is 1.
    pub months: Vec<(i32, i32)>,
    pub years: Vec<(i32, i32)>,
    /// An IANA zone name (`Europe/Berlin`); None is UTC. `Local` is refused at parse time
    /// (a cluster's nodes need not share a zone).
    pub location: Option<String>,
}

impl TimeInterval {
    /// Whether the instant (ms since the epoch) falls in this part.
    pub fn contains(&self, ts_ms: i64) -> bool {
        let _ = ts_ms;
        unimplemented!("time interval evaluation: issue 17, config helper")
    }
}
