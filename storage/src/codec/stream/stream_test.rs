//! The appendable decimal stream: round trips, growth sample by sample, size against
//! `DecimalCodec`, the adaptive Rice parameter, and malformed payloads.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::codec::DecimalCodec;
use crate::codec::tests::{assert_bit_eq, random_chunk, regular, samples_from, tsbs_values};

fn decode(samples_len: usize, base_t: i64, payload: &[u8]) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    StreamCodec
        .decode(base_t, samples_len, payload, &mut out)
        .map(|()| out)
}

#[test]
fn random_chunks_round_trip_or_are_refused_for_the_right_reason() {
    let mut rng = StdRng::seed_from_u64(70);
    let (mut encoded, mut refused) = (0, 0);
    for _ in 0..3000 {
        let s = random_chunk(&mut rng);
        let mut p = Vec::new();
        match StreamCodec.encode(&s, &mut p) {
            Ok(()) => {
                encoded += 1;
                assert_bit_eq(&decode(s.len(), s[0].t, &p).unwrap(), &s);
                // DecimalCodec accepts exactly the same chunks.
                assert!(DecimalCodec.encode(&s, &mut Vec::new()).is_ok());
            }
            Err(Error::CodecUnsupported { .. }) => {
                refused += 1;
                assert!(DecimalCodec.encode(&s, &mut Vec::new()).is_err());
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(encoded > 500 && refused > 100, "{encoded} / {refused}");
}

#[test]
fn every_prefix_of_an_open_stream_decodes() {
    let mut rng = StdRng::seed_from_u64(71);
    for _ in 0..200 {
        let s = random_chunk(&mut rng);
        let Some(mut open) = OpenStream::new(s[0].v, rng.gen_range(0..20), 0) else {
            continue;
        };
        for i in 1..s.len() {
            if !open.push(s[i].t - s[i - 1].t, s[i].v) {
                // A value with more decimals: the head chunk re-encodes; nothing was written.
                break;
            }
            assert_bit_eq(&decode(i + 1, s[0].t, open.bytes()).unwrap(), &s[..=i]);
        }
    }
}

#[test]
fn a_value_beyond_the_scale_writes_nothing() {
    let mut open = OpenStream::new(17.9, 7, 0).unwrap();
    assert!(open.push(10_000, 18.5));
    let before = open.bytes().to_vec();
    assert!(!open.push(10_000, 18.25), "needs a second decimal");
    assert!(!open.push(10_000, f64::NAN));
    assert_eq!(open.bytes(), before);
    assert!(OpenStream::new(0.1 + 0.2, 0, 0).is_none());
    assert!(
        OpenStream::new(-0.0, 0, 0).is_none(),
        "-0.0 would come back as 0.0"
    );
}

#[test]
fn gauges_cost_little_more_than_the_decimal_codec() {
    let mut rng = StdRng::seed_from_u64(72);
    let (mut stream, mut decimal, mut n) = (0, 0, 0);
    for _ in 0..200 {
        let values = tsbs_values(&mut rng, 120);
        let s = regular(120, 1_700_000_000_000, 10_000, |i| values[i]);
        let mut p = Vec::new();
        StreamCodec.encode(&s, &mut p).unwrap();
        stream += p.len();
        p.clear();
        DecimalCodec.encode(&s, &mut p).unwrap();
        decimal += p.len();
        n += s.len();
    }
    let (sb, db) = (stream as f64 / n as f64, decimal as f64 / n as f64);
    // The decimal codec's regular times are free and its k is chosen with hindsight; the
    // stream pays a bit per sample for times and a little for adapting.
    assert!(sb < db + 0.2, "stream {sb:.3} B/sample, decimal {db:.3}");
    assert!(sb > db, "stream {sb:.3} B/sample, decimal {db:.3}");
}

#[test]
fn the_rice_parameter_follows_the_residuals() {
    // Small steps, then large ones: k rises within a few dozen samples, and the stream stays
    // near what a fixed, well-chosen k would cost.
    let mut rng = StdRng::seed_from_u64(73);
    let mut m = 0i64;
    let values: Vec<f64> = (0..400)
        .map(|i| {
            let w = if i < 200 { 4 } else { 4000 };
            m += rng.gen_range(-w..=w);
            m as f64
        })
        .collect();
    let s = regular(values.len(), 0, 1000, |i| values[i]);
    let open = OpenStream::from_samples(&s, 0).unwrap();
    assert!((11..=13).contains(&open.k()), "k = {}", open.k());
    // ~3 bits per small step, ~13 per large one, 1 per time: well under 2 bytes a sample.
    assert!(open.bytes().len() < 2 * s.len(), "{}", open.bytes().len());
    assert_bit_eq(&decode(s.len(), 0, open.bytes()).unwrap(), &s);
}

#[test]
fn irregular_times_and_escapes_round_trip() {
    let times = [0, 1, 3, 1000, 1001, 5_000_000, (1 << 31) - 1];
    let values = [0.0, 1e12, -1e12, 3.0, 0.5, 2.25, -7.0];
    let s = samples_from(&times, &values);
    let open = OpenStream::from_samples(&s, 0).unwrap();
    assert_bit_eq(&decode(s.len(), 0, open.bytes()).unwrap(), &s);
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    let mut rng = StdRng::seed_from_u64(74);
    let values = tsbs_values(&mut rng, 120);
    let s = regular(120, 0, 10_000, |i| values[i]);
    let good = OpenStream::from_samples(&s, 7).unwrap().bytes().to_vec();
    assert!(decode(121, 0, &good).is_err(), "one sample too many");
    assert!(decode(119, 0, &good).is_err(), "bytes left over");
    assert!(
        decode(120, 0, &good[..good.len() - 1]).is_err(),
        "truncated"
    );
    assert!(decode(1, 0, &[]).is_err());
    assert!(decode(1, 0, &[0x02, 0x80]).is_err(), "truncated varint");
    assert!(
        decode(1, 0, &[0x02, 0x04, 0]).is_err(),
        "a byte after the only sample"
    );
    assert!(decode(2, i64::MAX, &good).is_err(), "time overflows");
    for _ in 0..20_000 {
        let mut p = good.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..p.len());
            p[i] ^= 1 << rng.gen_range(0..8);
        }
        if rng.gen_bool(0.2) {
            p.truncate(rng.gen_range(0..p.len()));
        }
        let _ = decode(rng.gen_range(1..200), rng.r#gen(), &p);
    }
}

#[test]
fn the_rice_parameter_is_the_floor_of_log2_of_the_mean() {
    let mut rng = StdRng::seed_from_u64(75);
    for _ in 0..100_000 {
        let a = Adapt {
            sum: match rng.gen_range(0..3) {
                0 => rng.gen_range(0..1000),
                1 => rng.r#gen::<u64>() >> rng.gen_range(0..64),
                _ => u64::MAX - rng.gen_range(0..3),
            },
            cnt: rng.gen_range(4..64),
            k: 0,
        };
        let mean = a.sum / u64::from(a.cnt);
        let want = (63 - (mean | 1).leading_zeros()).min(56);
        assert_eq!(
            u32::from(a.compute_k()),
            want,
            "sum {} cnt {}",
            a.sum,
            a.cnt
        );
    }
}

/// Pins codec 3's bytes (`storage/docs/format/chunks.md`, "Decimal stream"), header included,
/// as the head seals them, so that a change that still round-trips fails here. Such a change
/// needs a new codec id (the id is the version) and a note in `storage/docs/format/chunks.md`.
#[test]
fn chunk_bytes_are_pinned() {
    // Scale 1: the integers 15 20 15 25 25. Times step 10 s, then 10.005 s.
    let samples = samples_from(
        &[1_000, 11_000, 21_000, 31_005, 41_010],
        &[1.5, 2.0, 1.5, 2.5, 2.5],
    );
    // Per sample: the time's zigzagged delta-of-delta, then the value's zigzagged difference
    // in Rice(k), k = floor(log2(sum / cnt)) of the residuals so far, from sum 6, cnt 4 (k0 0):
    //   s1  dod 10_000 (the delta before s1 is 0): 1110 + 20_000 in 20 bits;
    //       +5 → z 10, k 0: ten 1s, 0                          (then sum 16, cnt 5: k 1)
    //   s2  dod 0: 0;  -5 → z 9, k 1: 1111 0 · 1               (sum 25, cnt 6: k 2)
    //   s3  dod 5: 10 + 10 in 7 bits;  +10 → z 20, k 2: 11111 0 · 00   (sum 45, cnt 7: k 2)
    //   s4  dod 0: 0;  0 → z 0, k 2: 0 · 00
    //   = 63 bits, 8 bytes with one padding bit.
    #[rustfmt::skip]
    let expected: &[u8] = &[
        3,                                      // codec 3 (decimal-stream)
        5,                                      // count
        0xca, 0xb8, 0x02,                       // span 40_010 ms (uvarint)
        0x01,                                   // desc: scale 1 | k0 0 (<< 4)
        0x1e,                                   // m0 = 15, zigzag 30
        0xe0, 0x4e, 0x20,                       // s1: 1110 · 0000 0100 1110 0010 0000
        0xff,                                   // s1: 1111 1111 ...
        0xcf,                                   // ... 11 0 | s2: 0 1111 ...
        0x61,                                   // ... 0 1 | s3: 10 0001 ...
        0x5f,                                   // ... 010 · 11111 ...
        0x00,                                   // ... 0 00 | s4: 0 0 00 | padding 0
    ];
    let mut chunk = Vec::new();
    let header = crate::codec::put_chunk_header(&mut chunk, StreamCodec::ID, 5, 40_010);
    StreamCodec.encode(&samples, &mut chunk).unwrap();
    assert_eq!(chunk, expected, "{chunk:02x?}");
    assert_eq!(header, 5);
    // The head writes the same bytes, sample by sample.
    let mut head = crate::head_chunk::HeadChunk::new(samples[0]);
    for &s in &samples[1..] {
        head.push(s);
    }
    let mut sealed = Vec::new();
    head.seal(&mut sealed).unwrap();
    assert_eq!(sealed, expected);
    let mut out = Vec::new();
    crate::codec::decode_chunk(expected, 1_000, &mut out).unwrap();
    assert_bit_eq(&out, &samples);
}
