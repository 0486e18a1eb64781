//! Window and day compaction: the in-order chunks of one series within one chunk-span window
//! (2 h by default) are rewritten as few chunks as possible once the series has moved past the
//! window, and so are the chunks of a whole day once it has moved past the day. The head seals
//! chunks at 120 samples, as Prometheus does, so a day at a 10 s interval starts out as 72
//! chunks; on disk one chunk costs a key and a header (~30 bytes), a fourth of a byte per sample
//! at 120 samples. Merged chunks hold at most [`MAX_MERGED_SAMPLES`] (2,048) each, split evenly
//! (a day at 10 s: five of 1,728), because a read decodes whole chunks: a query for the last
//! hour of a flushed day decodes at most one or two of them. Fewer chunks also make reads
//! iterate fewer entries.
//!
//! ```text
//!  checkpoint plan ──plan_merges──► (series, window or day) whose span is complete
//!                                        │  engine: read its chunks already on disk
//!                                        ▼
//!  disk chunks + the plan's chunks ──merge_window──► even pieces of ≤ 2,048 samples; the
//!                                                    other chunks are deleted
//! ```
//!
//! A window (day) is complete when the series' open chunk lies in a later window (day):
//! in-order data can no longer land in it. A day merge covers every window of the day, so a
//! complete day is never also merged window by window. A series without an open chunk (sealed
//! by a flush) has every day merged: should more samples land in its last day, they get chunks
//! of their own, and the next merge of that day joins them to the merged ones. Its
//! out-of-order chunks so far are merged in too (in-order samples win a tie, as at read time);
//! later out-of-order arrivals for it get chunks of their own, merged at read time as before.
//!
//! So a chunk may span more than a window only when it comes from a day merge; readers
//! therefore scan a series' chunks of a day from the day's start (a complete window or day is a
//! few chunks, so that is at most a dozen or so keys before the current window's).
//!
//! It owns the merge plan and the merging of chunk bytes, as pure functions; it must not touch
//! RocksDB (the engine's `engine/checkpoint.rs` reads a window's chunks, calls `merge_window`
//! and writes the result in the checkpoint's write batch).

use std::collections::BTreeMap;

use crate::codec::{StreamCodec, decode_chunk, encode_chunk};
use crate::error::Result;
use crate::head::SeriesId;
use crate::keys::{HeadIndexEntry, MS_PER_DAY};
use cairn_model::{Sample, merge_preferring_first};

/// Most samples a merged chunk holds: reads of short ranges decode whole chunks, so this bounds
/// their work, while each extra chunk costs ~30 bytes (at 2,048, ~0.015 bytes per sample).
pub const MAX_MERGED_SAMPLES: usize = 2048;

/// A complete window or day of one series with in-order chunks in the checkpoint plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WindowMerge {
    pub sid: SeriesId,
    /// First millisecond of the window (or day).
    pub window_start: i64,
    /// Its length: the chunk span, or [`MS_PER_DAY`] for a day merge.
    pub span: i64,
}

impl WindowMerge {
    /// One past its last millisecond.
    pub fn end(&self) -> i64 {
        self.window_start + self.span
    }
}

/// The windows and days to merge: those of the plan's in-order chunks (and of those spilled
/// since the last checkpoint) whose series has moved past them. `chunks` are the plan's
/// `(sid, start, seq, bytes)`, `spilled` its `(sid, start)`, `head_index` its entries, `span`
/// the chunk span (which divides a day). A day merge stands for every window of its day.
pub fn plan_merges(
    chunks: &[(SeriesId, i64, u32, Vec<u8>)],
    spilled: &[(SeriesId, i64)],
    head_index: &[(SeriesId, HeadIndexEntry)],
    span: i64,
) -> Vec<WindowMerge> {
    let frontier: BTreeMap<SeriesId, i64> = head_index
        .iter()
        .map(|(sid, e)| (*sid, e.open_chunk.unwrap_or(i64::MAX)))
        .collect();
    let mut out: Vec<WindowMerge> = chunks
        .iter()
        .filter(|c| c.2 == 0)
        .map(|&(sid, start, _, _)| (sid, start))
        .chain(spilled.iter().copied())
        .filter_map(|(sid, start)| {
            let front = *frontier.get(&sid)?;
            // The day if the series has left it, else the window if it has left that.
            let span = [MS_PER_DAY, span]
                .into_iter()
                .find(|&len| front.div_euclid(len) > start.div_euclid(len))?;
            Some(WindowMerge {
                sid,
                window_start: start.div_euclid(span) * span,
                span,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A merged chunk: its start and bytes.
pub type MergedChunk = (i64, Vec<u8>);

/// Merges a window's (or day's) chunks: `on_disk` (already written) and `fresh` (from this
/// checkpoint), each `(start, seq, bytes)`, in-order (`seq` 0) and out-of-order alike. A fresh
/// chunk replaces a disk chunk with the same key (the copy of a then-open chunk written by an
/// earlier checkpoint). On equal timestamps the in-order sample wins, as at read time. Returns
/// the merged chunks' starts and bytes (to be written as in-order chunks): the fewest that hold
/// at most [`MAX_MERGED_SAMPLES`] each, of even sizes; or None when there is nothing to gain
/// (a single chunk, unless it is a [`StreamCodec`] one).
pub fn merge_window(
    on_disk: &[(i64, u32, Vec<u8>)],
    fresh: &[(i64, u32, &[u8])],
) -> Result<Option<Vec<MergedChunk>>> {
    let mut parts: BTreeMap<(u32, i64), &[u8]> =
        on_disk.iter().map(|(s, q, b)| ((*q, *s), &b[..])).collect();
    for &(s, q, b) in fresh {
        parts.insert((q, s), b);
    }
    // One chunk alone gains nothing, unless it is the head's decimal stream, which
    // `encode_chunk` makes smaller.
    let lone_final = |b: &[u8]| b.first() != Some(&StreamCodec::ID);
    if parts.len() < 2 && parts.values().all(|b| lone_final(b)) {
        return Ok(None);
    }
    let (mut in_order, mut late) = (Vec::new(), Vec::new());
    for (&(seq, start), bytes) in &parts {
        let dest: &mut Vec<Sample> = if seq == 0 { &mut in_order } else { &mut late };
        decode_chunk(bytes, start, dest)?;
    }
    // Stable sorts: within each kind the earlier chunk's copy of a timestamp is kept.
    in_order.sort_by_key(|s| s.t);
    in_order.dedup_by_key(|s| s.t);
    late.sort_by_key(|s| s.t);
    late.dedup_by_key(|s| s.t);
    let mut samples = Vec::new();
    merge_preferring_first(&in_order, &late, &mut samples);
    let pieces = samples.len().div_ceil(MAX_MERGED_SAMPLES);
    let mut out = Vec::with_capacity(pieces);
    let mut from = 0;
    for i in 0..pieces {
        let to = samples.len() * (i + 1) / pieces;
        let mut bytes = Vec::new();
        encode_chunk(&samples[from..to], &mut bytes)?;
        out.push((samples[from].t, bytes));
        from = to;
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ts: &[i64]) -> Vec<u8> {
        let s: Vec<Sample> = ts.iter().map(|&t| Sample::new(t, t as f64 / 7.0)).collect();
        let mut b = Vec::new();
        encode_chunk(&s, &mut b).unwrap();
        b
    }

    fn entry(max_t: i64, open: Option<i64>) -> HeadIndexEntry {
        HeadIndexEntry {
            min_t: 0,
            max_t,
            open_chunk: open,
        }
    }

    #[test]
    fn only_windows_the_series_has_left_are_merged() {
        let chunks = vec![
            (1, 0, 0, chunk(&[0])),
            (1, 500, 0, chunk(&[500])),
            (1, 1200, 0, chunk(&[1200])),
            (1, 300, 4, chunk(&[300])), // out-of-order: never a reason to merge
            (2, 100, 0, chunk(&[100])),
            (3, 100, 0, chunk(&[100])),
        ];
        let head = vec![
            (1, entry(1500, Some(1400))),
            // Sealed by a flush: everything is merged.
            (2, entry(900, None)),
            (3, entry(900, Some(800))),
        ];
        let m = plan_merges(&chunks, &[], &head, 1000);
        assert_eq!(
            m,
            [
                WindowMerge {
                    sid: 1,
                    window_start: 0,
                    span: 1000,
                },
                // Sealed by a flush: its whole day is merged.
                WindowMerge {
                    sid: 2,
                    window_start: 0,
                    span: MS_PER_DAY,
                }
            ]
        );
    }

    #[test]
    fn a_day_the_series_has_left_is_merged_whole() {
        const H: i64 = 3_600_000;
        let chunks = vec![
            (1, 22 * H, 0, chunk(&[22 * H])),
            (1, 23 * H, 0, chunk(&[23 * H])),
            (1, MS_PER_DAY + H, 0, chunk(&[MS_PER_DAY + H])),
            (2, 22 * H, 0, chunk(&[22 * H])),
        ];
        let head = vec![
            (1, entry(MS_PER_DAY + 3 * H, Some(MS_PER_DAY + 3 * H))),
            (2, entry(23 * H, Some(23 * H))),
        ];
        let m = plan_merges(&chunks, &[(2, 20 * H)], &head, 2 * H);
        assert_eq!(
            m,
            [
                // Day 0 is behind series 1: one merge for both its windows there.
                WindowMerge {
                    sid: 1,
                    window_start: 0,
                    span: MS_PER_DAY,
                },
                // Day 1's first window is behind it too.
                WindowMerge {
                    sid: 1,
                    window_start: MS_PER_DAY,
                    span: 2 * H,
                },
                // Series 2 is still in day 0 and in its 22 h window: only the window of the chunk
                // spilled at 20 h is complete.
                WindowMerge {
                    sid: 2,
                    window_start: 20 * H,
                    span: 2 * H,
                },
            ]
        );
    }

    #[test]
    fn merging_joins_disk_and_fresh_chunks_and_fresh_wins_a_start() {
        let disk = vec![(0, 0, chunk(&[0, 10, 20])), (30, 0, chunk(&[30]))];
        let fresh_open_copy_sealed = chunk(&[30, 40, 50]);
        let fresh_next = chunk(&[60, 70]);
        let fresh: Vec<(i64, u32, &[u8])> = vec![
            (30, 0, &fresh_open_copy_sealed[..]),
            (60, 0, &fresh_next[..]),
        ];
        let merged = merge_window(&disk, &fresh).unwrap().unwrap();
        assert_eq!(merged.len(), 1);
        let (start, bytes) = &merged[0];
        assert_eq!(*start, 0);
        let mut got = Vec::new();
        decode_chunk(bytes, *start, &mut got).unwrap();
        let ts: Vec<i64> = got.iter().map(|s| s.t).collect();
        assert_eq!(ts, [0, 10, 20, 30, 40, 50, 60, 70]);
        assert!(got.iter().all(|s| s.v == s.t as f64 / 7.0));
        // One chunk alone is left as it is, unless it is the head's decimal stream.
        assert!(merge_window(&[], &fresh[..1]).unwrap().is_none());
        let s: Vec<Sample> = (0..120)
            .map(|i| Sample::new(i * 10, (i % 7) as f64))
            .collect();
        let mut stream = Vec::new();
        crate::codec::put_chunk_header(&mut stream, StreamCodec::ID, 120, 1190);
        crate::codec::ChunkCodec::encode(&StreamCodec, &s, &mut stream).unwrap();
        let merged = merge_window(&[], &[(0, 0, &stream[..])]).unwrap().unwrap();
        let (start, bytes) = merged.into_iter().next().unwrap();
        assert_eq!(start, 0);
        assert_ne!(bytes[0], StreamCodec::ID);
        assert!(
            bytes.len() < stream.len(),
            "{} vs {}",
            bytes.len(),
            stream.len()
        );
        let mut got = Vec::new();
        decode_chunk(&bytes, 0, &mut got).unwrap();
        assert_eq!(got, s);
    }

    #[test]
    fn a_big_merge_is_split_into_even_pieces() {
        // 72 head chunks of 120 samples: a day at 10 s.
        let disk: Vec<(i64, u32, Vec<u8>)> = (0..72)
            .map(|c| {
                let ts: Vec<i64> = (0..120).map(|i| (c * 120 + i) * 10_000).collect();
                (ts[0], 0, chunk(&ts))
            })
            .collect();
        let merged = merge_window(&disk, &[]).unwrap().unwrap();
        let sizes: Vec<u32> = merged
            .iter()
            .map(|(_, b)| crate::codec::chunk_header(b).unwrap().count)
            .collect();
        assert_eq!(sizes, [1728; 5]);
        let mut got = Vec::new();
        for (start, bytes) in &merged {
            decode_chunk(bytes, *start, &mut got).unwrap();
        }
        let ts: Vec<i64> = got.iter().map(|s| s.t).collect();
        assert_eq!(ts, (0..8640).map(|i| i * 10_000).collect::<Vec<_>>());
    }

    #[test]
    fn out_of_order_chunks_join_and_lose_ties() {
        let in_order = chunk(&[0, 10, 30]);
        let mut late = Vec::new();
        encode_chunk(&[Sample::new(10, -1.0), Sample::new(20, -2.0)], &mut late).unwrap();
        let disk = vec![(10, 3, late)];
        let fresh: Vec<(i64, u32, &[u8])> = vec![(0, 0, &in_order[..])];
        let merged = merge_window(&disk, &fresh).unwrap().unwrap();
        let (start, bytes) = &merged[0];
        let mut got = Vec::new();
        decode_chunk(bytes, *start, &mut got).unwrap();
        assert_eq!(
            got,
            [
                Sample::new(0, 0.0),
                Sample::new(10, 10.0 / 7.0),
                Sample::new(20, -2.0),
                Sample::new(30, 30.0 / 7.0)
            ]
        );
    }
}
