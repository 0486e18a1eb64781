//! Bit streams, most significant bit first, as tsz writes them: `BitReader`, `BitWriter` and the
//! `BitSink` trait that lets a coding (Rice) write to a whole payload or to an open head chunk
//! alike. The codecs share them; they know nothing of what the bits mean.

use super::corrupt;
use crate::error::Result;

/// Reads bits MSB-first from a byte slice. Reading past the end yields zeros and is caught by
/// [`BitReader::overrun`] / [`BitReader::finish`], so hot loops check bounds once per sample
/// instead of once per field.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The next 64 bits, first bit in the most significant position. Only the top 57 are
    /// guaranteed to be right (the rest may read as 0); past the end of the input all are 0.
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let word = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            None => {
                let mut b = [0u8; 8];
                let tail = self.data.get(byte..).unwrap_or(&[]);
                b[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(b)
            }
        };
        word << (self.pos & 7)
    }

    #[inline]
    pub(crate) fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n <= 57` bits.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> u64 {
        debug_assert!(n <= 57);
        // Two shifts so that n = 0 gives 0 without a shift by 64.
        let v = (self.peek() >> 1) >> (63 - n);
        self.pos += n as usize;
        v
    }

    /// Reads `n <= 64` bits.
    #[inline]
    pub(crate) fn read_long(&mut self, n: u32) -> u64 {
        if n <= 57 {
            self.read(n)
        } else {
            let hi = self.read(n - 32);
            (hi << 32) | self.read(32)
        }
    }

    /// True once more bits were read than the input holds.
    #[inline]
    pub(crate) fn overrun(&self) -> bool {
        self.pos > self.data.len() * 8
    }

    /// Bits consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Checks that the input ended exactly at the last byte read and its padding bits are 0.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.overrun() {
            return Err(corrupt("payload truncated"));
        }
        if self.pos.div_ceil(8) != self.data.len() {
            return Err(corrupt("bytes after the last sample"));
        }
        let used = self.pos & 7;
        if used != 0 && self.data[self.data.len() - 1] & (0xff >> used) != 0 {
            return Err(corrupt("padding bits are not zero"));
        }
        Ok(())
    }
}

/// Appends bits MSB-first to a byte vector, 32 bits at a time; [`BitWriter::finish`] flushes
/// the rest, padding the last byte with zeros.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits in the low `n` bits (higher bits are stale and ignored).
    acc: u64,
    n: u32,
}

/// Where bits are written, most significant first: [`BitWriter`] (a whole payload at once)
/// or an open head chunk's stream, so that codings such as Rice are written in one place.
pub(crate) trait BitSink {
    /// Writes the low `n <= 32` bits of `bits`.
    fn write(&mut self, bits: u64, n: u32);

    /// Writes the low `n <= 64` bits of `bits`.
    #[inline]
    fn write_long(&mut self, bits: u64, n: u32) {
        if n > 32 {
            self.write(bits >> 32, n - 32);
            self.write(bits, 32);
        } else {
            self.write(bits, n);
        }
    }
}

impl BitSink for BitWriter<'_> {
    #[inline(always)]
    fn write(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 32);
        self.acc = (self.acc << n) | (bits & ((1u64 << n) - 1));
        self.n += n;
        if self.n >= 32 {
            self.n -= 32;
            let word = (self.acc >> self.n) as u32;
            self.out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, acc: 0, n: 0 }
    }

    pub(crate) fn finish(self) {
        if self.n > 0 {
            let bytes = (self.acc << (64 - self.n)).to_be_bytes();
            self.out
                .extend_from_slice(&bytes[..self.n.div_ceil(8) as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn bit_writer_and_reader_agree() {
        let mut rng = StdRng::seed_from_u64(10);
        for _ in 0..200 {
            let fields: Vec<(u64, u32)> = (0..rng.gen_range(0..100))
                .map(|_| {
                    let n = rng.gen_range(0..=64u32);
                    let v = if n == 0 {
                        0
                    } else {
                        rng.r#gen::<u64>() >> (64 - n)
                    };
                    (v, n)
                })
                .collect();
            let mut buf = vec![0x5a];
            let mut w = BitWriter::new(&mut buf);
            for &(v, n) in &fields {
                w.write_long(v | (u64::MAX << n.min(63) << u32::from(n == 64)), n); // junk above n
            }
            w.finish();
            let total: u32 = fields.iter().map(|f| f.1).sum();
            assert_eq!(buf.len(), 1 + total.div_ceil(8) as usize);
            let read_all = |bytes: &[u8]| {
                let mut r = BitReader::new(bytes);
                for &(v, n) in &fields {
                    assert_eq!(r.read_long(n), v);
                }
                r.finish()
            };
            read_all(&buf[1..]).unwrap();
            if !total.is_multiple_of(8) {
                *buf.last_mut().unwrap() |= 1;
                assert!(read_all(&buf[1..]).is_err(), "nonzero padding");
            }
        }
    }
}
