//! `HeadChunk`: the open, in-memory chunk of one series, where applied samples land until the
//! chunk is sealed (at 120 samples or a 2 h boundary, as the head decides).
//!
//! ```text
//!                 ┌ decimal stream (StreamCodec) while every value is a short decimal ┐
//!  apply ──push──►┤                                                                   ├─seal─►
//!                 └ open tsz Gorilla encoder + its bytes, from the first value that   ┘
//!                   is not (NaN, stale marker, full-precision float)
//!  select ◄─samples── decodes the bytes so far; the encoder stays open
//!
//!  seal: a stream is kept as it is (a StreamCodec chunk; the checkpoint's window merge encodes
//!        it again with encode_chunk); Gorilla goes through encode_chunk (smaller codec wins)
//! ```
//!
//! Memory is the constraint: the engine must stay under 1 KiB per active series, so a head
//! chunk holds only its encoded bytes plus fixed state, no copy of the samples. On 2-decimal
//! gauges the stream costs ~1.35 bytes per sample, Gorilla ~7 (the head's bytes per active
//! series fell from 1,323 to 702 when the stream replaced Gorilla as the open format). A value
//! with more decimals than the stream's scale re-encodes the chunk at the larger scale; a value
//! that is no short decimal turns it into Gorilla for the rest of the chunk.
//!
//! Reading while a Gorilla encoder stays open: tsz's `StdEncoder` owns its writer and only
//! gives its bytes back from `close()`, which consumes it. So the writer handed to tsz is a
//! zero-sized handle, and the bytes live beside the encoder (`OpenGorilla` in `codec/gorilla.rs`). During
//! each `push` the bytes are moved into a thread-local slot where the handle appends to them,
//! then moved back, also on unwind. `push` takes `&mut self`, so whoever can see the chunk sees
//! every bit written so far, and `samples` decodes them in place (the count replaces tsz's end
//! marker, so nothing is appended or copied). Rejected alternatives: an
//! `Arc<Mutex<Vec<u8>>>` shared with the writer (a lock per bit write, 2-6 per sample, and ~60
//! more bytes per series), a raw pointer from the writer into a boxed buffer (`unsafe`, a second
//! allocation), or keeping the raw samples (16 bytes each, and not an open Gorilla encoder).
//!
//! A `HeadChunk` is `Send + Sync` and has no interior mutability: it lives behind the head's
//! `RwLock`, `push` needs the write lock, `samples` only the read lock. It owns one chunk's
//! bytes and nothing else: when to seal is the head's decision, and it knows no series, keys
//! or RocksDB.

use std::fmt;

use crate::codec::{
    ChunkHeader, GorillaCodec, MAX_CHUNK_SPAN_MS, OpenGorilla, OpenStream, StreamCodec,
    decode_gorilla_payload, decode_stream_payload, encode_chunk_reusing, put_chunk_header,
};
use crate::error::Result;
use cairn_model::Sample;

/// The open chunk of one series; see the module docs.
pub struct HeadChunk {
    open: Open,
    first_t: i64,
    last_t: i64,
    len: u32,
}

/// The open chunk's encoding: the decimal stream while every value is a short decimal,
/// Gorilla from the first that is not. Gorilla is boxed: it is the rare case, and its encoder
/// is larger than the stream, which every active series holds.
enum Open {
    Stream(OpenStream),
    Gorilla(Box<OpenGorilla>),
}

/// What a series' next head chunk can start from: its previous chunk's size and Rice parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChunkHint {
    pub bytes: usize,
    pub k: u32,
}

impl HeadChunk {
    pub fn new(first: Sample) -> Self {
        Self::with_hint(first, ChunkHint::default())
    }

    /// A chunk sized for `hint.bytes` (e.g. the size of the series' previous chunk), and whose
    /// decimal stream starts with the previous chunk's Rice parameter. Its bytes start with
    /// room for half of `hint.bytes` and double once, mid-chunk: one reallocation per chunk,
    /// and on average a quarter of the allocation unused rather than half (with 100,000 active
    /// series that is ~40 bytes per series).
    pub fn with_hint(first: Sample, hint: ChunkHint) -> Self {
        let capacity = hint.bytes.div_ceil(2);
        let open = match OpenStream::new(first.v, hint.k, capacity) {
            Some(stream) => Open::Stream(stream),
            None => Open::Gorilla(Box::new(open_gorilla(&[first], capacity))),
        };
        HeadChunk {
            open,
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
        self.push_value(s, None);
    }

    /// [`push`](Self::push) for a sample whose value is exactly `m / 10^scale` (a decimal
    /// item of a write batch): the stream takes `m` without a float round trip.
    pub fn push_decimal(&mut self, s: Sample, m: i64, scale: u8) {
        self.push_value(s, Some((m, scale)));
    }

    fn push_value(&mut self, s: Sample, decimal: Option<(i64, u8)>) {
        let rel =
            s.t.checked_sub(self.first_t)
                .filter(|&rel| s.t > self.last_t && rel < MAX_CHUNK_SPAN_MS);
        let Some(rel) = rel else {
            panic!(
                "HeadChunk::push: t={} not after last_t={} or 2^31 ms or more after first_t={}",
                s.t, self.last_t, self.first_t
            );
        };
        match &mut self.open {
            Open::Gorilla(g) => g.push(rel as u64, s.v),
            Open::Stream(stream) => {
                let dt = s.t - self.last_t;
                let fits = decimal.is_some_and(|(m, scale)| stream.push_scaled(dt, m, scale))
                    || stream.push(dt, s.v);
                if !fits {
                    self.reencode(s);
                }
            }
        }
        self.last_t = s.t;
        // Cannot overflow: times ascend by at least 1 ms within 2^31 ms.
        self.len += 1;
    }

    /// `s` does not fit the stream's scale: encodes the chunk again with it, at the scale all
    /// values need, or as Gorilla if there is none (rare: a chunk's first values had fewer
    /// decimals, or a NaN or stale marker arrived).
    #[cold]
    fn reencode(&mut self, s: Sample) {
        let mut samples = Vec::with_capacity(self.len() + 1);
        if let Err(e) = self.samples(&mut samples) {
            // Our own bytes do not decode: a bug. Keep what can be kept.
            tracing::error!(error = %e, "head chunk does not decode; starting it again");
            samples.clear();
        }
        samples.push(s);
        let k = match &self.open {
            Open::Stream(stream) => stream.k(),
            Open::Gorilla(_) => 0,
        };
        let first_t = samples[0].t;
        self.open = match OpenStream::from_samples(&samples, k) {
            Some(stream) => Open::Stream(stream),
            None => Open::Gorilla(Box::new(open_gorilla(&samples, samples.len() * 8))),
        };
        self.first_t = first_t;
        self.len = samples.len() as u32 - 1; // push adds the new sample's 1
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
        match &self.open {
            Open::Stream(stream) => {
                decode_stream_payload(self.first_t, self.len(), stream.bytes(), out)
            }
            Open::Gorilla(g) => {
                decode_gorilla_payload(self.first_t, self.len(), g.bytes(), out).map(|_| ())
            }
        }
        .inspect_err(|_| out.truncate(start))
    }

    /// Closes the chunk: appends its final bytes to `out` and returns their header. A decimal
    /// stream is kept as it is (a `StreamCodec` chunk: the checkpoint's window merge encodes it
    /// again at its smallest); Gorilla bytes go through
    /// [`encode_chunk`](crate::codec::encode_chunk), so the smaller codec is kept.
    pub fn seal(self, out: &mut Vec<u8>) -> Result<ChunkHeader> {
        self.encode(out)
    }

    /// The chunk so far as a whole chunk, as [`seal`](Self::seal) would write it, leaving it
    /// open (a checkpoint's partial copy): a decimal stream costs a copy, no re-encoding.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<ChunkHeader> {
        match &self.open {
            Open::Stream(stream) => {
                let span = (self.last_t - self.first_t) as u64;
                let header_len = put_chunk_header(out, StreamCodec::ID, self.len, span);
                out.extend_from_slice(stream.bytes());
                Ok(ChunkHeader {
                    codec: StreamCodec::ID,
                    count: self.len,
                    span,
                    header_len,
                })
            }
            Open::Gorilla(g) => {
                let mut samples = Vec::with_capacity(self.len());
                self.samples(&mut samples)?;
                // The head's bytes already are the Gorilla payload: no need to run tsz again.
                encode_chunk_reusing(&samples, Some(g.bytes()), out)
            }
        }
    }

    /// What the series' next chunk should start from.
    pub fn hint(&self) -> ChunkHint {
        let (bytes, k) = match &self.open {
            Open::Stream(stream) => (stream.bytes().len(), stream.k()),
            Open::Gorilla(g) => (g.bytes().len(), 0),
        };
        ChunkHint {
            bytes: bytes + bytes / 16,
            k,
        }
    }

    /// Approximate heap memory held (the encoded bytes' allocation), for the active-series
    /// memory metric. Add `size_of::<HeadChunk>()` for the fixed part.
    pub fn heap_bytes(&self) -> usize {
        match &self.open {
            Open::Stream(stream) => stream.heap_bytes(),
            Open::Gorilla(g) => g.heap_bytes() + std::mem::size_of::<OpenGorilla>(),
        }
    }

    /// The open encoding's name (for tests and debugging).
    pub fn codec_name(&self) -> &'static str {
        match &self.open {
            Open::Stream(_) => StreamCodec::NAME,
            Open::Gorilla(_) => GorillaCodec::NAME,
        }
    }
}

/// An open Gorilla encoder holding `samples` (times relative to the first), with room for
/// `capacity` bytes.
fn open_gorilla(samples: &[Sample], capacity: usize) -> OpenGorilla {
    let mut g = OpenGorilla::appending_to(Vec::with_capacity(capacity));
    for x in samples {
        g.push((x.t - samples[0].t) as u64, x.v);
    }
    g
}

impl fmt::Debug for HeadChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match &self.open {
            Open::Stream(stream) => stream.bytes().len(),
            Open::Gorilla(g) => g.bytes().len(),
        };
        f.debug_struct("HeadChunk")
            .field("first_t", &self.first_t)
            .field("last_t", &self.last_t)
            .field("len", &self.len)
            .field("codec", &self.codec_name())
            .field("bytes", &bytes)
            .finish()
    }
}

#[cfg(test)]
#[path = "head_chunk/head_chunk_test.rs"]
mod tests;
