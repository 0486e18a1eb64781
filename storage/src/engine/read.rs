//! The read path: series by matchers (`select`, through the postings index), their samples
//! (`read_samples`: chunks on disk, then the head's pending, open and out-of-order samples,
//! merged), and label names and values. It holds a shard's read lock only while it reads the
//! head (memory first, then disk: data only moves from memory to disk), and never writes.
//!
//! ```text
//!  select ──► index::select (postings ∩ ∪ −) ──► head bounds overlap [mint, maxt]? ──► series
//!  read_samples ──► head (pending ⊕ open chunk ⊕ out-of-order), then the chunks of each day
//!                   in range ──► sorted, one sample per timestamp (in-order wins a tie)
//! ```

use super::{Engine, SeriesRef, bounded, cf};
use crate::codec::{chunk_header, decode_chunk};
use crate::error::{Error, Result};
use crate::head::{MemSamples, SeriesId};
use crate::index;
use crate::keys::{
    CF_CHUNKS, CF_SERIES, chunk_series_day_prefix, day_of, parse_chunk_key, series_key,
};
use crate::series_record::decode_series_record;
use cairn_model::{Matcher, Sample, merge_preferring_first};

impl Engine {
    /// Series of `tenant` in `shards` matching every matcher and with samples overlapping
    /// `[mint, maxt]` (by each series' time bounds).
    pub fn select(
        &self,
        tenant: &str,
        shards: &[u32],
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesRef>> {
        let db = &self.inner.db;
        let mut out = Vec::new();
        for &shard in shards {
            let Some(lock) = self.inner.shards.get(shard as usize) else {
                continue;
            };
            let (sids, check) = index::select(db, shard, tenant, matchers)?;
            let sids: Vec<SeriesId> = {
                let st = lock.read().unwrap_or_else(|p| p.into_inner());
                sids.into_iter()
                    .filter(|&sid| {
                        st.head
                            .bounds(sid)
                            .is_some_and(|(lo, hi)| lo <= maxt && hi >= mint)
                    })
                    .collect()
            };
            let keys: Vec<_> = sids.iter().map(|&sid| series_key(shard, sid)).collect();
            let series_cf = cf(db, CF_SERIES);
            let values = db.batched_multi_get_cf(series_cf, keys.iter(), false);
            for (sid, v) in sids.into_iter().zip(values) {
                let Some(v) = v? else {
                    return Err(Error::CorruptRecord {
                        what: "series",
                        shard,
                        reason: format!("series {sid} is in the index but has no record"),
                    });
                };
                let (_, labels) = decode_series_record(&v, shard)?;
                if check.iter().all(|m| m.matches(labels.get(&m.name))) {
                    out.push(SeriesRef { shard, sid, labels });
                }
            }
        }
        Ok(out)
    }

    /// Samples of one series within `[mint, maxt]`, sorted, one per timestamp.
    pub fn read_samples(
        &self,
        shard: u32,
        sid: SeriesId,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        out.clear();
        let Some(lock) = self.inner.shards.get(shard as usize) else {
            return Ok(());
        };
        // Memory first, then disk: data only ever moves from memory to disk, so whatever a
        // checkpoint moves in between is found on disk (and de-duplicated below).
        let mut mem = MemSamples::default();
        let bounds = {
            let st = lock.read().unwrap_or_else(|p| p.into_inner());
            st.head.read(sid, mint, maxt, &mut mem)?;
            st.head.bounds(sid)
        };
        let Some((lo, hi)) = bounds else {
            return Ok(());
        };
        let (lo, hi) = (lo.max(mint), hi.min(maxt));
        let mut ooo = std::mem::take(&mut mem.ooo);
        if lo <= hi {
            let db = &self.inner.db;
            let chunks_cf = cf(db, CF_CHUNKS);
            let mut tmp = Vec::new();
            // A day-merged chunk (see `compaction`) may start anywhere before `lo` in its
            // day, so each day is scanned from its start; complete windows and days are a few
            // chunks each, so that is a few keys, whose headers say whether to decode.
            for day in day_of(lo)..=day_of(hi) {
                let prefix = chunk_series_day_prefix(shard, day, sid);
                let mut it = db.raw_iterator_cf_opt(chunks_cf, bounded(&prefix));
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    let (_, start, seq) = parse_chunk_key(k)?;
                    if start > hi {
                        break;
                    }
                    let h = chunk_header(v)?;
                    let skip = start.saturating_add(h.span as i64) < lo
                        || (seq == 0 && mem.open_start == Some(start));
                    if !skip {
                        let dest = if seq == 0 { &mut *out } else { &mut ooo };
                        if start >= mint && start.saturating_add(h.span as i64) <= maxt {
                            // Wholly inside the range (the common case): no copy, no filter.
                            decode_chunk(v, start, dest)?;
                        } else {
                            tmp.clear();
                            decode_chunk(v, start, &mut tmp)?;
                            dest.extend(tmp.iter().filter(|x| x.t >= mint && x.t <= maxt));
                        }
                    }
                    it.next();
                }
                it.status()?;
            }
        }
        out.extend_from_slice(&mem.samples);
        // In-order chunks and the head are normally sorted and distinct already: check in
        // one pass rather than sort.
        if !out.windows(2).all(|w| w[0].t < w[1].t) {
            out.sort_by_key(|s| s.t);
            out.dedup_by_key(|s| s.t);
        }
        if !ooo.is_empty() {
            // Out-of-order samples are few: sort them (stable, so the first copy of a
            // timestamp wins) and merge, the in-order sample winning a tie.
            ooo.sort_by_key(|s| s.t);
            ooo.dedup_by_key(|s| s.t);
            let in_order = std::mem::take(out);
            merge_preferring_first(&in_order, &ooo, out);
        }
        Ok(())
    }

    /// Label names of a tenant's series (optionally only those matching `matchers` and with
    /// samples in `[mint, maxt]`), sorted and distinct.
    pub fn label_names(
        &self,
        tenant: &str,
        shards: &[u32],
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let mut names = std::collections::BTreeSet::new();
        if matchers.is_empty() && range.is_none() {
            for &shard in shards {
                names.extend(index::label_names(&self.inner.db, shard, tenant)?);
            }
        } else {
            let (mint, maxt) = range.unwrap_or((i64::MIN, i64::MAX));
            for s in self.select(tenant, shards, matchers, mint, maxt)? {
                names.extend(s.labels.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` (as `label_names`).
    pub fn label_values(
        &self,
        tenant: &str,
        shards: &[u32],
        name: &str,
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let mut values = std::collections::BTreeSet::new();
        if matchers.is_empty() && range.is_none() {
            for &shard in shards {
                values.extend(index::label_values(&self.inner.db, shard, tenant, name)?);
            }
        } else {
            let (mint, maxt) = range.unwrap_or((i64::MIN, i64::MAX));
            for s in self.select(tenant, shards, matchers, mint, maxt)? {
                let v = s.labels.get(name);
                if !v.is_empty() {
                    values.insert(v.to_string());
                }
            }
        }
        values.remove("");
        Ok(values.into_iter().collect())
    }
}
