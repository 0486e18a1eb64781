//! `DecimalCodec` (id 2): for chunks whose values are all decimals with at most 15 digits after
//! the point, which is most monitoring data (percentages, temperatures, counters).
//!
//! Each value v becomes the integer `m = round(v * 10^s)` for the chunk's smallest scale `s`
//! such that `m as f64 / 10^s` gives v back bit for bit (so NaN, ±Inf, -0.0 and anything else
//! that would not come back exactly are refused, and the chunk goes to Gorilla). The integers
//! are coded as residuals, whichever of these is smallest:
//!
//! ```text
//!  first differences  m[i] - m[i-1]                  random walks, gauges
//!  centred            m[i] - m[i-1] - c, c = median  counters (c = typical increment)
//!  second differences (m[i]-m[i-1]) - (m[i-1]-m[i-2]) ramps, counters with a drifting rate
//! ```
//!
//! and each zigzagged residual sequence (the values', and the time delta-of-deltas when the
//! interval is not constant) is entropy-coded with the cheapest of four codings:
//!
//! ```text
//!  all-zero     no bits at all (constant value or linear counter; regular timestamps)
//!  Rice(k)      unary(z >> k), then the low k bits (k = 0..=63)
//!  zero-flag    1 bit "z == 0", else Rice(k) of z - 1 (values stuck at a clamp, steps)
//!  packed(w)    every z in w bits (bounded, evenly spread residuals)
//! ```
//! (`decimal/seq_code.rs`, which the decimal stream shares the Rice code with)
//!
//! Sizes are computed exactly before choosing (Rice's k by a local search from the mean). A
//! Rice quotient of 32 or more is escaped (32 ones, 6-bit length-1, the raw bits), so an outlier
//! such as a counter reset costs at most ~100 bits. From 256 bytes of coded residuals on, a
//! model fitted to them ([`super::rans::ModelCode`]: Gauss or Laplace with a fitted scale)
//! codes them instead (rANS) when that is smaller, which is within ~0.1 % of a random walk's
//! entropy where Rice spends ~1.8 % more. Payload (details in `docs/format/chunks.md`):
//!
//! ```text
//!  desc u8: scale (bits 0-3) | second differences (4) | value coding (5-6) | irregular times (7)
//!  m0: zigzag uvarint                                    first integer value
//!  if count >= 2:  Δ1: uvarint                           first time delta (ms, > 0)
//!    if irregular:     u8 coding << 6 | param            time delta-of-deltas' coding
//!    if second diffs:  zigzag uvarint m1 - m0
//!    if coding != 0:   u8 centred << 7 | param            param = k, or w - 1 when packed,
//!                                                         or 0x40: model-coded (coding 1)
//!    if centred:       zigzag uvarint c
//!    if model-coded:   2-3 bytes of model parameters
//!  bits: count-2 time delta-of-deltas (if irregular), then the value residuals; zero-padded
//!  if model-coded: the rANS stream, to the end (the bits hold only the times)
//! ```
//!
//! Like every codec it knows no keys, series or RocksDB; it refuses what it cannot restore bit
//! for bit instead of approximating, and its decoder never panics on garbage.

use super::rans::ModelCode;
use super::{
    BitReader, BitWriter, ChunkCodec, MAX_CHUNK_SPAN_MS, check_samples, corrupt, get_uvarint,
    put_uvarint, unzigzag, uvarint_len, zigzag,
};
use crate::error::{Error, Result};
use cairn_model::Sample;
use cairn_model::decimal::{MAX_ABS_INT, POW10, scale_to_ints};

pub(super) mod seq_code;

use seq_code::{MODE_PACKED, MODE_RICE, MODE_ZERO, MODE_ZERO_FLAG, SeqCode, read_rice};

/// Scaled-integer compression for decimal values; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecimalCodec;

impl DecimalCodec {
    pub const ID: u8 = 2;
    pub const NAME: &'static str = "decimal";
}

/// In the value coding byte (low 7 bits, with [`MODE_RICE`] in the descriptor): the residuals
/// are coded by rANS with a fitted model (`rans::ModelCode`) instead of a bit coding.
const VALUES_MODELLED: u8 = 0x40;
/// Residuals whose bit coding is shorter than this are not worth sizing a model for: the model
/// saves a few percent at best (~1.8 % on random walks), less than its 2-3 parameter bytes and
/// 4-byte rANS state below ~250 bytes (a 120-sample chunk of the TSBS gauge is ~130), and
/// sizing it nearly doubled the time to encode such chunks.
const MIN_MODELLED_BITS: u64 = 2048;

impl ChunkCodec for DecimalCodec {
    fn id(&self) -> u8 {
        Self::ID
    }

    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn encode(&self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        check_samples(Self::NAME, samples)?;
        let mut ints = Vec::with_capacity(samples.len());
        let scale = scale_to_ints(samples, &mut ints).ok_or(Error::CodecUnsupported {
            codec: Self::NAME,
            reason: "a value is not a decimal with at most 15 digits after the point",
        })?;
        let n = samples.len();
        if n == 1 {
            out.push(scale as u8);
            put_uvarint(out, zigzag(ints[0]));
            return Ok(());
        }

        // Timestamps: regular (all deltas equal) costs nothing beyond Δ1.
        let d1t = (samples[1].t - samples[0].t) as u64;
        let mut time_res = Vec::new();
        if samples.windows(2).any(|w| (w[1].t - w[0].t) as u64 != d1t) {
            time_res.extend(samples.windows(3).map(|w| {
                let dod = (w[2].t - w[1].t) - (w[1].t - w[0].t);
                zigzag(dod)
            }));
        }
        let time_code = (!time_res.is_empty()).then(|| SeqCode::choose(&time_res));

        // Values: the cheapest residuals (see the module docs).
        let r1: Vec<i64> = ints.windows(2).map(|w| w[1] - w[0]).collect();
        let r2: Vec<i64> = ints
            .windows(3)
            .map(|w| (w[2] - w[1]) - (w[1] - w[0]))
            .collect();
        let d1v = ints[1] - ints[0];
        // Sizes are exact, but sizing a candidate costs several passes, so candidates whose
        // residuals are not clearly smaller in sum (a proxy for their coded size) are skipped.
        let mut best = Residuals::new(false, 0, &r1);
        let mut best_l1 = l1(&r1, 0);
        if let Some(c) = median(&r1).filter(|&c| c != 0) {
            let centred_l1 = l1(&r1, c);
            if centred_l1 * 8 < best_l1 * 7 {
                let centred = Residuals::new(false, c, &r1);
                // All-zero after centring is a linear series: second differences say it
                // cheaper, and mode 0 has no byte to flag a centre.
                if centred.code.mode != MODE_ZERO && centred.cost(d1v) < best.cost(d1v) {
                    (best, best_l1) = (centred, centred_l1);
                }
            }
        }
        if l1(&r2, 0) <= best_l1 {
            let second = Residuals::new(true, 0, &r2);
            if second.cost(d1v) < best.cost(d1v) {
                best = second;
            }
        }
        let Residuals {
            order2,
            center,
            code,
            z,
        } = best;
        // The fitted model (rANS) instead of the bit coding, when it is smaller (see `rans`).
        let signed: Vec<i64>;
        let model = if code.mode != MODE_ZERO && code.bits >= MIN_MODELLED_BITS {
            signed = z.iter().map(|&z| unzigzag(z)).collect();
            ModelCode::choose(&signed)
                .filter(|&(_, bytes)| (bytes as u64) * 8 < code.bits)
                .map(|(m, _)| m)
        } else {
            signed = Vec::new();
            None
        };

        let mode = if model.is_some() {
            MODE_RICE
        } else {
            code.mode
        };
        let desc =
            scale as u8 | u8::from(order2) << 4 | mode << 5 | u8::from(time_code.is_some()) << 7;
        out.push(desc);
        put_uvarint(out, zigzag(ints[0]));
        put_uvarint(out, d1t);
        if let Some(tc) = time_code {
            out.push(tc.mode << 6 | tc.param);
        }
        if order2 {
            put_uvarint(out, zigzag(d1v));
        }
        if model.is_some() {
            out.push(u8::from(center != 0) << 7 | VALUES_MODELLED);
        } else if code.mode != MODE_ZERO {
            out.push(u8::from(center != 0) << 7 | code.param);
        }
        if center != 0 {
            put_uvarint(out, zigzag(center));
        }
        if let Some(m) = &model {
            m.write_params(out);
        }
        let mut w = BitWriter::new(out);
        if let Some(tc) = time_code {
            tc.write_all(&mut w, &time_res);
        }
        match &model {
            Some(m) => {
                w.finish();
                m.encode(&signed, out);
            }
            None => {
                code.write_all(&mut w, &z);
                w.finish();
            }
        }
        Ok(())
    }

    fn decode(
        &self,
        base_t: i64,
        count: usize,
        payload: &[u8],
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        if count == 0 {
            return Err(corrupt("chunk with no samples"));
        }
        let Some(&desc) = payload.first() else {
            return Err(corrupt("decimal: empty payload"));
        };
        let mut pos = 1;
        let scale = POW10[usize::from(desc & 0x0f)];
        let order2 = desc & 0x10 != 0;
        let mode = (desc >> 5) & 3;
        let irregular = desc & 0x80 != 0;
        let m0 = unzigzag(get_uvarint(payload, &mut pos)?);
        check_int(m0)?;
        if count == 1 {
            if desc & 0xf0 != 0 || pos != payload.len() {
                return Err(corrupt("decimal: bad single-sample payload"));
            }
            out.push(Sample::new(base_t, m0 as f64 / scale));
            return Ok(());
        }

        let d1t = get_uvarint(payload, &mut pos)?;
        if d1t == 0 || d1t >= MAX_CHUNK_SPAN_MS as u64 {
            return Err(corrupt("decimal: first time delta out of range"));
        }
        let time_code = if irregular {
            let b = byte(payload, &mut pos)?;
            if count < 3 || b >> 6 == MODE_ZERO {
                return Err(corrupt("decimal: irregular times with a regular coding"));
            }
            Some(SeqCode::new(b >> 6, b & 63))
        } else {
            // Regular: the last sample is at (count-1) * Δ1, which must stay below 2^31.
            if (count as u64 - 1).saturating_mul(d1t) >= MAX_CHUNK_SPAN_MS as u64 {
                return Err(corrupt("decimal: span of 2^31 ms or more"));
            }
            None
        };
        let d1v = if order2 {
            unzigzag(get_uvarint(payload, &mut pos)?)
        } else {
            0
        };
        let (code, center, model) = if mode == MODE_ZERO {
            (SeqCode::new(MODE_ZERO, 0), 0, None)
        } else {
            let b = byte(payload, &mut pos)?;
            let modelled = b & 0x7f == VALUES_MODELLED;
            if b & 0x40 != 0 && !(modelled && mode == MODE_RICE) {
                return Err(corrupt("decimal: reserved bits set"));
            }
            let center = if b & 0x80 != 0 {
                let c = unzigzag(get_uvarint(payload, &mut pos)?);
                if c == 0 || order2 {
                    return Err(corrupt("decimal: centre 0, or with second differences"));
                }
                c
            } else {
                0
            };
            let model = if modelled {
                Some(ModelCode::read_params(payload, &mut pos).map_err(corrupt)?)
            } else {
                None
            };
            (SeqCode::new(mode, b & 63), center, model)
        };

        let mut r = BitReader::new(&payload[pos..]);
        let start = out.len();
        out.reserve(count.min(1 << 16));
        // Pass 1: timestamps (value filled in by pass 2).
        out.push(Sample::new(base_t, 0.0));
        match time_code {
            None => {
                let span = (count as u64 - 1) * d1t;
                if base_t.checked_add(span as i64).is_none() {
                    return Err(corrupt("decimal: timestamp overflows i64"));
                }
                out.extend((1..count as u64).map(|i| Sample::new(base_t + (i * d1t) as i64, 0.0)));
            }
            Some(tc) => {
                let mut delta = d1t as i64;
                let mut rel = delta;
                for i in 1..count {
                    if i > 1 {
                        delta += unzigzag(tc.read(&mut r)?);
                        rel += delta;
                        if delta <= 0 || rel >= MAX_CHUNK_SPAN_MS || r.overrun() {
                            return Err(corrupt(
                                "decimal: timestamps not ascending, span of 2^31 ms or more, \
                                 or truncated",
                            ));
                        }
                    }
                    let t = base_t
                        .checked_add(rel)
                        .ok_or_else(|| corrupt("decimal: timestamp overflows i64"))?;
                    out.push(Sample::new(t, 0.0));
                }
            }
        }
        // Pass 2: values, with the residual coding chosen once (a loop per coding).
        let samples = &mut out[start..];
        let p = u32::from(code.param);
        let v = Values {
            m0,
            d1v,
            center,
            scale,
            order2,
        };
        if let Some(m) = model {
            // The rANS stream starts at the byte after the time bits.
            if r.overrun() {
                return Err(corrupt("decimal: payload truncated"));
            }
            let bits = r.position();
            let at = pos + bits.div_ceil(8);
            if !bits.is_multiple_of(8) && payload[at - 1] & (0xff >> (bits % 8)) != 0 {
                return Err(corrupt("decimal: padding bits are not zero"));
            }
            let mut dec = m.decoder(&payload[at..]).map_err(corrupt)?;
            let mut failed = None;
            v.decode(samples, &mut r, |_| match dec.next() {
                Ok(x) => Ok(zigzag(x)),
                Err(e) => {
                    failed.get_or_insert(e);
                    Ok(0)
                }
            })?;
            if let Some(e) = failed {
                return Err(corrupt(e));
            }
            return dec.finish().map_err(corrupt);
        }
        match code.mode {
            MODE_RICE => v.decode(samples, &mut r, |r| read_rice(r, p))?,
            MODE_ZERO_FLAG => v.decode(samples, &mut r, |r| {
                if r.read(1) == 0 {
                    Ok(0)
                } else {
                    Ok(read_rice(r, p)?.wrapping_add(1))
                }
            })?,
            MODE_PACKED => v.decode(samples, &mut r, |r| Ok(r.read_long(p + 1)))?,
            _ => v.decode(samples, &mut r, |_| Ok(0))?,
        }
        r.finish()
    }
}

/// How a chunk's values are rebuilt from its residuals.
struct Values {
    m0: i64,
    d1v: i64,
    center: i64,
    scale: f64,
    order2: bool,
}

impl Values {
    /// Fills `samples[..].v` from the residuals `read` returns. Integers out of range and a
    /// truncated payload are checked once after the loop: reading past the end yields zeros,
    /// so the loop itself cannot go wrong, only produce values that are then refused.
    #[inline(always)]
    fn decode(
        &self,
        samples: &mut [Sample],
        r: &mut BitReader<'_>,
        mut read: impl FnMut(&mut BitReader<'_>) -> Result<u64>,
    ) -> Result<()> {
        samples[0].v = self.m0 as f64 / self.scale;
        let (mut m, mut d) = (self.m0, self.d1v);
        // The largest magnitude seen, to check every integer against the limit at once.
        let mut widest = self.m0.unsigned_abs();
        if self.order2 {
            for (i, s) in samples.iter_mut().enumerate().skip(1) {
                if i > 1 {
                    d = d.wrapping_add(unzigzag(read(r)?));
                }
                m = m.wrapping_add(d);
                widest = widest.max(m.unsigned_abs());
                s.v = m as f64 / self.scale;
            }
        } else {
            for s in samples.iter_mut().skip(1) {
                m = m.wrapping_add(unzigzag(read(r)?).wrapping_add(self.center));
                widest = widest.max(m.unsigned_abs());
                s.v = m as f64 / self.scale;
            }
        }
        if widest >= MAX_ABS_INT as u64 {
            return Err(corrupt("decimal: integer value out of range"));
        }
        if r.overrun() {
            return Err(corrupt("decimal: payload truncated"));
        }
        Ok(())
    }
}

fn byte(buf: &[u8], pos: &mut usize) -> Result<u8> {
    let b = *buf
        .get(*pos)
        .ok_or_else(|| corrupt("decimal: truncated header"))?;
    *pos += 1;
    Ok(b)
}

#[inline]
fn check_int(m: i64) -> Result<()> {
    if m.unsigned_abs() < MAX_ABS_INT as u64 {
        Ok(())
    } else {
        Err(corrupt("decimal: integer value out of range"))
    }
}

/// `Σ |r - c|`.
fn l1(r: &[i64], c: i64) -> u128 {
    r.iter().map(|&x| u128::from((x - c).unsigned_abs())).sum()
}

/// The median of `r` (the upper one for an even length); None if empty.
fn median(r: &[i64]) -> Option<i64> {
    if r.is_empty() {
        return None;
    }
    let mut v = r.to_vec();
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable(mid).1)
}

/// One way to turn the integers into residuals, with the coding chosen for them.
struct Residuals {
    order2: bool,
    center: i64,
    code: SeqCode,
    /// The zigzagged residuals, `zigzag(r - center)`.
    z: Vec<u64>,
}

impl Residuals {
    fn new(order2: bool, center: i64, r: &[i64]) -> Self {
        let z: Vec<u64> = r.iter().map(|&r| zigzag(r - center)).collect();
        Residuals {
            order2,
            center,
            code: SeqCode::choose(&z),
            z,
        }
    }

    /// Bits of payload this choice costs, header fields included.
    fn cost(&self, d1v: i64) -> u64 {
        let mut bits = self.code.bits;
        if self.code.mode != MODE_ZERO {
            bits += 8;
        }
        if self.order2 {
            bits += 8 * uvarint_len(zigzag(d1v)) as u64;
        }
        if self.center != 0 {
            bits += 8 * uvarint_len(zigzag(self.center)) as u64;
        }
        bits
    }
}

#[cfg(test)]
#[path = "decimal/decimal_test.rs"]
mod tests;
