//! `WriteBatchBuilder`: a request's samples into one write batch, or one per shard. See the
//! format and the merging rules in the parent module's docs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::time_coder::TimeCoder;
use super::{RAW_VALUES, VERSION, WriteBatch};
use crate::decimal::scale_to_ints;
use crate::error::{Error, Result};
use crate::labels::METRIC_NAME;
use crate::sample::Sample;
use crate::tenant::Tenant;
use crate::varint::{put_uvarint, put_zigzag};

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
    /// Samples at or before this time are left out (older than the tenant's raw retention)
    /// and counted in `expired`.
    reject_before: Option<i64>,
    expired: usize,
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
            reject_before: None,
            expired: 0,
        }
    }

    /// Leaves out every sample at or before `t` (ms) from now on, counting it in
    /// [`expired`](Self::expired): the write path passes the tenant's raw retention cut-off,
    /// so data that retention would delete is refused before it is proposed.
    pub fn reject_at_or_before(&mut self, t: i64) {
        self.reject_before = Some(t);
    }

    /// Samples left out by [`reject_at_or_before`](Self::reject_at_or_before).
    pub fn expired(&self) -> usize {
        self.expired
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
            let h = crate::series_hash::label_set_hash(
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
        match self.reject_before {
            None => self.log.extend(samples.into_iter().map(|s| (item, s))),
            Some(cut) => {
                let mut offered = 0usize;
                self.log.extend(
                    samples
                        .into_iter()
                        .inspect(|_| offered += 1)
                        .filter(|s| s.t > cut)
                        .map(|s| (item, s)),
                );
                self.expired += offered - (self.log.len() - before);
            }
        }
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
