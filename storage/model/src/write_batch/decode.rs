//! `DecodedBatch`: a write batch's bytes read back for apply, with borrowed strings and one
//! allocation per kind of thing (labels, items, samples) rather than one per group or item.

use super::time_coder::TimeCoder;
use super::{RAW_VALUES, VERSION, corrupt};
use crate::decimal::{MAX_SCALE, POW10};
use crate::error::Result;
use crate::sample::Sample;
use crate::varint::{get_uvarint, get_zigzag};

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
        if version != VERSION {
            return Err(corrupt(format!("unknown write batch version {version}")));
        }
        let tlen = r.u8()? as usize;
        let tenant =
            std::str::from_utf8(r.take(tlen)?).map_err(|_| corrupt("tenant is not UTF-8"))?;
        // The header says how many samples follow (each takes at least 2 bytes), so the
        // vector holds every sample without growing (growing copied it once per batch).
        let expected = r.uvarint()?;
        let capacity = (expected as usize).min(bytes.len() / 2);
        let n_strings = r.uvarint()? as usize;
        let mut strings = Vec::with_capacity(n_strings.min(bytes.len()));
        for _ in 0..n_strings {
            let len = r.uvarint()? as usize;
            let s =
                std::str::from_utf8(r.take(len)?).map_err(|_| corrupt("string is not UTF-8"))?;
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
                if ns > 0 {
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
        if expected != all.len() as u64 {
            return Err(corrupt(format!(
                "header says {expected} samples, items hold {}",
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

/// A cursor over a batch's bytes.
pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let v = *self.b.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(v)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt("truncated"))?;
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
        get_uvarint(self.b, &mut self.pos)
    }

    #[inline]
    pub(crate) fn zigzag(&mut self) -> Result<i64> {
        get_zigzag(self.b, &mut self.pos)
    }
}
