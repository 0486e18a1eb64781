use std::sync::{Arc, RwLock};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::codec::tests::{assert_bit_eq, random_chunk, regular, tsbs_values};
use crate::codec::{
    ChunkCodec, GorillaCodec, StreamCodec, chunk_header, decode_chunk, encode_chunk,
};
use cairn_model::STALE_NAN_BITS;

fn head_of(samples: &[Sample]) -> HeadChunk {
    let mut h = HeadChunk::new(samples[0]);
    for &s in &samples[1..] {
        h.push(s);
    }
    h
}

fn contents(h: &HeadChunk) -> Vec<Sample> {
    let mut out = Vec::new();
    h.samples(&mut out).unwrap();
    out
}

#[test]
fn pushed_samples_read_back_exactly() {
    let mut rng = StdRng::seed_from_u64(40);
    for _ in 0..1000 {
        let s = random_chunk(&mut rng);
        let h = head_of(&s);
        assert_eq!(h.len(), s.len());
        assert!(!h.is_empty());
        assert_eq!((h.first_t(), h.last_t()), (s[0].t, s[s.len() - 1].t));
        assert_bit_eq(&contents(&h), &s);
    }
}

#[test]
fn reading_does_not_close_the_encoder() {
    let mut rng = StdRng::seed_from_u64(41);
    let s = regular(120, 1_000, 10_000, |i| {
        if i == 50 {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            rng.gen_range(0..10_000) as f64 / 100.0
        }
    });
    let mut h = HeadChunk::new(s[0]);
    let mut out = vec![Sample::new(0, 0.0)];
    for (i, &x) in s.iter().enumerate().skip(1) {
        h.push(x);
        out.truncate(1);
        h.samples(&mut out).unwrap();
        assert_bit_eq(&out[1..], &s[..=i]);
    }
}

#[test]
fn the_open_encoding_is_the_decimal_stream_until_a_value_is_no_short_decimal() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..300 {
        let s = random_chunk(&mut rng);
        let h = head_of(&s);
        let decimal = StreamCodec.encode(&s, &mut Vec::new()).is_ok();
        let want = if decimal {
            StreamCodec::NAME
        } else {
            GorillaCodec::NAME
        };
        assert_eq!(h.codec_name(), want);
        assert_bit_eq(&contents(&h), &s);
    }
    // More decimals later on: the chunk is encoded again at the larger scale.
    let mut h = HeadChunk::new(Sample::new(0, 17.9));
    h.push(Sample::new(10, 17.88));
    h.push(Sample::new(20, 17.875));
    assert_eq!(h.codec_name(), StreamCodec::NAME);
    // A stale marker: Gorilla from then on, the earlier samples kept.
    h.push(Sample::new(30, f64::from_bits(STALE_NAN_BITS)));
    h.push(Sample::new(40, 1.5));
    assert_eq!(h.codec_name(), GorillaCodec::NAME);
    assert_bit_eq(
        &contents(&h),
        &[
            Sample::new(0, 17.9),
            Sample::new(10, 17.88),
            Sample::new(20, 17.875),
            Sample::new(30, f64::from_bits(STALE_NAN_BITS)),
            Sample::new(40, 1.5),
        ],
    );
}

#[test]
fn seal_keeps_the_stream_or_gives_what_encode_chunk_gives() {
    let mut rng = StdRng::seed_from_u64(43);
    for _ in 0..500 {
        let s = random_chunk(&mut rng);
        let h = head_of(&s);
        let stream = h.codec_name() == StreamCodec::NAME;
        let mut want = Vec::new();
        let want_header = encode_chunk(&s, &mut want).unwrap();
        let mut got = vec![0xee];
        let header = h.seal(&mut got).unwrap();
        assert_eq!(chunk_header(&got[1..]).unwrap(), header);
        if stream {
            assert_eq!(header.codec, StreamCodec::ID);
            assert_eq!(
                (header.count, header.span),
                (want_header.count, want_header.span)
            );
        } else {
            assert_eq!(header, want_header);
            assert_eq!(got[1..], want);
        }
        let mut back = Vec::new();
        decode_chunk(&got[1..], s[0].t, &mut back).unwrap();
        assert_bit_eq(&back, &s);
    }
    // 2-decimal gauges: the open chunk and the sealed one are a fraction of Gorilla's size.
    let values = tsbs_values(&mut rng, 120);
    let s = regular(120, 0, 10_000, |i| values[i]);
    let mut gorilla = Vec::new();
    GorillaCodec.encode(&s, &mut gorilla).unwrap();
    let h = head_of(&s);
    assert!(
        h.heap_bytes() * 3 < gorilla.len(),
        "{} vs {}",
        h.heap_bytes(),
        gorilla.len()
    );
    let mut chunk = Vec::new();
    h.seal(&mut chunk).unwrap();
    assert!(
        chunk.len() * 4 < gorilla.len(),
        "{} vs {}",
        chunk.len(),
        gorilla.len()
    );
}

#[test]
fn the_next_chunk_starts_from_the_hint() {
    let mut rng = StdRng::seed_from_u64(47);
    let values = tsbs_values(&mut rng, 240);
    let s = regular(240, 0, 10_000, |i| values[i]);
    let first = head_of(&s[..120]);
    let hint = first.hint();
    assert!((5..=9).contains(&hint.k), "k = {}", hint.k);
    let mut second = HeadChunk::with_hint(s[120], hint);
    // Room for half the hint at first; one doubling holds a chunk like the previous one.
    assert!(second.heap_bytes() >= hint.bytes / 2);
    assert!(second.heap_bytes() < hint.bytes);
    for &x in &s[121..] {
        second.push(x);
    }
    assert!(second.heap_bytes() >= hint.bytes);
    assert!(second.heap_bytes() <= hint.bytes + 16);
    assert_bit_eq(&contents(&second), &s[120..]);
}

#[test]
fn interleaved_heads_on_one_thread_keep_their_own_bytes() {
    let mut rng = StdRng::seed_from_u64(44);
    let series: Vec<Vec<Sample>> = (0..5)
        .map(|_| {
            let start = rng.gen_range(-1000..1000);
            regular(120, start, 1000, |_| rng.r#gen::<f64>())
        })
        .collect();
    let mut heads: Vec<HeadChunk> = series.iter().map(|s| HeadChunk::new(s[0])).collect();
    for i in 1..120 {
        for (h, s) in heads.iter_mut().zip(&series) {
            h.push(s[i]);
        }
    }
    for (h, s) in heads.iter().zip(&series) {
        assert_bit_eq(&contents(h), s);
    }
}

#[test]
fn readers_on_other_threads_see_consistent_prefixes() {
    let mut rng = StdRng::seed_from_u64(45);
    let s = regular(2000, 0, 1000, |_| rng.r#gen::<f64>());
    let head = Arc::new(RwLock::new(HeadChunk::new(s[0])));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let head = Arc::clone(&head);
            let s = &s;
            scope.spawn(move || {
                let mut seen = 0;
                while seen < s.len() {
                    let got = contents(&head.read().unwrap());
                    assert!(got.len() >= seen);
                    assert_bit_eq(&got, &s[..got.len()]);
                    seen = got.len();
                }
            });
        }
        for &x in &s[1..] {
            head.write().unwrap().push(x);
        }
    });
}

#[test]
fn fixed_size_and_heap_use_stay_small() {
    assert!(
        size_of::<HeadChunk>() <= 100,
        "{} bytes",
        size_of::<HeadChunk>()
    );
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<HeadChunk>();

    let mut rng = StdRng::seed_from_u64(46);
    let s = regular(120, 0, 10_000, |_| rng.r#gen::<f64>());
    let h = head_of(&s);
    assert_eq!(h.codec_name(), GorillaCodec::NAME);
    let mut payload = Vec::new();
    GorillaCodec.encode(&s, &mut payload).unwrap();
    let used = payload.len();
    assert!(h.heap_bytes() >= used);
    assert!(
        h.heap_bytes() <= used + used / 2 + 16,
        "{} for {used}",
        h.heap_bytes()
    );
    // A constant series: a few bytes, not a preallocated block.
    let h = head_of(&regular(120, 0, 10_000, |_| 1.0));
    assert!(h.heap_bytes() <= 64, "{}", h.heap_bytes());
}

#[test]
#[should_panic(expected = "not after last_t")]
fn push_at_the_same_time_panics() {
    let mut h = HeadChunk::new(Sample::new(10, 1.0));
    h.push(Sample::new(10, 2.0));
}

#[test]
#[should_panic(expected = "not after last_t")]
fn push_of_a_span_of_2_pow_31_panics() {
    let mut h = HeadChunk::new(Sample::new(-5, 1.0));
    h.push(Sample::new(-5 + (1 << 31) - 1, 2.0)); // fine: just under
    h.push(Sample::new(-5 + (1 << 31), 2.0));
}

/// `push_decimal` (a write batch's decimal item: `m` and its scale) stores exactly what `push`
/// stores, whether the item's scale is the stream's, below it (m is scaled up), above it and
/// divisible (scaled down), above it and not divisible (the float path re-encodes the
/// chunk), or scaled past 2^53 (the float path decides).
#[test]
fn push_decimal_gives_what_push_gives_at_every_scale() {
    let mut rng = StdRng::seed_from_u64(41);
    for round in 0..500 {
        let n = rng.gen_range(2..200);
        let mut samples = Vec::with_capacity(n);
        let mut decimals = Vec::with_capacity(n);
        let mut t = rng.gen_range(-1_000_000i64..1_000_000);
        for _ in 0..n {
            t += rng.gen_range(1..20_000);
            // A value with `digits` decimals, given to the chunk at `scale >= digits`.
            let digits = rng.gen_range(0..4usize);
            let big = round % 50 == 0 && rng.gen_bool(0.2);
            let m0: i64 = if big {
                (1i64 << 52) + rng.gen_range(0..1000)
            } else {
                rng.gen_range(-100_000..100_000)
            };
            let v = m0 as f64 / cairn_model::decimal::POW10[digits];
            // A batch only carries m below 2^53 that gives v back exactly (the builder's
            // to_int): a larger scale where that holds, else the value's own.
            let up = rng.gen_range(digits..=digits + 3).min(15);
            let m_up = m0 * 10i64.pow((up - digits) as u32);
            let (m, scale) = if m_up.unsigned_abs() < 1 << 53
                && (m_up as f64 / cairn_model::decimal::POW10[up]).to_bits() == v.to_bits()
            {
                (m_up, up)
            } else {
                (m0, digits)
            };
            assert_eq!(
                (m as f64 / cairn_model::decimal::POW10[scale]).to_bits(),
                v.to_bits()
            );
            samples.push(Sample::new(t, v));
            decimals.push((m, scale as u8));
        }
        let by_float = head_of(&samples);
        let mut by_decimal = HeadChunk::new(samples[0]);
        for (s, &(m, scale)) in samples[1..].iter().zip(&decimals[1..]) {
            by_decimal.push_decimal(*s, m, scale);
        }
        assert_bit_eq(&contents(&by_decimal), &samples);
        assert_eq!(by_decimal.codec_name(), by_float.codec_name());
        assert_eq!(by_decimal.len(), by_float.len());
    }
}

/// `push_scaled` takes an integer at the stream's scale, scales a smaller scale up, a larger
/// one down when it divides exactly, and refuses (writing nothing) what does not fit.
#[test]
fn push_scaled_moves_integers_between_scales_or_refuses() {
    let mut stream = crate::codec::OpenStream::new(1.25, 0, 64).unwrap(); // scale 2
    let before = stream.bytes().len();
    assert!(!stream.push_scaled(10, 12_345, 3), "12.345 needs scale 3");
    assert!(
        !stream.push_scaled(10, 1 << 53, 2),
        "2^53 is past the exact range"
    );
    assert!(
        !stream.push_scaled(10, 1 << 52, 0),
        "2^52 * 100 is past it too"
    );
    assert_eq!(stream.bytes().len(), before, "a refusal writes nothing");
    assert!(stream.push_scaled(10, 150, 2)); // 1.5 at its own scale
    assert!(stream.push_scaled(10, 2, 0)); // 2 → 200
    assert!(stream.push_scaled(10, 25_000, 4)); // 2.5000 → 250
    let mut out = Vec::new();
    crate::codec::decode_stream_payload(0, 4, stream.bytes(), &mut out).unwrap();
    let values: Vec<f64> = out.iter().map(|s| s.v).collect();
    assert_eq!(values, [1.25, 1.5, 2.0, 2.5]);
}
