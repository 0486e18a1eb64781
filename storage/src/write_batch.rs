//! `WriteBatch`: one tenant's samples, encoded once, the unit of one write-ahead-log entry.
//!
//! Ingest builds it straight from line protocol or remote_write (no per-label `String`s), the
//! WAL stores its bytes unchanged, and apply decodes it. Strings are interned per batch, so
//! the ten tags that line protocol repeats on every field cost one byte each.
//!
//! ```text
//! batch   := version:u8=2  tenant_len:u8 tenant  n_samples:uvarint
//!            n_strings:uvarint (len:uvarint bytes)*        -- string table
//!            n_groups:uvarint group*
//! group   := n_labels:uvarint (name:sref value:sref)*     -- sorted by name, no __name__
//!            n_items:uvarint item*
//! item    := metric:sref n_samples:uvarint [values:u8 sample*]   -- values only if n > 0
//! sample  := time:zigzag-varint value
//! value   := f64le                                          -- values = 0xff (raw)
//!          | m:zigzag-varint                                -- values = scale 0..=15 (decimal)
//! sref    := uvarint index into the string table
//! ```
//! Times: an item's first sample stores its delta from the previous sample in the batch (the
//! first relative to 0); each later one the change of its delta from the previous delta (a
//! delta carried across items, starting at 0). A regular series then costs one byte of time
//! per sample, also for an item's first sample after the batch's first item.
//!
//! Values: when every value of an item is a decimal at one scale `s` (`v == m / 10^s` exactly,
//! as the chunk codecs define it), the item stores `m` for its first sample and the change of
//! `m` for the others; else (NaN, stale markers, -0.0, full-precision floats) 8 raw bytes each.
//! A 2-decimal gauge costs about 3.5 bytes per sample instead of 11 in version 1: that is
//! the write-ahead log every replica writes and checksums, and what the leader replicates.
//!
//! Version 1 (read only, from logs written before): no `n_samples` in the header, no `values`
//! byte, every sample `dt:zigzag-varint value:f64le`, `dt` from the previous sample in the batch.
//!
//! The builder merges what a request repeats: a label set seen again continues its group, and a
//! metric seen again in a group continues its item. A request of 1,000 lines for 100 hosts at
//! 10 timestamps is then 100 groups of 10 items of 10 samples, not 1,000 groups of single
//! samples: apply hashes and looks up each series once per batch instead of once per sample,
//! and the batch is about half the size (less log to write and replicate).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::codec::{MAX_SCALE, POW10, scale_to_ints};
use crate::error::{Error, Result};
use crate::model::{METRIC_NAME, Sample, Tenant};

const VERSION: u8 = 2;
/// The first format, still decoded (a log may hold entries written by an older binary).
const VERSION_1: u8 = 1;
/// An item's `values` byte for raw f64 values; 0..=15 is a decimal scale.
const RAW_VALUES: u8 = 0xff;

/// A finished, encoded batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteBatch {
    bytes: Vec<u8>,
    samples: usize,
    /// Smallest sample timestamp (in memory only; `i64::MIN` when unknown): the log thread
    /// applies the batches of one group commit in this order, which turns concurrent requests
    /// of consecutive time slices into in-order appends instead of out-of-order inserts.
    min_t: i64,
}

/// The tenant of an encoded batch, read from its header only (no validation of the rest).
pub fn tenant_of(bytes: &[u8]) -> Option<&str> {
    if !matches!(bytes.first(), Some(&VERSION | &VERSION_1)) {
        return None;
    }
    let len = *bytes.get(1)? as usize;
    std::str::from_utf8(bytes.get(2..2 + len)?).ok()
}

impl WriteBatch {
    /// Wraps bytes read back from the WAL; they are validated when decoded.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        WriteBatch {
            bytes,
            samples: 0,
            min_t: i64::MIN,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The smallest sample timestamp, or `i64::MIN` for a batch read back from bytes.
    pub fn min_t(&self) -> i64 {
        self.min_t
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Samples added by the builder (0 for a batch made with `from_bytes`).
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// Decodes the batch for apply.
    pub fn decode(&self) -> Result<DecodedBatch<'_>> {
        DecodedBatch::decode(&self.bytes)
    }
}

/// One label set of the batch: its sorted (name, value) string-table pairs, its shard (index
/// into `outs`) and its items (indexes into `items`).
struct GroupAcc {
    labels: Box<[(u32, u32)]>,
    shard: usize,
    items: Vec<u32>,
    /// Where the next `add` most likely goes: line protocol repeats fields in one order.
    next: usize,
}

/// Builds a `WriteBatch` (or one per shard). Usage: `begin_group(labels)` then any number of
/// `add`. With `sharded`, each group goes to `shards[label_set_hash % shards.len()]`, so one
/// request becomes one batch per shard it touches; the string table is shared by all of them.
pub struct WriteBatchBuilder {
    tenant: Tenant,
    strings: Vec<u8>,
    n_strings: u32,
    offsets: Vec<(usize, usize)>,
    index: HashMap<Box<str>, u32, BuildHasherDefault<FxHasher>>,
    /// Label sets already begun in this batch, by their input bytes: their index in
    /// `groups`. A request repeats a host's tags on every line; this skips interning, sorting
    /// and hashing them again, and merges the lines' samples into one group.
    groups_seen: HashMap<Box<[u8]>, usize, BuildHasherDefault<FxHasher>>,
    group_key: Vec<u8>,
    /// Target shards (empty: one unsharded batch).
    shards: Vec<u32>,
    outs: Vec<ShardOut>,
    groups: Vec<GroupAcc>,
    /// Every series of the batch: its metric name (string index) and samples added so far.
    items: Vec<(u32, u32)>,
    /// Every series' position in its group's items, by (group, metric name): where an `add`
    /// goes when it is not the item its group predicts (`GroupAcc::next`), without scanning.
    item_of: HashMap<(u32, u32), u32, BuildHasherDefault<FxHasher>>,
    /// Every sample in the order added, with its item: one vector for the whole batch rather
    /// than one per series (allocations were a visible share of ingest CPU); `encode` puts
    /// them in item order.
    log: Vec<(u32, Sample)>,
    /// The open group (index into `groups`), if any.
    current: Option<usize>,
    /// `log`'s length when the open group began, to undo its adds if it is abandoned.
    group_start: usize,
    samples: usize,
    label_scratch: Vec<(u32, u32)>,
    hash_buf: Vec<u8>,
}

#[derive(Default)]
struct ShardOut {
    /// Indexes into `groups`, in order of first appearance.
    groups: Vec<usize>,
    samples: usize,
    min_t: Option<i64>,
}

impl WriteBatchBuilder {
    pub fn new(tenant: Tenant) -> Self {
        Self::sharded(tenant, Vec::new())
    }

    /// A builder that splits groups over `shards` by the hash of their labels.
    pub fn sharded(tenant: Tenant, shards: Vec<u32>) -> Self {
        let n = shards.len().max(1);
        WriteBatchBuilder {
            tenant,
            strings: Vec::with_capacity(4096),
            n_strings: 0,
            offsets: Vec::new(),
            index: HashMap::default(),
            groups_seen: HashMap::default(),
            group_key: Vec::new(),
            shards,
            outs: (0..n).map(|_| ShardOut::default()).collect(),
            groups: Vec::new(),
            items: Vec::new(),
            item_of: HashMap::default(),
            log: Vec::new(),
            current: None,
            group_start: 0,
            samples: 0,
            label_scratch: Vec::new(),
            hash_buf: Vec::new(),
        }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.n_strings;
        self.n_strings += 1;
        put_uvarint(&mut self.strings, s.len() as u64);
        self.offsets.push((self.strings.len(), s.len()));
        self.strings.extend_from_slice(s.as_bytes());
        self.index.insert(s.into(), i);
        i
    }

    /// Starts a group of series that share `labels` (the metric name is given per item).
    /// Labels need not be sorted; empty values are dropped (Prometheus: empty means absent);
    /// a `__name__` label here is an error, as is a repeated name.
    pub fn begin_group<'a, I>(&mut self, labels: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.current = None;
        self.group_start = self.log.len();
        // The labels as given (empty values dropped), as the key of groups already seen:
        // `name 0xff value 0xff …` (0xff never occurs in UTF-8, so the key splits back).
        let mut key = std::mem::take(&mut self.group_key);
        key.clear();
        for (n, v) in labels.into_iter().filter(|(_, v)| !v.is_empty()) {
            key.extend_from_slice(n.as_bytes());
            key.push(0xff);
            key.extend_from_slice(v.as_bytes());
            key.push(0xff);
        }
        if let Some(&g) = self.groups_seen.get(key.as_slice()) {
            self.current = Some(g);
            self.group_key = key;
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.label_scratch);
        scratch.clear();
        let mut parts = key.split(|&b| b == 0xff);
        while let (Some(n), Some(v)) = (parts.next(), parts.next()) {
            // The key was built from `&str`s split at bytes that UTF-8 never contains.
            let (n, v) = (
                std::str::from_utf8(n).unwrap_or_default(),
                std::str::from_utf8(v).unwrap_or_default(),
            );
            if n.is_empty() {
                self.label_scratch = scratch;
                self.group_key = key;
                return Err(Error::EmptyLabelName);
            }
            if n == METRIC_NAME {
                self.label_scratch = scratch;
                self.group_key = key;
                return Err(Error::DuplicateLabel {
                    name: METRIC_NAME.to_string(),
                });
            }
            let ni = self.intern(n);
            let vi = self.intern(v);
            scratch.push((ni, vi));
        }
        // Sort by the label *name*, not its string-table index.
        let strings = &self.strings;
        let off = &self.offsets;
        if scratch.len() > 1 {
            let name_of = |i: u32| -> &[u8] { string_at(strings, off, i) };
            scratch.sort_by(|a, b| name_of(a.0).cmp(name_of(b.0)));
            for w in scratch.windows(2) {
                if name_of(w[0].0) == name_of(w[1].0) {
                    let name = String::from_utf8_lossy(name_of(w[0].0)).into_owned();
                    self.label_scratch = scratch;
                    self.group_key = key;
                    return Err(Error::DuplicateLabel { name });
                }
            }
        }
        let shard = if self.shards.len() > 1 {
            let h = crate::series::label_set_hash(
                &mut self.hash_buf,
                scratch.iter().map(|&(n, v)| {
                    (
                        std::str::from_utf8(string_at(strings, off, n)).unwrap_or(""),
                        std::str::from_utf8(string_at(strings, off, v)).unwrap_or(""),
                    )
                }),
            );
            (h % self.shards.len() as u64) as usize
        } else {
            0
        };
        let g = self.groups.len();
        self.groups.push(GroupAcc {
            labels: scratch.as_slice().into(),
            shard,
            items: Vec::new(),
            next: 0,
        });
        self.outs[shard].groups.push(g);
        self.groups_seen.insert(key.as_slice().into(), g);
        self.group_key = key;
        self.label_scratch = scratch;
        self.current = Some(g);
        Ok(())
    }

    /// Adds one sample of metric `name` to the open group.
    pub fn add(&mut self, name: &str, t: i64, v: f64) {
        self.add_series(name, std::iter::once(Sample { t, v }));
    }

    /// Adds several samples of one series (metric `name` plus the group's labels).
    pub fn add_series(&mut self, name: &str, samples: impl IntoIterator<Item = Sample>) {
        let Some(g) = self.current else {
            debug_assert!(false, "add without begin_group");
            return;
        };
        let ni = self.intern(name);
        let group = &mut self.groups[g];
        let predicted = group
            .items
            .get(group.next)
            .copied()
            .filter(|&item| self.items[item as usize].0 == ni);
        let item = match predicted {
            Some(item) => {
                group.next += 1;
                item
            }
            None => {
                let items = &mut self.items;
                let pos = *self.item_of.entry((g as u32, ni)).or_insert_with(|| {
                    group.items.push(items.len() as u32);
                    items.push((ni, 0));
                    group.items.len() as u32 - 1
                });
                // The item after this one is the likely next.
                group.next = pos as usize + 1;
                group.items[pos as usize]
            }
        };
        if group.next >= group.items.len() {
            group.next = 0;
        }
        let before = self.log.len();
        self.log.extend(samples.into_iter().map(|s| (item, s)));
        let added = &self.log[before..];
        if added.is_empty() {
            return;
        }
        self.items[item as usize].1 += added.len() as u32;
        let out = &mut self.outs[group.shard];
        let min_t = added.iter().map(|s| s.1.t).min().unwrap_or(i64::MAX);
        out.min_t = Some(out.min_t.map_or(min_t, |m| m.min(min_t)));
        out.samples += added.len();
        self.samples += added.len();
    }

    /// Drops what was added since the last `begin_group` (e.g. a line that turned out bad).
    /// A group or item left empty stays, with no samples.
    pub fn abandon_group(&mut self) {
        let Some(g) = self.current else {
            return;
        };
        let shard = self.groups[g].shard;
        for &(item, _) in &self.log[self.group_start..] {
            self.items[item as usize].1 -= 1;
        }
        let dropped = self.log.len() - self.group_start;
        self.log.truncate(self.group_start);
        self.samples -= dropped;
        self.outs[shard].samples -= dropped;
        // The shard's min_t may now be too small; it only orders proposals, so that is safe.
    }

    pub fn sample_count(&self) -> usize {
        self.samples
    }

    /// Every sample in item order (within an item, in the order added): a counting sort of
    /// `log` by item, and where each item's samples start.
    fn samples_by_item(&self) -> (Vec<Sample>, Vec<usize>) {
        let mut start = Vec::with_capacity(self.items.len() + 1);
        let mut at = 0usize;
        for &(_, n) in &self.items {
            start.push(at);
            at += n as usize;
        }
        start.push(at);
        let mut next = start.clone();
        let mut sorted = vec![Sample { t: 0, v: 0.0 }; self.log.len()];
        for &(item, s) in &self.log {
            let slot = &mut next[item as usize];
            sorted[*slot] = s;
            *slot += 1;
        }
        (sorted, start)
    }

    fn encode(&self, out: &ShardOut, sorted: &[Sample], start: &[usize]) -> WriteBatch {
        let mut b = Vec::with_capacity(self.strings.len() + out.samples * 4 + 32);
        b.push(VERSION);
        let t = self.tenant.as_str().as_bytes();
        b.push(t.len() as u8);
        b.extend_from_slice(t);
        put_uvarint(&mut b, out.samples as u64);
        put_uvarint(&mut b, self.n_strings as u64);
        b.extend_from_slice(&self.strings);
        put_uvarint(&mut b, out.groups.len() as u64);
        let mut times = TimeCoder::default();
        let mut ints = Vec::new();
        for &g in &out.groups {
            let group = &self.groups[g];
            put_uvarint(&mut b, group.labels.len() as u64);
            for &(n, v) in &group.labels {
                put_uvarint(&mut b, n as u64);
                put_uvarint(&mut b, v as u64);
            }
            put_uvarint(&mut b, group.items.len() as u64);
            for &item in &group.items {
                let item = item as usize;
                let samples = &sorted[start[item]..start[item + 1]];
                put_uvarint(&mut b, self.items[item].0 as u64);
                put_uvarint(&mut b, samples.len() as u64);
                if samples.is_empty() {
                    continue;
                }
                match scale_to_ints(samples, &mut ints) {
                    Some(scale) => {
                        b.push(scale as u8);
                        let mut prev = 0i64;
                        for (i, (s, &m)) in samples.iter().zip(&ints).enumerate() {
                            times.put(&mut b, s.t, i == 0);
                            // |m| < 2^53, so the difference cannot overflow.
                            put_zigzag(&mut b, m - prev);
                            prev = m;
                        }
                    }
                    None => {
                        b.push(RAW_VALUES);
                        for (i, s) in samples.iter().enumerate() {
                            times.put(&mut b, s.t, i == 0);
                            b.extend_from_slice(&s.v.to_bits().to_le_bytes());
                        }
                    }
                }
            }
        }
        WriteBatch {
            bytes: b,
            samples: out.samples,
            min_t: out.min_t.unwrap_or(i64::MIN),
        }
    }

    /// The whole request as one batch (an unsharded builder).
    pub fn finish(self) -> WriteBatch {
        let (sorted, start) = self.samples_by_item();
        if self.outs.len() == 1 {
            return self.encode(&self.outs[0], &sorted, &start);
        }
        // A sharded builder asked for one batch: rebuild it unsharded (time deltas chain per
        // batch, so the shards' groups cannot simply be concatenated).
        let parts: Vec<WriteBatch> = self
            .outs
            .iter()
            .map(|o| self.encode(o, &sorted, &start))
            .collect();
        let mut one = WriteBatchBuilder::new(self.tenant.clone());
        for part in &parts {
            let Ok(d) = part.decode() else { continue };
            for g in &d.groups {
                if one
                    .begin_group(d.labels_of(g).iter().map(|&(n, v)| (d.str(n), d.str(v))))
                    .is_err()
                {
                    continue;
                }
                for item in d.items_of(g) {
                    one.add_series(d.str(item.name), d.samples_of(item).iter().copied());
                }
            }
        }
        one.finish()
    }

    /// One batch per shard that received samples, as `(shard, batch)`.
    pub fn finish_sharded(self) -> Vec<(u32, WriteBatch)> {
        let (sorted, start) = self.samples_by_item();
        let shards = if self.shards.is_empty() {
            vec![0]
        } else {
            self.shards.clone()
        };
        shards
            .iter()
            .zip(&self.outs)
            .filter(|(_, o)| o.samples > 0)
            .map(|(&shard, o)| (shard, self.encode(o, &sorted, &start)))
            .collect()
    }
}

/// The multiply-rotate hash rustc uses for its own tables: interning hashes ~30 short strings
/// per line-protocol line, and SipHash was a quarter of parse time. Not DoS-resistant, which is
/// fine for a map that lives for one request and whose size the body limit bounds.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

fn string_at<'a>(strings: &'a [u8], off: &[(usize, usize)], i: u32) -> &'a [u8] {
    let (s, l) = off[i as usize];
    &strings[s..s + l]
}

/// A decoded batch: borrowed strings, groups of items.
#[derive(Debug)]
pub struct DecodedBatch<'a> {
    pub tenant: &'a str,
    pub strings: Vec<&'a str>,
    pub groups: Vec<Group>,
    /// Every group's labels; groups refer to ranges of it (one allocation, not one per group).
    pub labels: Vec<(u32, u32)>,
    /// Every group's items, likewise.
    pub items: Vec<Item>,
    /// Every sample of the batch; items refer to ranges of it (one allocation, not one per item).
    pub samples: Vec<Sample>,
    /// For every sample of a decimal item (`Item::scale`), `m` with `v == m / 10^scale`;
    /// 0 for the samples of raw items. Same indexes as `samples`.
    pub mantissas: Vec<i64>,
}

/// A group: shared labels (indices into `strings`, sorted by name) and items, as ranges of the
/// batch's `labels` and `items` (see [`DecodedBatch::labels_of`], [`DecodedBatch::items_of`]).
#[derive(Debug)]
pub struct Group {
    pub labels: std::ops::Range<usize>,
    pub items: std::ops::Range<usize>,
}

/// One series' samples within a group: a range of `DecodedBatch::samples`.
#[derive(Debug)]
pub struct Item {
    pub name: u32,
    pub samples: std::ops::Range<usize>,
    /// The decimal scale every value of the item has (`DecodedBatch::mantissas`), if any.
    pub scale: Option<u8>,
}

impl<'a> DecodedBatch<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader { b: bytes, pos: 0 };
        let version = r.u8()?;
        if version != VERSION && version != VERSION_1 {
            return Err(corrupt(format!("unknown write batch version {version}")));
        }
        let tlen = r.u8()? as usize;
        let tenant = std::str::from_utf8(r.take(tlen)?)
            .map_err(|_| corrupt("tenant is not UTF-8".into()))?;
        // Version 2 says how many samples follow (each takes at least 2 bytes); in version 1 a
        // sample takes at least 9 (a 1-byte time delta and 8 bytes of value). Either way the
        // vector holds every sample without growing (growing copied it once per batch).
        let expected = if version == VERSION {
            Some(r.uvarint()?)
        } else {
            None
        };
        let capacity = match expected {
            Some(n) => (n as usize).min(bytes.len() / 2),
            None => bytes.len() / 9,
        };
        let n_strings = r.uvarint()? as usize;
        let mut strings = Vec::with_capacity(n_strings.min(bytes.len()));
        for _ in 0..n_strings {
            let len = r.uvarint()? as usize;
            let s = std::str::from_utf8(r.take(len)?)
                .map_err(|_| corrupt("string is not UTF-8".into()))?;
            strings.push(s);
        }
        let check = |i: u64| -> Result<u32> {
            if (i as usize) < strings.len() {
                Ok(i as u32)
            } else {
                Err(corrupt(format!("string index {i} out of range")))
            }
        };
        let n_groups = r.uvarint()? as usize;
        let mut groups = Vec::with_capacity(n_groups.min(bytes.len()));
        let mut all_labels = Vec::new();
        let mut all_items = Vec::new();
        let mut all = Vec::with_capacity(capacity);
        let mut mantissas = Vec::with_capacity(capacity);
        let mut times = TimeCoder::default();
        for _ in 0..n_groups {
            let nl = r.uvarint()? as usize;
            let labels_start = all_labels.len();
            for _ in 0..nl {
                let n = check(r.uvarint()?)?;
                let v = check(r.uvarint()?)?;
                all_labels.push((n, v));
            }
            let ni = r.uvarint()? as usize;
            let items_start = all_items.len();
            for _ in 0..ni {
                let name = check(r.uvarint()?)?;
                let ns = r.uvarint()? as usize;
                let start = all.len();
                let mut scale = None;
                if version == VERSION_1 {
                    for _ in 0..ns {
                        times.last_t = times.last_t.wrapping_add(r.zigzag()?);
                        let v = r.f64le()?;
                        all.push(Sample { t: times.last_t, v });
                    }
                } else if ns > 0 {
                    scale = decode_item(&mut r, &mut times, ns, &mut all, &mut mantissas)?;
                }
                mantissas.resize(all.len(), 0);
                all_items.push(Item {
                    name,
                    samples: start..all.len(),
                    scale,
                });
            }
            groups.push(Group {
                labels: labels_start..all_labels.len(),
                items: items_start..all_items.len(),
            });
        }
        if r.pos != bytes.len() {
            return Err(corrupt(format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        if let Some(n) = expected.filter(|&n| n != all.len() as u64) {
            return Err(corrupt(format!(
                "header says {n} samples, items hold {}",
                all.len()
            )));
        }
        Ok(DecodedBatch {
            tenant,
            strings,
            groups,
            labels: all_labels,
            items: all_items,
            samples: all,
            mantissas,
        })
    }

    /// The labels of one group: (name, value) string indices, sorted by name.
    pub fn labels_of(&self, g: &Group) -> &[(u32, u32)] {
        &self.labels[g.labels.clone()]
    }

    /// The items of one group.
    pub fn items_of(&self, g: &Group) -> &[Item] {
        &self.items[g.items.clone()]
    }

    /// The samples of one item.
    pub fn samples_of(&self, item: &Item) -> &[Sample] {
        &self.samples[item.samples.clone()]
    }

    /// The scaled integers of one item's samples (see `mantissas`; zeros for a raw item).
    pub fn mantissas_of(&self, item: &Item) -> &[i64] {
        &self.mantissas[item.samples.clone()]
    }

    pub fn str(&self, i: u32) -> &'a str {
        self.strings[i as usize]
    }

    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }
}

/// The time deltas of a version-2 batch (see the module docs): an item's first sample is a
/// delta from the batch's previous sample, a later one the change from the previous delta.
#[derive(Default)]
struct TimeCoder {
    last_t: i64,
    last_dt: i64,
}

impl TimeCoder {
    #[inline]
    fn put(&mut self, b: &mut Vec<u8>, t: i64, first_of_item: bool) {
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
    fn get(&mut self, r: &mut Reader<'_>, first_of_item: bool) -> Result<i64> {
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

/// Decodes the `ns > 0` samples of one version-2 item, from its `values` byte on, and
/// returns its decimal scale (None for raw values; `mantissas` then gets nothing).
fn decode_item(
    r: &mut Reader<'_>,
    times: &mut TimeCoder,
    ns: usize,
    out: &mut Vec<Sample>,
    mantissas: &mut Vec<i64>,
) -> Result<Option<u8>> {
    let values = r.u8()?;
    if values == RAW_VALUES {
        for i in 0..ns {
            let t = times.get(r, i == 0)?;
            let v = r.f64le()?;
            out.push(Sample { t, v });
        }
        return Ok(None);
    }
    let scale = usize::from(values);
    if scale > MAX_SCALE {
        return Err(corrupt(format!("item values byte {values}")));
    }
    let p = POW10[scale];
    let mut m = 0i64;
    for i in 0..ns {
        let t = times.get(r, i == 0)?;
        m = m.wrapping_add(r.zigzag()?);
        // The builder checked that this division gives back the value's exact bits.
        out.push(Sample { t, v: m as f64 / p });
        mantissas.push(m);
    }
    Ok(Some(values))
}

fn corrupt(reason: String) -> Error {
    Error::CorruptRecord {
        what: "write batch",
        shard: 0,
        reason,
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or_else(|| corrupt("truncated".into()))?;
        self.pos += 1;
        Ok(v)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt("truncated".into()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn f64le(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    #[inline]
    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        // Most varints of a batch are one byte.
        if let Some(&b) = self.b.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut x = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift >= 64 {
                return Err(corrupt("varint overflow".into()));
            }
            x |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(x);
            }
            shift += 7;
        }
    }

    #[inline]
    pub(crate) fn zigzag(&mut self) -> Result<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

pub(crate) fn put_zigzag(out: &mut Vec<u8>, x: i64) {
    put_uvarint(out, ((x << 1) ^ (x >> 63)) as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_label_set_gives_the_same_group_and_shard() {
        let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 5, 7, 9]);
        // The same tags in another order and with an empty one are the same label set; a bad
        // set in between is refused and leaves the next one unaffected.
        b.begin_group([("host", "a"), ("dc", "eu")]).unwrap();
        b.add("m", 1, 1.0);
        assert!(b.begin_group([("x", "1"), ("x", "2")]).is_err());
        b.begin_group([("host", "a"), ("dc", "eu"), ("rack", "")])
            .unwrap();
        b.add("m", 2, 2.0);
        b.begin_group([("host", "a"), ("dc", "eu")]).unwrap();
        b.add("m", 3, 3.0);
        b.begin_group([("dc", "eu"), ("host", "a")]).unwrap();
        b.add("m", 4, 4.0);
        let parts = b.finish_sharded();
        assert_eq!(parts.len(), 1, "one label set, one shard");
        let d = parts[0].1.decode().unwrap();
        let sets: Vec<Vec<(&str, &str)>> = d
            .groups
            .iter()
            .filter(|g| !g.items.is_empty())
            .map(|g| {
                d.labels_of(g)
                    .iter()
                    .map(|&(n, v)| (d.str(n), d.str(v)))
                    .collect()
            })
            .collect();
        // The first three are the same tags once empty ones are dropped: one group. The last
        // spells the set in another order: a group of its own, with the same labels.
        assert_eq!(sets.len(), 2);
        assert!(sets.iter().all(|s| *s == [("dc", "eu"), ("host", "a")]));
        let ts: Vec<i64> = d
            .groups
            .iter()
            .flat_map(|g| {
                d.items_of(g)
                    .iter()
                    .flat_map(|i| d.samples_of(i).iter().map(|s| s.t))
            })
            .collect();
        assert_eq!(ts, [1, 2, 3, 4]);
        assert_eq!(tenant_of(parts[0].1.as_bytes()), Some("default"));
        assert_eq!(tenant_of(&parts[0].1.as_bytes()[..3]), None);
        assert_eq!(tenant_of(b"\x09\x01a"), None);
    }

    #[test]
    fn fields_in_any_order_and_many_metrics_still_merge_per_series() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        // Field order changes from line to line, and one label set carries 2,000 metrics.
        let orders: [&[&str]; 3] = [&["a", "b", "c"], &["c", "a", "b"], &["b", "d", "a"]];
        for (t, order) in orders.iter().enumerate() {
            b.begin_group([("host", "x")]).unwrap();
            for f in *order {
                b.add(f, t as i64, t as f64);
            }
        }
        b.begin_group([("job", "j")]).unwrap();
        for i in 0..2000 {
            b.add(&format!("m{i}"), 1, i as f64);
        }
        b.begin_group([("job", "j")]).unwrap();
        b.add("m1999", 2, 0.5);
        let wb = b.finish();
        let d = wb.decode().unwrap();
        let series = |g: &Group| -> Vec<(String, Vec<i64>)> {
            d.items_of(g)
                .iter()
                .map(|i| {
                    let ts = d.samples_of(i).iter().map(|s| s.t).collect();
                    (d.str(i.name).to_string(), ts)
                })
                .collect()
        };
        let host = series(&d.groups[0]);
        let want: Vec<(String, Vec<i64>)> = vec![
            ("a".into(), vec![0, 1, 2]),
            ("b".into(), vec![0, 1, 2]),
            ("c".into(), vec![0, 1]),
            ("d".into(), vec![2]),
        ];
        assert_eq!(host, want);
        let job = series(&d.groups[1]);
        assert_eq!(job.len(), 2000);
        assert_eq!(job[1999], ("m1999".to_string(), vec![1, 2]));
        assert_eq!(job[7], ("m7".to_string(), vec![1]));
    }

    #[test]
    fn lines_of_one_request_merge_into_one_item_per_series() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        // Line protocol order: per timestamp, per host, the same fields.
        for t in 0..3 {
            for host in ["a", "b"] {
                b.begin_group([("host", host)]).unwrap();
                b.add("cpu", t * 10, t as f64);
                b.add("mem", t * 10, -(t as f64));
            }
        }
        // A bad line's samples are taken back, the rest of its group stays.
        b.begin_group([("host", "a")]).unwrap();
        b.add("cpu", 99, 9.9);
        b.add("disk", 99, 9.9);
        b.abandon_group();
        assert_eq!(b.sample_count(), 12);
        let wb = b.finish();
        let d = wb.decode().unwrap();
        assert_eq!(d.groups.len(), 2);
        let mut got = Vec::new();
        for g in &d.groups {
            let host = d.str(d.labels_of(g)[0].1);
            for item in d.items_of(g) {
                let ts: Vec<(i64, f64)> = d.samples_of(item).iter().map(|s| (s.t, s.v)).collect();
                got.push((host, d.str(item.name), ts));
            }
        }
        let cpu = vec![(0, 0.0), (10, 1.0), (20, 2.0)];
        let mem = vec![(0, -0.0), (10, -1.0), (20, -2.0)];
        assert_eq!(
            got,
            [
                ("a", "cpu", cpu.clone()),
                ("a", "mem", mem.clone()),
                ("a", "disk", vec![]),
                ("b", "cpu", cpu),
                ("b", "mem", mem),
            ]
        );
        assert_eq!(wb.min_t(), 0);
    }

    #[test]
    fn round_trip_groups_items_and_samples() {
        let mut b = WriteBatchBuilder::new(Tenant::new("acme").unwrap());
        b.begin_group([("host", "a"), ("dc", "eu"), ("empty", "")])
            .unwrap();
        b.add("cpu_user", 1000, 1.5);
        b.add(
            "cpu_system",
            1000,
            f64::from_bits(crate::model::STALE_NAN_BITS),
        );
        b.begin_group([("host", "b")]).unwrap();
        b.add_series("up", [Sample::new(-5, 1.0), Sample::new(7, 0.0)]);
        let wb = b.finish();
        assert_eq!(wb.sample_count(), 4);
        let d = wb.decode().unwrap();
        assert_eq!(d.tenant, "acme");
        assert_eq!(d.groups.len(), 2);
        let g = &d.groups[0];
        let names: Vec<&str> = d.labels_of(g).iter().map(|l| d.str(l.0)).collect();
        assert_eq!(names, ["dc", "host"]);
        assert_eq!(d.str(d.items_of(g)[1].name), "cpu_system");
        assert!(crate::model::is_stale_marker(
            d.samples_of(&d.items_of(g)[1])[0].v
        ));
        let s = d.samples_of(&d.items_of(&d.groups[1])[0]);
        assert_eq!(s, &[Sample::new(-5, 1.0), Sample::new(7, 0.0)]);
        assert_eq!(d.sample_count(), 4);
    }

    /// Every value keeps its exact bits, whichever way its item is stored: decimal items
    /// (one scale, raised by a later value), raw items (NaN, stale marker, -0.0, a float with
    /// no short decimal form, infinities), and times that go back, jump and repeat their step.
    #[test]
    fn values_and_times_round_trip_bit_for_bit_in_decimal_and_raw_items() {
        let series: Vec<Vec<Sample>> = vec![
            // Decimal at scale 2, then 3 (the item is stored at 3).
            vec![
                Sample::new(10_000, 12.5),
                Sample::new(20_000, 12.25),
                Sample::new(30_000, 0.125),
            ],
            // Integers, negative, large, and a regular then irregular step.
            vec![
                Sample::new(-90_000, -3.0),
                Sample::new(-80_000, 9_007_199_254_740_000.0),
                Sample::new(-70_000, 0.0),
                Sample::new(1_700_000_000_000, 1e-15),
            ],
            // Raw: each of these has no exact short decimal.
            vec![
                Sample::new(5, 0.1 + 0.2),
                Sample::new(6, f64::from_bits(crate::model::STALE_NAN_BITS)),
                Sample::new(7, -0.0),
                Sample::new(8, f64::INFINITY),
                Sample::new(9, f64::NAN),
                Sample::new(10, std::f64::consts::PI),
            ],
            // Extreme timestamps: the deltas wrap and still come back exact.
            vec![Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)],
        ];
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        b.begin_group([("job", "x")]).unwrap();
        for (i, s) in series.iter().enumerate() {
            b.add_series(&format!("m{i}"), s.iter().copied());
        }
        let wb = b.finish();
        let d = wb.decode().unwrap();
        let items = d.items_of(&d.groups[0]);
        assert_eq!(items.len(), series.len());
        for (item, want) in items.iter().zip(&series) {
            let got = d.samples_of(item);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()), "{w:?}");
            }
        }
    }

    /// The reason for version 2: a regular 2-decimal gauge costs ~3.5 bytes per sample
    /// (1 of time, 2 of value change, the item's share), where version 1 took 11.
    #[test]
    fn a_regular_two_decimal_gauge_takes_under_four_bytes_per_sample() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        let mut v = 5_000i64; // hundredths
        for host in 0..100 {
            b.begin_group([("host", format!("h{host}").as_str())])
                .unwrap();
            for f in 0..10 {
                let samples: Vec<Sample> = (0..10)
                    .map(|i| {
                        v = (v + (i * 37 + f * 11) % 201 - 100).clamp(0, 10_000);
                        Sample::new(1_700_000_000_000 + i * 10_000, v as f64 / 100.0)
                    })
                    .collect();
                b.add_series(&format!("usage_{f}"), samples);
            }
        }
        let wb = b.finish();
        let per_sample = wb.as_bytes().len() as f64 / 10_000.0;
        assert!(per_sample < 4.0, "{per_sample} bytes per sample");
        assert_eq!(wb.decode().unwrap().sample_count(), 10_000);
    }

    /// A log written by an older binary holds version-1 batches: they still decode.
    #[test]
    fn version_one_batches_still_decode() {
        let mut b = vec![VERSION_1, 4];
        b.extend_from_slice(b"acme");
        put_uvarint(&mut b, 3); // strings
        for s in ["host", "a", "up"] {
            put_uvarint(&mut b, s.len() as u64);
            b.extend_from_slice(s.as_bytes());
        }
        put_uvarint(&mut b, 1); // groups
        put_uvarint(&mut b, 1); // labels
        put_uvarint(&mut b, 0);
        put_uvarint(&mut b, 1);
        put_uvarint(&mut b, 1); // items
        put_uvarint(&mut b, 2); // "up"
        put_uvarint(&mut b, 2); // samples
        for (dt, v) in [(1_000i64, 1.0f64), (-500, 0.5)] {
            put_zigzag(&mut b, dt);
            b.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(tenant_of(&b), Some("acme"));
        let d = DecodedBatch::decode(&b).unwrap();
        let item = &d.items_of(&d.groups[0])[0];
        assert_eq!(d.str(item.name), "up");
        assert_eq!(
            d.samples_of(item),
            &[Sample::new(1_000, 1.0), Sample::new(500, 0.5)]
        );
    }

    /// A wrong sample count in the header or a values byte that is neither a scale nor raw is
    /// corruption, reported as such.
    #[test]
    fn a_wrong_sample_count_or_values_byte_is_corrupt() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        b.begin_group([("a", "1")]).unwrap();
        b.add_series("m", [Sample::new(1, 1.5), Sample::new(2, 2.5)]);
        let bytes = b.finish().into_bytes();
        // version, tenant "default" (1 + 7 bytes), then the count.
        assert_eq!(bytes[9], 2);
        let mut wrong_count = bytes.clone();
        wrong_count[9] = 3;
        assert!(DecodedBatch::decode(&wrong_count).is_err());
        // The values byte comes before the two samples' four one-byte varints; scale 1 here.
        let at = bytes.len() - 5;
        assert_eq!(bytes[at], 1);
        let mut wrong_values = bytes.clone();
        wrong_values[at] = 16;
        let e = DecodedBatch::decode(&wrong_values).unwrap_err().to_string();
        assert!(e.contains("values byte 16"), "{e}");
    }

    #[test]
    fn duplicate_and_reserved_label_names_are_rejected() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        assert!(b.begin_group([("a", "1"), ("a", "2")]).is_err());
        assert!(b.begin_group([("__name__", "x")]).is_err());
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        b.begin_group([("a", "1")]).unwrap();
        b.add("m", 1, 1.0);
        let bytes = b.finish().into_bytes();
        for cut in 0..bytes.len() {
            assert!(DecodedBatch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn sharded_builder_splits_groups_by_label_set_and_keeps_lines_together() {
        let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 7, 9]);
        for h in 0..50 {
            let host = format!("h{h}");
            b.begin_group([("host", host.as_str())]).unwrap();
            b.add("cpu_user", 1_700_000_000_000, h as f64);
            b.add("cpu_system", 1_700_000_000_000, h as f64);
        }
        let parts = b.finish_sharded();
        assert!(
            parts.len() > 1,
            "50 hosts over 3 shards land on more than one"
        );
        let mut total = 0;
        for (shard, wb) in &parts {
            assert!([3, 7, 9].contains(shard));
            let d = wb.decode().unwrap();
            for g in &d.groups {
                assert_eq!(g.items.len(), 2, "both fields of a line stay in one shard");
            }
            total += d.sample_count();
            assert_eq!(wb.sample_count(), d.sample_count());
        }
        assert_eq!(total, 100);
        // Timestamps survive the split (deltas chain within each shard's batch).
        for (_, wb) in &parts {
            let d = wb.decode().unwrap();
            assert!(
                d.groups
                    .iter()
                    .flat_map(|g| d.items_of(g))
                    .all(|i| d.samples_of(i)[0].t == 1_700_000_000_000)
            );
        }
        // The same label set always goes to the same shard.
        let route = |host: &str| {
            let mut b = WriteBatchBuilder::sharded(Tenant::default_tenant(), vec![3, 7, 9]);
            b.begin_group([("host", host)]).unwrap();
            b.add("m", 1, 1.0);
            b.finish_sharded()[0].0
        };
        assert_eq!(route("h1"), route("h1"));
    }

    #[test]
    fn abandoned_group_keeps_no_samples() {
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        b.begin_group([("a", "1")]).unwrap();
        b.add("m", 1, 1.0);
        b.abandon_group();
        b.begin_group([("a", "2")]).unwrap();
        b.add("m", 2, 2.0);
        let wb = b.finish();
        assert_eq!(wb.sample_count(), 1);
        let d = wb.decode().unwrap();
        assert_eq!(d.sample_count(), 1);
        assert_eq!(
            d.samples_of(&d.items_of(&d.groups[1])[0])[0],
            Sample::new(2, 2.0)
        );
    }
}
