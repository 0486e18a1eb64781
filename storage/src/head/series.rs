//! One series' state in the head (`HeadSeries`: bounds, open chunk, sealed chunks waiting for
//! a checkpoint, out-of-order samples) and the table that holds every series of a shard by id
//! (`SeriesTable`, in pages). It owns the layout, which is most of the head's memory per active
//! series (136 bytes here plus the open chunk's bytes); what happens to a sample is `Head`'s
//! business (`head.rs`), and it must not grow a field without a measurement.

use crate::head_chunk::HeadChunk;
use cairn_model::Sample;

/// A sealed chunk waiting for the next checkpoint.
#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub start: i64,
    pub bytes: Box<[u8]>,
}

/// One series' head state. Every active series holds one, so it is kept narrow (136 bytes):
/// the last value without an `Option`, the flags in one byte, sealed chunks in a boxed slice.
#[derive(Debug)]
pub struct HeadSeries {
    pub min_t: i64,
    pub max_t: i64,
    /// The newest sample's value, if `flags` has `HAS_LAST`.
    pub(super) last_v: f64,
    pub(super) open: Option<HeadChunk>,
    /// Sealed chunks waiting for the next checkpoint (usually none or one).
    pub(super) pending: Box<[PendingChunk]>,
    /// Boxed so that the common case (no out-of-order samples) costs one pointer per series.
    #[allow(clippy::box_collection)]
    pub(super) ooo: Option<Box<Vec<Sample>>>,
    pub(super) flags: u8,
}

/// `HeadSeries::flags`: listed in `Head::dirty` (changed since the last checkpoint).
pub(super) const DIRTY: u8 = 1;
/// `HeadSeries::flags`: `last_v` holds the newest sample's value (unknown after a restart
/// that found no open chunk).
const HAS_LAST: u8 = 2;

impl HeadSeries {
    pub(super) fn new() -> Self {
        HeadSeries {
            min_t: i64::MAX,
            max_t: i64::MIN,
            last_v: 0.0,
            open: None,
            pending: Box::default(),
            ooo: None,
            flags: 0,
        }
    }

    pub fn open_chunk_start(&self) -> Option<i64> {
        self.open.as_ref().map(|c| c.first_t())
    }

    #[inline]
    pub(super) fn last_v(&self) -> Option<f64> {
        (self.flags & HAS_LAST != 0).then_some(self.last_v)
    }

    #[inline]
    pub(super) fn set_last_v(&mut self, v: f64) {
        self.last_v = v;
        self.flags |= HAS_LAST;
    }

    /// Marks the series dirty; true if it was not (the caller lists it then).
    #[inline]
    pub(super) fn mark_dirty(&mut self) -> bool {
        let was = self.flags & DIRTY != 0;
        self.flags |= DIRTY;
        !was
    }

    pub(super) fn push_pending(&mut self, chunk: PendingChunk) {
        let mut v = std::mem::take(&mut self.pending).into_vec();
        v.push(chunk);
        self.pending = v.into_boxed_slice();
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.open.as_ref().map_or(0, |c| c.heap_bytes())
            + self
                .pending
                .iter()
                .map(|p| p.bytes.len() + size_of::<PendingChunk>())
                .sum::<usize>()
            + self.ooo.as_ref().map_or(0, |o| o.capacity() * 16 + 24)
    }
}

/// Every series' `HeadSeries`, by id, in pages of `PAGE`: growing never moves what is there,
/// and at most one page is unused (a doubling `Vec` left up to half its capacity unused).
#[derive(Default)]
pub(super) struct SeriesTable {
    pages: Vec<Vec<HeadSeries>>,
    len: usize,
}

impl SeriesTable {
    pub(super) const PAGE: usize = 1024;

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, s: HeadSeries) {
        if self.pages.last().is_none_or(|p| p.len() == Self::PAGE) {
            self.pages.push(Vec::with_capacity(Self::PAGE));
        }
        if let Some(p) = self.pages.last_mut() {
            p.push(s);
            self.len += 1;
        }
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&HeadSeries> {
        self.pages.get(i / Self::PAGE)?.get(i % Self::PAGE)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut HeadSeries> {
        self.pages.get_mut(i / Self::PAGE)?.get_mut(i % Self::PAGE)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &HeadSeries> {
        self.pages.iter().flatten()
    }

    pub(super) fn allocated_bytes(&self) -> usize {
        self.pages.len() * Self::PAGE * size_of::<HeadSeries>()
            + self.pages.capacity() * size_of::<Vec<HeadSeries>>()
    }
}

impl std::ops::Index<usize> for SeriesTable {
    type Output = HeadSeries;

    #[inline]
    fn index(&self, i: usize) -> &HeadSeries {
        &self.pages[i / Self::PAGE][i % Self::PAGE]
    }
}

impl std::ops::IndexMut<usize> for SeriesTable {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut HeadSeries {
        &mut self.pages[i / Self::PAGE][i % Self::PAGE]
    }
}
