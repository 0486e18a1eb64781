//! Chunk codecs: how a run of one series' samples becomes the bytes of one chunk, and back.
//!
//! A chunk is the value the `chunks` column family stores under
//! `(shard, day, series id, chunk start)`. Its first timestamp is that chunk start, so it is not
//! repeated inside the chunk: the reader passes it back in as `base_t`.
//!
//! ```text
//!                  ┌─► DecimalCodec (id 2) ─┐   (residuals Rice-coded or, via `rans`,
//!  &[Sample] ──► encode_chunk               │    rANS-coded with a fitted model)
//!                  │                        ├─► the smallest: [codec u8][count][span][payload]
//!                  └─► GorillaCodec (id 1) ─┘                  (count, span: uvarint)
//!
//!  HeadChunk's open decimal stream ──seal──► StreamCodec (id 3) chunk, as it is; the window
//!                                            merge re-encodes it with encode_chunk
//!
//!  chunk + base_t (the key's chunk start) ──► decode_chunk ──► &mut Vec<Sample>
//!  chunk ──► chunk_header: count, span (max_t = base_t + span), without decoding
//! ```
//!
//! This module owns the [`ChunkCodec`] trait, the chunk framing and the bit-level helpers the
//! codecs share (`codec/bits.rs`). It must not know about keys, series or RocksDB. Every decoder treats its input
//! as untrusted: garbage gives `Err(CorruptChunk)`, never a panic, and whatever can be checked
//! (count, order, span, padding, trailing bytes) is checked, so corruption is not returned as
//! data. An encoder that cannot represent the samples bit for bit refuses with
//! `Err(CodecUnsupported)` instead of approximating. The byte format is in
//! `storage/docs/format/chunks.md`.

mod bits;
mod decimal;
mod gorilla;
mod rans;
mod stream;

pub(crate) use bits::{BitReader, BitSink, BitWriter};
pub use decimal::DecimalCodec;
pub use gorilla::GorillaCodec;
pub(crate) use gorilla::{OpenGorilla, decode_gorilla_payload};
pub use stream::StreamCodec;
pub(crate) use stream::{OpenStream, decode_stream_payload};

use crate::error::{Error, Result};
use cairn_model::Sample;

/// Every chunk spans less than this many milliseconds (`max_t - min_t < 2^31`): tsz encodes a
/// delta-of-delta beyond the i32 range wrongly and silently, so the bound is enforced for all
/// codecs (a chunk covers at most 2 h in practice).
pub const MAX_CHUNK_SPAN_MS: i64 = 1 << 31;

/// One way of turning samples into a chunk payload. Implementations are stateless singletons,
/// looked up by the id stored in every chunk header ([`codec_by_id`]).
pub trait ChunkCodec: Send + Sync + 'static {
    /// Stored in every chunk header; 1 = gorilla, 2 = decimal, 3 = decimal-stream. Never reuse
    /// an id.
    fn id(&self) -> u8;

    fn name(&self) -> &'static str;

    /// Appends the payload for `samples` (non-empty, strictly ascending timestamps,
    /// span < 2^31 ms) to `out`; `Err(Error::CodecUnsupported)` if it cannot represent them
    /// bit-exactly. On error, `out` may hold a partial payload past its original length.
    fn encode(&self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()>;

    /// Decodes `count` samples whose first timestamp is `base_t`, appending to `out`.
    /// Never panics on garbage; on error, `out` may hold some of the samples.
    fn decode(
        &self,
        base_t: i64,
        count: usize,
        payload: &[u8],
        out: &mut Vec<Sample>,
    ) -> Result<()>;
}

/// The fixed part of a chunk: which codec, how many samples, and how far they reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub codec: u8,
    pub count: u32,
    /// `max_t - min_t` in milliseconds (0 for a single sample).
    pub span: u64,
    /// Bytes of header before the payload.
    pub header_len: usize,
}

impl ChunkHeader {
    /// The chunk's last timestamp, given its first (`base_t`, from the key).
    pub fn max_t(&self, base_t: i64) -> i64 {
        base_t.saturating_add(self.span as i64)
    }
}

/// The codecs `encode_chunk` tries, in order; on a tie in size the earlier one wins (decimal
/// decodes faster).
static CODECS: [&dyn ChunkCodec; 2] = [&DecimalCodec, &GorillaCodec];

/// The codec a chunk header names.
pub fn codec_by_id(id: u8) -> Result<&'static dyn ChunkCodec> {
    match id {
        GorillaCodec::ID => Ok(&GorillaCodec),
        DecimalCodec::ID => Ok(&DecimalCodec),
        StreamCodec::ID => Ok(&StreamCodec),
        _ => Err(Error::UnknownCodec { id }),
    }
}

/// Encodes `samples` (non-empty, strictly ascending, span < 2^31 ms) as one chunk appended to
/// `out`, with whichever codec gives the fewest bytes. Returns its header; `out` is unchanged
/// on error.
pub fn encode_chunk(samples: &[Sample], out: &mut Vec<u8>) -> Result<ChunkHeader> {
    encode_chunk_reusing(samples, None, out)
}

/// [`encode_chunk`], given the Gorilla payload of `samples` if it is already at hand (a head
/// chunk's bytes), so that it is copied rather than encoded again.
pub(crate) fn encode_chunk_reusing(
    samples: &[Sample],
    gorilla_payload: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<ChunkHeader> {
    let span = check_samples("chunk", samples)?;
    let count = u32::try_from(samples.len()).map_err(|_| Error::CodecUnsupported {
        codec: "chunk",
        reason: "more than 2^32-1 samples",
    })?;
    // The header differs between candidates only in its first byte (the codec id).
    let mut head = Vec::with_capacity(21);
    put_chunk_header(&mut head, 0, count, span);

    let start = out.len();
    // (codec id, length) of the smallest chunk so far, which always sits at `start`.
    let mut best: Option<(u8, usize)> = None;
    for codec in CODECS {
        if let Some((_, best_len)) = best
            && let Some(len) = payload_len(codec.id(), samples)
            && head.len() + len >= best_len
        {
            continue; // known not to beat the best: skip encoding
        }
        let cand = out.len();
        head[0] = codec.id();
        out.extend_from_slice(&head);
        let encoded = match gorilla_payload {
            Some(payload) if codec.id() == GorillaCodec::ID => {
                out.extend_from_slice(payload);
                Ok(())
            }
            _ => codec.encode(samples, out),
        };
        match encoded {
            Ok(()) => {
                let len = out.len() - cand;
                if best.is_none_or(|(_, best_len)| len < best_len) {
                    out.copy_within(cand.., start);
                    out.truncate(start + len);
                    best = Some((codec.id(), len));
                } else {
                    out.truncate(cand);
                }
            }
            Err(Error::CodecUnsupported { .. }) => out.truncate(cand),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    match best {
        Some((codec, _)) => Ok(ChunkHeader {
            codec,
            count,
            span,
            header_len: head.len(),
        }),
        None => Err(Error::CodecUnsupported {
            codec: "chunk",
            reason: "no codec can encode these samples",
        }),
    }
}

/// Appends a chunk header (`codec`, `count`, `span`; see the module docs) to `out` and returns
/// its length.
pub(crate) fn put_chunk_header(out: &mut Vec<u8>, codec: u8, count: u32, span: u64) -> usize {
    let start = out.len();
    out.push(codec);
    put_uvarint(out, u64::from(count));
    put_uvarint(out, span);
    out.len() - start
}

/// Decodes a whole chunk (header and payload) whose first timestamp is `base_t`, appending its
/// samples to `out`. `out` is unchanged on error.
pub fn decode_chunk(chunk: &[u8], base_t: i64, out: &mut Vec<Sample>) -> Result<()> {
    let header = chunk_header(chunk)?;
    let codec = codec_by_id(header.codec)?;
    let start = out.len();
    let result = codec
        .decode(
            base_t,
            header.count as usize,
            &chunk[header.header_len..],
            out,
        )
        .and_then(|()| {
            let got = &out[start..];
            if got.len() != header.count as usize {
                return Err(corrupt("codec returned a different number of samples"));
            }
            // Codecs check order and the 2^31 bound; the header's span must agree with them.
            let last = got[got.len() - 1].t;
            if got[0].t != base_t || last.checked_sub(base_t) != Some(header.span as i64) {
                return Err(corrupt("samples disagree with the header's span"));
            }
            Ok(())
        });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// A codec's exact payload length for `samples` when it is much cheaper to compute than
/// encoding (Gorilla's is: tsz's encoder is the slowest part of `encode_chunk`).
fn payload_len(codec: u8, samples: &[Sample]) -> Option<usize> {
    (codec == GorillaCodec::ID).then(|| GorillaCodec::payload_len(samples))
}

/// Reads a chunk's header without decoding the payload (for min/max time and sample counts).
pub fn chunk_header(chunk: &[u8]) -> Result<ChunkHeader> {
    let Some(&codec) = chunk.first() else {
        return Err(corrupt("empty chunk"));
    };
    codec_by_id(codec)?;
    let mut pos = 1;
    let count = get_uvarint(chunk, &mut pos)?;
    let span = get_uvarint(chunk, &mut pos)?;
    if count == 0 || count > u64::from(u32::MAX) {
        return Err(corrupt("sample count out of range"));
    }
    if span >= MAX_CHUNK_SPAN_MS as u64 {
        return Err(corrupt("span of 2^31 ms or more"));
    }
    // Timestamps are distinct integers: n samples span at least n-1 ms, and one spans 0.
    if count > span + 1 || (count == 1 && span != 0) {
        return Err(corrupt("sample count does not fit the span"));
    }
    Ok(ChunkHeader {
        codec,
        count: count as u32,
        span,
        header_len: pos,
    })
}

/// Checks the encoders' precondition (non-empty, strictly ascending, span < 2^31 ms) and
/// returns the span.
pub(crate) fn check_samples(codec: &'static str, samples: &[Sample]) -> Result<u64> {
    let unsupported = |reason| Error::CodecUnsupported { codec, reason };
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(unsupported("no samples"));
    };
    if samples.windows(2).any(|w| w[1].t <= w[0].t) {
        return Err(unsupported("timestamps are not strictly ascending"));
    }
    match last.t.checked_sub(first.t) {
        Some(span) if span < MAX_CHUNK_SPAN_MS => Ok(span as u64),
        _ => Err(unsupported("span of 2^31 ms or more")),
    }
}

pub(crate) fn corrupt(reason: &str) -> Error {
    Error::CorruptChunk {
        reason: reason.to_string(),
    }
}

// ---- integers -----------------------------------------------------------------------------

// Cairn has one varint and zigzag codec, `cairn_model::varint` (write batches use it too);
// the codecs must not grow their own. Only the reader is wrapped, for its error.
pub(crate) use cairn_model::varint::{put_uvarint, unzigzag, uvarint_len, zigzag};

/// Reads a varint of a chunk payload with `cairn_model::varint`; a bad one is a corrupt chunk.
#[inline]
pub(crate) fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    cairn_model::varint::get_uvarint(buf, pos).map_err(|e| corrupt(&e.to_string()))
}

#[cfg(test)]
#[path = "codec/codec_test.rs"]
pub(crate) mod tests;
