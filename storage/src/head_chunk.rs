//! `HeadChunk`: the open, in-memory chunk of one series, where applied samples land until the
//! chunk is sealed (at 120 samples or a 2 h boundary, as the head decides).
//!
//! ```text
//!  apply ──push──► HeadChunk [open tsz Gorilla encoder + its bytes] ──seal──► encode_chunk
//!                      │                                                 (decimal or gorilla,
//!  select ◄─samples────┘ (decodes the bytes so far, encoder stays open)    whichever is smaller)
//! ```
//!
//! Memory is the constraint: the engine must stay under 1 KiB per active series, so a head
//! chunk holds only its Gorilla bytes (0.3-8 bytes per sample, 1.5x growth) plus 96 bytes of
//! fixed state, of which tsz's encoder state is 40; no copy of the samples.
//!
//! Reading while the encoder stays open: tsz's `StdEncoder` owns its writer and only gives its
//! bytes back from `close()`, which consumes it. So the writer handed to tsz is a zero-sized
//! handle, and the bytes live beside the encoder (`OpenGorilla` in `codec/gorilla.rs`). During
//! each `push` the bytes are moved into a thread-local slot where the handle appends to them,
//! then moved back, also on unwind. `push` takes `&mut self`, so whoever can see the chunk sees
//! every bit written so far, and `samples` decodes them in place (the count replaces tsz's end
//! marker, so nothing is appended or copied). Rejected alternatives: an
//! `Arc<Mutex<Vec<u8>>>` shared with the writer (a lock per bit write, 2-6 per sample, and ~60
//! more bytes per series), a raw pointer from the writer into a boxed buffer (`unsafe`, a second
//! allocation), or keeping the raw samples (16 bytes each, and not an open Gorilla encoder).
//!
//! A `HeadChunk` is `Send + Sync` and has no interior mutability: it lives behind the head's
//! `RwLock`, `push` needs the write lock, `samples` only the read lock.

use std::fmt;

use crate::codec::{
    ChunkHeader, GorillaCodec, MAX_CHUNK_SPAN_MS, OpenGorilla, decode_gorilla_payload,
    encode_chunk_reusing,
};
use crate::error::Result;
use crate::model::Sample;

/// The open chunk of one series; see the module docs.
pub struct HeadChunk {
    gorilla: OpenGorilla,
    first_t: i64,
    last_t: i64,
    len: u32,
}

impl HeadChunk {
    pub fn new(first: Sample) -> Self {
        Self::with_capacity(first, 0)
    }

    /// A chunk whose bytes have room for `bytes` from the start (e.g. the size of the series'
    /// previous chunk), so that it does not grow by reallocation as samples arrive.
    pub fn with_capacity(first: Sample, bytes: usize) -> Self {
        let mut gorilla = OpenGorilla::appending_to(Vec::with_capacity(bytes));
        gorilla.push(0, first.v);
        HeadChunk {
            gorilla,
            first_t: first.t,
            last_t: first.t,
            len: 1,
        }
    }

    /// Appends a sample. The caller guarantees `s.t > last_t()` and
    /// `s.t - first_t() < 2^31` (seal first otherwise; older samples go to the out-of-order
    /// chunk).
    ///
    /// # Panics
    /// If that guarantee is broken: tsz would silently store a wrong time, which is worse.
    pub fn push(&mut self, s: Sample) {
        let rel =
            s.t.checked_sub(self.first_t)
                .filter(|&rel| s.t > self.last_t && rel < MAX_CHUNK_SPAN_MS);
        let Some(rel) = rel else {
            panic!(
                "HeadChunk::push: t={} not after last_t={} or 2^31 ms or more after first_t={}",
                s.t, self.last_t, self.first_t
            );
        };
        self.gorilla.push(rel as u64, s.v);
        self.last_t = s.t;
        // Cannot overflow: times ascend by at least 1 ms within 2^31 ms.
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a head chunk is created with its first sample.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn first_t(&self) -> i64 {
        self.first_t
    }

    pub fn last_t(&self) -> i64 {
        self.last_t
    }

    /// Appends the samples so far to `out`, leaving the chunk open. An error means the
    /// in-memory bytes are corrupt (a bug); `out` is then unchanged.
    pub fn samples(&self, out: &mut Vec<Sample>) -> Result<()> {
        let start = out.len();
        decode_gorilla_payload(self.first_t, self.len(), self.gorilla.bytes(), out)
            .map(|_| ())
            .inspect_err(|_| out.truncate(start))
    }

    /// Closes the chunk: appends its final bytes to `out`, exactly as
    /// [`encode_chunk`](crate::codec::encode_chunk) would write these samples (so the smaller
    /// codec is kept), and returns their header.
    pub fn seal(self, out: &mut Vec<u8>) -> Result<ChunkHeader> {
        let mut samples = Vec::with_capacity(self.len());
        self.samples(&mut samples)?;
        // The head's bytes already are the Gorilla payload: no need to run tsz again.
        encode_chunk_reusing(&samples, Some(self.gorilla.bytes()), out)
    }

    /// Bytes of encoded samples so far.
    pub fn payload_len(&self) -> usize {
        self.gorilla.bytes().len()
    }

    /// Approximate heap memory held (the encoded bytes' allocation), for the active-series
    /// memory metric. Add `size_of::<HeadChunk>()` for the fixed part.
    pub fn heap_bytes(&self) -> usize {
        self.gorilla.heap_bytes()
    }
}

impl fmt::Debug for HeadChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadChunk")
            .field("first_t", &self.first_t)
            .field("last_t", &self.last_t)
            .field("len", &self.len)
            .field("codec", &GorillaCodec::NAME)
            .field("bytes", &self.gorilla.bytes().len())
            .finish()
    }
}

#[cfg(test)]
#[path = "head_chunk/head_chunk_test.rs"]
mod tests;
