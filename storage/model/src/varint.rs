//! The one varint codec of every Cairn format (write batches, chunk payloads): unsigned LEB128
//! (7 bits per byte, least significant group first) and zigzag for signed values. Readers
//! accept only the shortest form, so a value has exactly one encoding and corrupt bytes are
//! caught instead of read as some other number.

use crate::error::{Error, Result};

/// Maps signed to unsigned so that small magnitudes stay small: 0, -1, 1, -2 → 0, 1, 2, 3.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Bytes [`put_uvarint`] writes for `v`.
#[inline]
pub fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a shortest-form LEB128 varint at `*pos`, advancing it.
#[inline]
pub fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    // Most varints of a batch or chunk header are one byte.
    if let Some(&b) = buf.get(*pos)
        && b < 0x80
    {
        *pos += 1;
        return Ok(u64::from(b));
    }
    get_uvarint_slow(buf, pos)
}

#[inline(never)]
fn get_uvarint_slow(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&b) = buf.get(*pos + i) else {
            return Err(corrupt("truncated varint"));
        };
        if i == 9 && b > 1 {
            return Err(corrupt("varint overflows 64 bits"));
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if b == 0 && i > 0 {
                return Err(corrupt("varint not in shortest form"));
            }
            *pos += i + 1;
            return Ok(v);
        }
    }
    Err(corrupt("varint longer than 10 bytes"))
}

/// Reads a zigzag varint at `*pos`, advancing it.
#[inline]
pub fn get_zigzag(buf: &[u8], pos: &mut usize) -> Result<i64> {
    get_uvarint(buf, pos).map(unzigzag)
}

fn corrupt(reason: &str) -> Error {
    Error::Corrupt {
        what: "varint",
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_length_and_the_extremes() {
        let mut values = vec![
            0u64,
            1,
            127,
            128,
            255,
            16_383,
            16_384,
            u64::MAX - 1,
            u64::MAX,
        ];
        values.extend((0..64).map(|b| 1u64 << b));
        for v in values {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(out.len(), uvarint_len(v), "{v}");
            let mut pos = 0;
            assert_eq!(get_uvarint(&out, &mut pos).unwrap(), v);
            assert_eq!(pos, out.len());
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -64, 64] {
            let mut out = Vec::new();
            put_zigzag(&mut out, v);
            let mut pos = 0;
            assert_eq!(get_zigzag(&out, &mut pos).unwrap(), v);
        }
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }

    #[test]
    fn encodings_are_pinned() {
        let mut out = Vec::new();
        put_uvarint(&mut out, 300);
        put_zigzag(&mut out, -3);
        put_uvarint(&mut out, u64::MAX);
        assert_eq!(
            out,
            [
                0xac, 0x02, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
    }

    #[test]
    fn truncated_overlong_and_overflowing_bytes_are_errors() {
        for bad in [
            &[0x80][..],
            &[0xff, 0xff],
            &[0x80, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x80; 11],
        ] {
            let mut pos = 0;
            assert!(get_uvarint(bad, &mut pos).is_err(), "{bad:?}");
            assert_eq!(pos, 0, "a failed read does not advance");
        }
    }
}
