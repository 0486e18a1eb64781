//! The Gorilla payload is tsz's stream, and our decoder reads it exactly as tsz's does.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tsz::stream::{BufferedReader, BufferedWriter};
use tsz::{Decode, StdDecoder};

use super::*;
use crate::codec::tests::{assert_bit_eq, random_chunk, regular, samples_from};
use crate::codec::{decode_chunk, encode_chunk};
use crate::error::Error;
use cairn_model::STALE_NAN_BITS;

/// tsz's own encoding of `samples` relative to their first time, closed (with end marker).
fn tsz_stream(samples: &[Sample]) -> Box<[u8]> {
    let mut enc = StdEncoder::new(0, BufferedWriter::new());
    for s in samples {
        enc.encode(DataPoint::new((s.t - samples[0].t) as u64, s.v));
    }
    enc.close()
}

fn bit(bytes: &[u8], i: usize) -> u8 {
    (bytes[i / 8] >> (7 - i % 8)) & 1
}

fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut p = Vec::new();
    GorillaCodec.encode(samples, &mut p).unwrap();
    p
}

#[test]
fn payload_is_tsz_stream_without_start_time_and_end_marker() {
    let mut rng = StdRng::seed_from_u64(20);
    for _ in 0..1000 {
        let s = random_chunk(&mut rng);
        let payload = encode(&s);
        let mut out = Vec::new();
        let bits = decode_gorilla_payload(s[0].t, s.len(), &payload, &mut out).unwrap();
        assert_bit_eq(&out, &s);
        assert_eq!(payload.len(), bits.div_ceil(8));
        assert_eq!(
            GorillaCodec::payload_len(&s),
            payload.len(),
            "size without encoding"
        );

        let full = tsz_stream(&s);
        assert_eq!(full[..8], [0; 8], "start time 0");
        for i in 0..bits {
            assert_eq!(bit(&payload, i), bit(&full, 64 + i), "bit {i}");
        }
        // What follows in tsz's stream is the 36-bit end marker, 1111 then 32 zeros.
        let marker: Vec<u8> = (0..36).map(|i| bit(&full, 64 + bits + i)).collect();
        assert_eq!(marker[..4], [1, 1, 1, 1]);
        assert!(marker[4..].iter().all(|&b| b == 0));
    }
}

#[test]
fn decoder_agrees_with_tsz_decoder() {
    let mut rng = StdRng::seed_from_u64(21);
    for _ in 0..1000 {
        let s = random_chunk(&mut rng);
        let mut ours = Vec::new();
        decode_gorilla_payload(s[0].t, s.len(), &encode(&s), &mut ours).unwrap();
        let mut theirs = StdDecoder::new(BufferedReader::new(tsz_stream(&s)));
        for o in &ours {
            let dp = theirs.next().unwrap();
            assert_eq!(s[0].t + dp.get_time() as i64, o.t);
            assert_eq!(dp.get_value().to_bits(), o.v.to_bits());
        }
        assert!(theirs.next().is_err(), "tsz sees the same count");
    }
}

#[test]
fn any_f64_keeps_its_bits() {
    let mut rng = StdRng::seed_from_u64(22);
    let specials = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(STALE_NAN_BITS),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::MAX,
        f64::MIN,
    ];
    for _ in 0..200 {
        let s = regular(120, -7, 15_000, |_| {
            if rng.gen_bool(0.5) {
                specials[rng.gen_range(0..specials.len())]
            } else {
                f64::from_bits(rng.r#gen())
            }
        });
        let mut out = Vec::new();
        GorillaCodec
            .decode(s[0].t, s.len(), &encode(&s), &mut out)
            .unwrap();
        assert_bit_eq(&out, &s);
    }
}

#[test]
fn samples_tsz_would_corrupt_are_refused_before_tsz() {
    let refused = [
        vec![Sample::new(0, 1.0), Sample::new(1 << 31, 1.0)],
        vec![
            Sample::new(0, 1.0),
            Sample::new(5, 1.0),
            Sample::new(5, 2.0),
        ],
        vec![Sample::new(10, 1.0), Sample::new(5, 1.0)],
        vec![],
    ];
    for s in refused {
        let mut out = vec![1, 2, 3];
        assert!(matches!(
            GorillaCodec.encode(&s, &mut out),
            Err(Error::CodecUnsupported { .. })
        ));
        assert_eq!(out, [1, 2, 3]);
    }
}

#[test]
fn encode_appends_at_a_byte_boundary() {
    let s = regular(50, 100, 1000, |i| i as f64 * 1.1);
    let alone = encode(&s);
    let mut out = vec![0xff, 0xee];
    GorillaCodec.encode(&s, &mut out).unwrap();
    assert_eq!(out[..2], [0xff, 0xee]);
    assert_eq!(out[2..], alone);
}

/// A hand-built payload: first sample (15 zero bits + 64 value bits), then `rest`.
fn payload_with(first_bits: u64, rest: &[(u64, u32)]) -> Vec<u8> {
    let mut buf = BitBuf::default();
    buf.write_bits(first_bits, 15);
    buf.write_bits(1.5f64.to_bits(), 64);
    for &(bits, n) in rest {
        buf.write_bits(bits, n);
    }
    buf.bytes
}

#[test]
fn decoder_rejects_what_tsz_never_writes() {
    let decode = |payload: &[u8], count| {
        decode_gorilla_payload(0, count, payload, &mut Vec::new()).map(|_| ())
    };
    // Sanity: a first sample, then one 5 ms later with the same value.
    let ok = payload_with(0, &[(0b10, 2), (5, 7), (0, 1)]);
    decode(&ok, 2).unwrap();

    let cases: [(&str, Vec<u8>, usize); 8] = [
        ("first delta not 0", payload_with(3, &[]), 1),
        ("control bit 1", payload_with(1 << 14, &[]), 1),
        (
            "end marker inside",
            payload_with(0, &[(0b1111, 4), (0, 32), (0, 1)]),
            2,
        ),
        (
            "time goes back",
            payload_with(0, &[(0b10, 2), (0b1111111, 7), (0, 1)]),
            2,
        ),
        ("same time", payload_with(0, &[(0, 1), (0, 1)]), 2),
        (
            "window reused before set",
            payload_with(0, &[(0b10, 2), (5, 7), (0b10, 2)]),
            2,
        ),
        (
            "window wider than 64 bits",
            payload_with(
                0,
                &[(0b10, 2), (5, 7), (0b11, 2), (40, 6), (40, 6), (1, 41)],
            ),
            2,
        ),
        (
            "window not tight",
            payload_with(
                0,
                &[(0b10, 2), (5, 7), (0b11, 2), (10, 6), (3, 6), (0b0110, 4)],
            ),
            2,
        ),
    ];
    for (what, payload, count) in cases {
        assert!(decode(&payload, count).is_err(), "{what}");
    }
    // (A count one too high may decode from the zero padding as a repeat of the last delta
    // and value; decode_chunk catches that with the header's span.)
    assert!(decode(&ok, 1).is_err(), "too many samples");
    assert!(decode(&ok, 0).is_err(), "no samples");
    assert!(decode(&[], 1).is_err(), "empty");
}

#[test]
fn bit_buf_writes_like_tsz_buffered_writer() {
    let mut rng = StdRng::seed_from_u64(23);
    for _ in 0..200 {
        let mut ours = BitBuf::default();
        let mut theirs = BufferedWriter::new();
        for _ in 0..rng.gen_range(0..200) {
            let bits: u64 = rng.r#gen();
            match rng.gen_range(0..3) {
                0 => {
                    let n = rng.gen_range(0..=64);
                    ours.write_bits(bits, n);
                    theirs.write_bits(bits, n);
                }
                1 => {
                    ours.write_bits(bits & 1, 1);
                    theirs.write_bit(if bits & 1 == 1 { Bit::One } else { Bit::Zero });
                }
                _ => {
                    ours.write_bits(bits & 0xff, 8);
                    theirs.write_byte(bits as u8);
                }
            }
        }
        assert_eq!(ours.bytes[..], theirs.close()[..]);
    }
}

#[test]
fn lent_buffer_comes_back_after_a_panic() {
    let mut buf = BitBuf::default();
    buf.write_bits(0xabc, 12);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lend(&mut buf, || {
            LentWriter.write_bits(0b1, 1);
            panic!("boom");
        })
    }));
    assert!(result.is_err());
    assert_eq!(buf.bytes, [0xab, 0xc8]);
    assert_eq!(buf.free, 3);
    LENT.with_borrow(|slot| assert!(slot.bytes.is_empty() && slot.bytes.capacity() == 0));
}

/// Pins codec 1's bytes (`storage/docs/format/chunks.md`, "Gorilla"), header included, so that
/// a change that still round-trips fails here. Such a change needs a new codec id (the id is
/// the version) and a note in `storage/docs/format/chunks.md`.
#[test]
fn chunk_bytes_are_pinned() {
    // A NaN makes the decimal codec refuse, so `encode_chunk` writes Gorilla.
    let samples = samples_from(
        &[1_000, 11_000, 21_000, 31_005, 41_010],
        &[1.0, 1.0, 1.5, f64::NAN, 1.5],
    );
    let mut chunk = Vec::new();
    encode_chunk(&samples, &mut chunk).unwrap();
    // The payload, bit by bit (MSB first; "|" marks byte boundaries):
    //   s0  0 · delta:14 = 0 · 1.0 = 0x3ff0_0000_0000_0000 (64 bits)             79 bits
    //   s1  1111 · dod:32 = 10000 (the delta before s1 is 0) · 0 (same value)    37
    //   s2  0 (dod 0) · 11 L:6 = 12 len-1:6 = 0 · 1 (1.0 ^ 1.5 = bit 51 only)   16
    //   s3  10 dod:7 = 5 · 11 L:6 = 1 len-1:6 = 0 · 1 (1.5 ^ NaN = bit 62)      24
    //   s4  0 (dod 0) · 10 · 1 (NaN ^ 1.5 = bit 62 again: fits the window)       4
    //   = 160 bits, 20 bytes, no padding.
    #[rustfmt::skip]
    let expected: &[u8] = &[
        1,                                      // codec 1 (gorilla)
        5,                                      // count
        0xca, 0xb8, 0x02,                       // span 40_010 ms (uvarint)
        0x00, 0x00, 0x7f, 0xe0, 0x00,           // s0: 0, 14 zero bits, then 1.0 from bit 15 on
        0x00, 0x00, 0x00, 0x00,
        0x01,                                   // 1.0's last 7 bits | s1's first 1
        0xe0, 0x00, 0x04, 0xe2,                 // 111 | 10000 in 32 bits ...
        0x06,                                   // ... 000 | 0 (value) | s2: 0 11 0
        0x60,                                   // 01100 (L = 12) 000
        0x18,                                   // 000 1 | s3: 10 00
        0x2e,                                   // 00101 (dod 5) 11 0
        0x08,                                   // 00001 (L = 1) 000
        0x15,                                   // 000 1 | s4: 0 10 1
    ];
    assert_eq!(chunk, expected, "{chunk:02x?}");
    assert_eq!(GorillaCodec::payload_len(&samples), 20);
    let mut out = Vec::new();
    decode_chunk(expected, 1_000, &mut out).unwrap();
    assert_bit_eq(&out, &samples);
}
