//! Chunk framing and codec-independent properties: round trips at the boundaries, randomized
//! round trips, codec choice, and garbage handling. Also the sample generators the codec and
//! head chunk tests share.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use cairn_model::STALE_NAN_BITS;

// ---- generators ----------------------------------------------------------------------------

pub(crate) fn samples_from(times: &[i64], values: &[f64]) -> Vec<Sample> {
    times
        .iter()
        .zip(values)
        .map(|(&t, &v)| Sample::new(t, v))
        .collect()
}

pub(crate) fn regular(
    n: usize,
    start: i64,
    step: i64,
    mut value: impl FnMut(usize) -> f64,
) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample::new(start + i as i64 * step, value(i)))
        .collect()
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box-Muller; 1 - u is in (0, 1], so ln never sees 0.
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// TSBS cpu-only-like gauge: a random walk from U[0,100], N(0,1) steps, clamped to [0,100],
/// rounded to 2 decimals.
pub(crate) fn tsbs_values(rng: &mut StdRng, n: usize) -> Vec<f64> {
    let mut x = rng.gen_range(0.0..100.0);
    (0..n)
        .map(|_| {
            x = (x + normal(rng)).clamp(0.0, 100.0);
            (x * 100.0).round() / 100.0
        })
        .collect()
}

/// Strictly ascending times from a random base (sometimes at the ends of i64), with a random
/// interval style, spanning less than 2^31 ms.
pub(crate) fn random_times(rng: &mut StdRng, n: usize) -> Vec<i64> {
    let base = match rng.gen_range(0..10) {
        0 => i64::MIN + rng.gen_range(0..1000),
        1 => i64::MAX - MAX_CHUNK_SPAN_MS,
        _ => rng.gen_range(-(1i64 << 45)..(1i64 << 45)),
    };
    let step = [1, 15, 1000, 10_000, 60_000][rng.gen_range(0..5)];
    let style = rng.gen_range(0..5);
    let mut steps: Vec<i64> = (1..n)
        .map(|_| match style {
            0 | 1 => step,
            2 => (step + rng.gen_range(-5..=5)).max(1),
            3 => rng.gen_range(1..=3 * step),
            _ => 1i64 << rng.gen_range(0..31),
        })
        .collect();
    let budget = MAX_CHUNK_SPAN_MS - 1 - n as i64;
    let total: i64 = steps.iter().sum();
    if total > budget {
        for s in &mut steps {
            *s = (*s as i128 * budget as i128 / total as i128).max(1) as i64;
        }
    }
    let mut t = base;
    std::iter::once(base)
        .chain(steps.iter().map(|s| {
            t += s;
            t
        }))
        .collect()
}

pub(crate) fn random_values(rng: &mut StdRng, n: usize) -> Vec<f64> {
    let pick = |rng: &mut StdRng| match rng.gen_range(0..5) {
        0 => f64::NAN,
        1 => f64::from_bits(STALE_NAN_BITS),
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        _ => -0.0,
    };
    match rng.gen_range(0..10) {
        0 => vec![rng.gen_range(-1000..1000) as f64 / 8.0; n],
        1 => tsbs_values(rng, n),
        2 => {
            let mut c = rng.gen_range(0..1_000_000u64) as f64;
            let inc = rng.gen_range(0..5000) as f64;
            (0..n)
                .map(|_| {
                    c += inc + rng.gen_range(0..3) as f64;
                    c
                })
                .collect()
        }
        3 => {
            let s = rng.gen_range(0..=15);
            let bits = rng.gen_range(0..53);
            (0..n)
                .map(|_| rng.gen_range(-(1i64 << bits)..=(1i64 << bits)) as f64 / 10f64.powi(s))
                .collect()
        }
        4 => (0..n).map(|_| rng.r#gen::<f64>() * 1000.0).collect(),
        5 => (0..n).map(|_| f64::from_bits(rng.r#gen())).collect(),
        6 => {
            let mut v = tsbs_values(rng, n);
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..n);
                v[i] = pick(rng);
            }
            v
        }
        7 => {
            // A walk stuck at its lower clamp much of the time.
            let mut x = 0.0f64;
            (0..n)
                .map(|_| {
                    x = (x + normal(rng) * 3.0 - 1.0).max(0.0);
                    (x * 10.0).round() / 10.0
                })
                .collect()
        }
        8 => {
            let mut x = rng.gen_range(0..100) as f64;
            (0..n)
                .map(|_| {
                    if rng.gen_bool(0.05) {
                        x = rng.gen_range(0..100) as f64;
                    }
                    x
                })
                .collect()
        }
        _ => (0..n).map(|_| pick(rng)).collect(),
    }
}

pub(crate) fn random_chunk(rng: &mut StdRng) -> Vec<Sample> {
    let n = match rng.gen_range(0..10) {
        0 => 1,
        1 => 2,
        2 => 3,
        3..=5 => 120,
        _ => rng.gen_range(1..=300),
    };
    let times = random_times(rng, n);
    let values = random_values(rng, n);
    samples_from(&times, &values)
}

#[track_caller]
pub(crate) fn assert_bit_eq(got: &[Sample], want: &[Sample]) {
    assert_eq!(got.len(), want.len(), "sample count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.bit_eq(w),
            "sample {i}: got ({}, {:#x}) want ({}, {:#x})",
            g.t,
            g.v.to_bits(),
            w.t,
            w.v.to_bits()
        );
    }
}

/// encode_chunk → chunk_header → decode_chunk, checking every field.
#[track_caller]
pub(crate) fn round_trip(samples: &[Sample]) -> (ChunkHeader, Vec<u8>) {
    let mut chunk = vec![0xAA]; // encode_chunk appends
    let header = encode_chunk(samples, &mut chunk).unwrap();
    let chunk = chunk.split_off(1);
    assert_eq!(chunk_header(&chunk).unwrap(), header);
    assert_eq!(header.count as usize, samples.len());
    assert_eq!(
        header.span,
        (samples[samples.len() - 1].t - samples[0].t) as u64
    );
    assert_eq!(header.max_t(samples[0].t), samples[samples.len() - 1].t);
    let mut out = vec![Sample::new(1, 2.0)]; // decode_chunk appends
    decode_chunk(&chunk, samples[0].t, &mut out).unwrap();
    assert_bit_eq(&out[1..], samples);
    (header, chunk)
}

/// Checks that every codec able to encode `samples` round-trips them.
#[track_caller]
fn round_trip_each_codec(samples: &[Sample]) {
    let all: [&dyn ChunkCodec; 3] = [&DecimalCodec, &GorillaCodec, &StreamCodec];
    for codec in all {
        let mut payload = Vec::new();
        match codec.encode(samples, &mut payload) {
            Ok(()) => {
                let mut out = Vec::new();
                codec
                    .decode(samples[0].t, samples.len(), &payload, &mut out)
                    .unwrap_or_else(|e| panic!("{}: {e}", codec.name()));
                assert_bit_eq(&out, samples);
            }
            Err(Error::CodecUnsupported { .. }) => {
                assert_ne!(
                    codec.id(),
                    GorillaCodec::ID,
                    "gorilla encodes everything valid"
                );
            }
            Err(e) => panic!("{}: {e}", codec.name()),
        }
    }
}

// ---- boundaries ------------------------------------------------------------------------------

#[test]
fn single_sample_chunks_round_trip() {
    for v in [0.0, 1.5, -42.25, 1e300, f64::NAN, -0.0, f64::INFINITY] {
        for t in [0, -1, 1_700_000_000_000, i64::MIN, i64::MAX] {
            let s = [Sample::new(t, v)];
            let (h, chunk) = round_trip(&s);
            assert_eq!(h.span, 0);
            round_trip_each_codec(&s);
            // A lone decimal sample is tiny: header (3) + descriptor + value.
            if v == 1.5 {
                assert!(chunk.len() <= 5, "{} bytes", chunk.len());
            }
        }
    }
}

#[test]
fn chunks_of_120_samples_round_trip() {
    let mut rng = StdRng::seed_from_u64(1);
    let s = samples_from(
        &(0..120)
            .map(|i| 1_700_000_000_000 + i * 10_000)
            .collect::<Vec<_>>(),
        &tsbs_values(&mut rng, 120),
    );
    let (h, _) = round_trip(&s);
    assert_eq!((h.count, h.span), (120, 1_190_000));
    round_trip_each_codec(&s);
}

#[test]
fn span_just_under_2_pow_31_round_trips_and_2_pow_31_is_refused() {
    for n in [2, 3, 120] {
        let mut s = regular(n, -5_000, 1000, |i| i as f64 * 0.5);
        s[n - 1].t = s[0].t + MAX_CHUNK_SPAN_MS - 1;
        round_trip(&s);
        round_trip_each_codec(&s);
        // The largest possible jump back in delta: from 2^31-2 ms to 1 ms.
        let mut s2 = vec![
            Sample::new(7, 1.0),
            Sample::new(7 + MAX_CHUNK_SPAN_MS - 2, 2.0),
        ];
        s2.push(Sample::new(7 + MAX_CHUNK_SPAN_MS - 1, f64::NAN));
        round_trip(&s2);
        round_trip_each_codec(&s2);

        s[n - 1].t = s[0].t + MAX_CHUNK_SPAN_MS;
        let mut out = vec![9];
        assert!(matches!(
            encode_chunk(&s, &mut out),
            Err(Error::CodecUnsupported { .. })
        ));
        assert_eq!(out, [9], "out is unchanged on error");
        for codec in CODECS {
            assert!(matches!(
                codec.encode(&s, &mut Vec::new()),
                Err(Error::CodecUnsupported { .. })
            ));
        }
    }
}

#[test]
fn extreme_and_negative_timestamps_round_trip() {
    for base in [
        i64::MIN,
        i64::MIN + 1,
        -1_000_000,
        -1,
        0,
        i64::MAX - 1_190_000,
    ] {
        let s = regular(120, base, 10_000, |i| (i % 7) as f64);
        round_trip(&s);
        round_trip_each_codec(&s);
    }
    // A span crossing zero.
    let s = regular(5, -2_000, 1_000, |i| i as f64);
    round_trip(&s);
    // Overflowing i64 while computing the span is a refusal, not a panic.
    let s = [Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)];
    assert!(encode_chunk(&s, &mut Vec::new()).is_err());
}

#[test]
fn irregular_intervals_round_trip() {
    let times = [
        0,
        1,
        2,
        10,
        11,
        5_000,
        5_001,
        86_400_000,
        86_400_001,
        2_000_000_000,
    ];
    let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    let s = samples_from(&times, &values);
    let (h, _) = round_trip(&s);
    assert_eq!(h.codec, DecimalCodec::ID);
    round_trip_each_codec(&s);
    // Jittered scrapes.
    let mut rng = StdRng::seed_from_u64(2);
    let mut t = 0;
    let times: Vec<i64> = (0..120)
        .map(|_| {
            t += 15_000 + rng.gen_range(-20..=20);
            t
        })
        .collect();
    let s = samples_from(&times, &tsbs_values(&mut rng, 120));
    round_trip(&s);
    round_trip_each_codec(&s);
}

#[test]
fn identical_values_are_nearly_free() {
    for v in [0.0, 7.0, 99.99, -3.5, 1e15] {
        let s = regular(120, 1_700_000_000_000, 10_000, |_| v);
        let (h, chunk) = round_trip(&s);
        assert_eq!(h.codec, DecimalCodec::ID);
        // Header (5) + descriptor + first value (up to 8 for 1e15) + interval (2).
        assert!(chunk.len() <= 16, "{v}: {} bytes", chunk.len());
        round_trip_each_codec(&s);
    }
    // Gorilla's XOR coding handles identical non-decimal values.
    let s = regular(120, 0, 10_000, |_| f64::NAN);
    let (h, _) = round_trip(&s);
    assert_eq!(h.codec, GorillaCodec::ID);
}

#[test]
fn special_floats_keep_their_bits_through_gorilla() {
    let specials = [
        f64::NAN,
        f64::from_bits(STALE_NAN_BITS),
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MIN_POSITIVE / 4.0, // subnormal
        f64::MAX,
    ];
    for special in specials {
        let mut s = regular(10, 0, 1000, |i| i as f64 * 0.25);
        s[4].v = special;
        let (h, _) = round_trip(&s);
        assert_eq!(h.codec, GorillaCodec::ID, "{:#x}", special.to_bits());
        assert!(matches!(
            DecimalCodec.encode(&s, &mut Vec::new()),
            Err(Error::CodecUnsupported { .. })
        ));
        round_trip_each_codec(&s);
    }
    let all = regular(specials.len(), 0, 1, |i| specials[i]);
    round_trip(&all);
}

#[test]
fn bad_input_is_refused() {
    let mut out = Vec::new();
    let cases: [&[Sample]; 3] = [
        &[],
        &[Sample::new(2, 1.0), Sample::new(1, 1.0)],
        &[Sample::new(1, 1.0), Sample::new(1, 2.0)],
    ];
    for s in cases {
        assert!(matches!(
            encode_chunk(s, &mut out),
            Err(Error::CodecUnsupported { .. })
        ));
        for codec in CODECS {
            assert!(codec.encode(s, &mut out).is_err());
        }
    }
    assert!(out.is_empty());
}

// ---- codec choice ------------------------------------------------------------------------

#[test]
fn decimal_wins_on_two_decimal_gauges_and_gorilla_on_full_precision() {
    let mut rng = StdRng::seed_from_u64(3);
    let (mut dec_bytes, mut samples) = (0, 0);
    for _ in 0..50 {
        let s = samples_from(
            &(0..120).map(|i| i * 10_000).collect::<Vec<_>>(),
            &tsbs_values(&mut rng, 120),
        );
        let (h, chunk) = round_trip(&s);
        assert_eq!(h.codec, DecimalCodec::ID);
        dec_bytes += chunk.len();
        samples += s.len();
    }
    // Entropy of these deltas is ~8.67 bits/sample; Gorilla needs ~6.6 bytes.
    let per_sample = dec_bytes as f64 / samples as f64;
    assert!(per_sample < 1.25, "{per_sample:.3} bytes/sample");

    for _ in 0..20 {
        let s = regular(120, 0, 10_000, |_| rng.r#gen::<f64>() * 100.0);
        let (h, _) = round_trip(&s);
        assert_eq!(h.codec, GorillaCodec::ID);
    }
}

#[test]
fn window_sized_random_walks_are_model_coded_near_their_entropy() {
    let mut rng = StdRng::seed_from_u64(13);
    let (mut bytes, mut samples, mut modelled) = (0, 0, [0; 2]);
    for i in 0..40 {
        let n = [720, 8640][i % 2];
        let mut times: Vec<i64> = (0..n as i64).map(|i| i * 10_000).collect();
        if i % 4 == 3 {
            // Jittered scrapes: the time bits come first, then the model-coded values.
            for (j, t) in times.iter_mut().enumerate() {
                *t += (j % 3) as i64;
            }
        }
        let s = samples_from(&times, &tsbs_values(&mut rng, n));
        let (h, chunk) = round_trip(&s);
        assert_eq!(h.codec, DecimalCodec::ID);
        // The value coding byte follows desc, m0 and Δ1 (and the time coding byte).
        let mut pos = h.header_len + 1;
        get_uvarint(&chunk, &mut pos).unwrap();
        get_uvarint(&chunk, &mut pos).unwrap();
        if chunk[h.header_len] & 0x80 != 0 {
            pos += 1;
        }
        if chunk[pos] & 0x7f == 0x40 {
            modelled[i % 2] += 1;
        }
        if i % 4 != 3 {
            bytes += chunk.len();
            samples += n;
        }
        // Every truncation of a model-coded chunk is refused.
        for len in (0..chunk.len()).step_by(37).chain([chunk.len() - 1]) {
            assert!(decode_untrusted(&chunk[..len], s[0].t).is_err());
        }
    }
    // Day-sized chunks always gain; at 720 samples the model's 6-7 bytes of parameters and
    // state are 1 % of the chunk, about what it saves, so Rice wins now and then.
    assert_eq!(modelled[1], 20, "the fitted model beats Rice on every day");
    assert!(
        modelled[0] >= 15,
        "{} of 20 windows model-coded",
        modelled[0]
    );
    // Their steps' entropy is ~8.67 bits (1.084 bytes) per sample; Rice needed ~1.10 bytes
    // plus headers.
    let per_sample = bytes as f64 / samples as f64;
    assert!(per_sample < 1.092, "{per_sample:.4} bytes/sample");
}

#[test]
fn encode_chunk_keeps_the_smaller_encoding() {
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..500 {
        let s = random_chunk(&mut rng);
        let (h, chunk) = round_trip(&s);
        let payload = chunk.len() - h.header_len;
        for codec in CODECS {
            let mut p = Vec::new();
            if codec.encode(&s, &mut p).is_ok() {
                assert!(payload <= p.len(), "{} is smaller", codec.name());
                if codec.id() == h.codec {
                    assert_eq!(p, chunk[h.header_len..]);
                }
            }
        }
    }
}

// ---- randomized round trips ---------------------------------------------------------------

#[test]
fn thousands_of_random_chunks_round_trip() {
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..4000 {
        let s = random_chunk(&mut rng);
        round_trip(&s);
        round_trip_each_codec(&s);
    }
}

// ---- garbage --------------------------------------------------------------------------------

/// Decodes untrusted bytes: must not panic, and anything it accepts must be self-consistent.
fn decode_untrusted(chunk: &[u8], base_t: i64) -> Result<Vec<Sample>> {
    let mut out = vec![Sample::new(3, 3.0)];
    let result = decode_chunk(chunk, base_t, &mut out);
    match result {
        Ok(()) => {
            let h = chunk_header(chunk).unwrap();
            let got = &out[1..];
            assert_eq!(got.len(), h.count as usize);
            assert_eq!(got[0].t, base_t);
            assert!(got.windows(2).all(|w| w[0].t < w[1].t));
            assert_eq!(got[got.len() - 1].t - base_t, h.span as i64);
            Ok(out.split_off(1))
        }
        Err(e) => {
            assert_eq!(out.len(), 1, "out is unchanged on error");
            assert!(
                matches!(e, Error::CorruptChunk { .. } | Error::UnknownCodec { .. }),
                "{e}"
            );
            Err(e)
        }
    }
}

#[test]
fn truncated_or_extended_chunks_are_errors() {
    let mut rng = StdRng::seed_from_u64(6);
    for _ in 0..300 {
        let s = random_chunk(&mut rng);
        let (_, chunk) = round_trip(&s);
        for len in 0..chunk.len() {
            assert!(
                decode_untrusted(&chunk[..len], s[0].t).is_err(),
                "prefix of {len}/{} bytes accepted",
                chunk.len()
            );
        }
        for extra in [0u8, 1, 0xff] {
            let mut longer = chunk.clone();
            longer.push(extra);
            assert!(decode_untrusted(&longer, s[0].t).is_err());
        }
    }
}

#[test]
fn a_wrong_count_or_span_in_the_header_is_detected() {
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..1000 {
        let s = random_chunk(&mut rng);
        let (h, chunk) = round_trip(&s);
        let count = u64::from(h.count);
        let variants = [
            (count - 1, h.span),
            (count + 1, h.span),
            (count, h.span.wrapping_sub(1)),
            (count, h.span + 1),
        ];
        for (count, span) in variants {
            let mut bad = vec![h.codec];
            put_uvarint(&mut bad, count);
            put_uvarint(&mut bad, span);
            bad.extend_from_slice(&chunk[h.header_len..]);
            assert!(
                decode_untrusted(&bad, s[0].t).is_err(),
                "count {count} span {span} for {:?}",
                h
            );
        }
    }
}

#[test]
fn corrupted_chunks_never_panic() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut rejected = 0;
    let trials = 20_000;
    for _ in 0..trials {
        let s = random_chunk(&mut rng);
        let (_, mut chunk) = round_trip(&s);
        match rng.gen_range(0..3) {
            0 => {
                let bit = rng.gen_range(0..chunk.len() * 8);
                chunk[bit / 8] ^= 1 << (bit % 8);
            }
            1 => {
                let i = rng.gen_range(0..chunk.len());
                chunk[i] = rng.r#gen();
            }
            _ => {
                let i = rng.gen_range(0..chunk.len());
                let n = rng.gen_range(1..=8.min(chunk.len() - i));
                rng.fill(&mut chunk[i..i + n]);
            }
        }
        rejected += usize::from(decode_untrusted(&chunk, s[0].t).is_err());
    }
    // Most corruption is detected (the rest decodes to other, consistent samples).
    assert!(
        rejected > trials / 2,
        "only {rejected} of {trials} rejected"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(8);
    for _ in 0..20_000 {
        let mut chunk = vec![rng.gen_range(0..4u8)];
        let count = rng.gen_range(1..300u64);
        put_uvarint(&mut chunk, count);
        put_uvarint(&mut chunk, count - 1 + rng.gen_range(0..100_000));
        let len = rng.gen_range(0..200);
        chunk.extend((0..len).map(|_| rng.r#gen::<u8>()));
        let _ = decode_untrusted(&chunk, rng.r#gen::<i64>() >> rng.gen_range(0..64));
    }
}

#[test]
fn chunk_header_checks() {
    let mut chunk = vec![GorillaCodec::ID];
    put_uvarint(&mut chunk, 120);
    put_uvarint(&mut chunk, 1_190_000);
    assert_eq!(
        chunk_header(&chunk).unwrap(),
        ChunkHeader {
            codec: 1,
            count: 120,
            span: 1_190_000,
            header_len: 5
        }
    );
    let bad: [(&[u8], &str); 9] = [
        (&[], "empty"),
        (&[1], "no count"),
        (&[1, 1], "no span"),
        (&[1, 0, 0], "count 0"),
        (&[1, 1, 1], "one sample with a span"),
        (&[1, 3, 1], "3 samples in 1 ms"),
        (&[1, 0x81, 0x00, 0], "overlong varint"),
        (&[1, 2, 0x80, 0x80, 0x80, 0x80, 0x08], "span 2^31"),
        (
            &[
                1, 0xff, 0xff, 0xff, 0xff, 0x10, 0xff, 0xff, 0xff, 0xff, 0x10,
            ],
            "count 2^32",
        ),
    ];
    for (bytes, what) in bad {
        assert!(
            matches!(chunk_header(bytes), Err(Error::CorruptChunk { .. })),
            "{what}"
        );
    }
    assert!(matches!(
        chunk_header(&[9, 1, 0]),
        Err(Error::UnknownCodec { id: 9 })
    ));
    assert!(matches!(codec_by_id(0), Err(Error::UnknownCodec { id: 0 })));
    assert_eq!(codec_by_id(1).unwrap().name(), "gorilla");
    assert_eq!(codec_by_id(2).unwrap().name(), "decimal");
}

// ---- helpers ------------------------------------------------------------------------------------

/// Chunks read varints with `cairn_model::varint`, whose own tests cover the encoding; what
/// the adapter adds is the error: a bad varint in a chunk is a corrupt chunk.
#[test]
fn a_bad_varint_is_a_corrupt_chunk() {
    for bad in [&[0x80][..], &[0x81, 0x00], &[0xff; 11]] {
        let mut pos = 0;
        assert!(
            matches!(get_uvarint(bad, &mut pos), Err(Error::CorruptChunk { .. })),
            "{bad:?}"
        );
        assert_eq!(pos, 0);
    }
    let mut pos = 0;
    assert_eq!(get_uvarint(&[0xac, 0x02], &mut pos).unwrap(), 300);
    assert_eq!(pos, 2);
}
