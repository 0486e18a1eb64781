//! Sample times in a write batch: deltas that make a regular series cost one byte per sample.

use super::decode::Reader;
use crate::error::Result;
use crate::varint::put_zigzag;

/// The time deltas of a batch (see the module docs): an item's first sample is a
/// delta from the batch's previous sample, a later one the change from the previous delta.
#[derive(Default)]
pub(super) struct TimeCoder {
    last_t: i64,
    last_dt: i64,
}

impl TimeCoder {
    #[inline]
    pub(super) fn put(&mut self, b: &mut Vec<u8>, t: i64, first_of_item: bool) {
        let dt = t.wrapping_sub(self.last_t);
        if first_of_item {
            put_zigzag(b, dt);
        } else {
            put_zigzag(b, dt.wrapping_sub(self.last_dt));
            self.last_dt = dt;
        }
        self.last_t = t;
    }

    #[inline]
    pub(super) fn get(&mut self, r: &mut Reader<'_>, first_of_item: bool) -> Result<i64> {
        let z = r.zigzag()?;
        if first_of_item {
            self.last_t = self.last_t.wrapping_add(z);
        } else {
            self.last_dt = self.last_dt.wrapping_add(z);
            self.last_t = self.last_t.wrapping_add(self.last_dt);
        }
        Ok(self.last_t)
    }
}
