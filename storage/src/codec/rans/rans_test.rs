//! The coder as a whole (parameters, table, encoder and decoder): round trips of every kind of
//! data and model, pinned bytes, and corrupt, truncated or padded streams. Also the data
//! generators and helpers `model_test.rs` and `fit_test.rs` share.

use super::model::{ModelCode, Shape};
use super::{STATE_BITS, bit_len};

/// splitmix64.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub(super) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub(super) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Standard Laplace (scale 1).
    pub(super) fn laplace(&mut self) -> f64 {
        let u = self.uniform() - 0.5;
        let m = -(1.0 - 2.0 * u.abs()).ln();
        if u < 0.0 { -m } else { m }
    }
}

pub(super) fn normal_data(seed: u64, n: usize, sigma: f64) -> Vec<i64> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| (rng.normal() * sigma).round() as i64)
        .collect()
}

pub(super) fn laplace_data(seed: u64, n: usize, beta: f64) -> Vec<i64> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| (rng.laplace() * beta).round() as i64)
        .collect()
}

/// Encodes with `m` (header + stream) and returns the bytes.
pub(super) fn encode_with(m: &ModelCode, data: &[i64]) -> Vec<u8> {
    let mut buf = Vec::new();
    m.write_params(&mut buf);
    m.encode(data, &mut buf);
    buf
}

/// Decodes `n` values from header + stream.
pub(super) fn decode_all(buf: &[u8], n: usize) -> Result<Vec<i64>, &'static str> {
    let mut pos = 0;
    let m = ModelCode::read_params(buf, &mut pos)?;
    let mut d = m.decoder(&buf[pos..])?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(d.next()?);
    }
    d.finish()?;
    Ok(out)
}

/// choose + encode + decode; checks the round trip and the size estimate.
/// Returns (model, total bytes).
pub(super) fn roundtrip(data: &[i64]) -> (ModelCode, usize) {
    let (m, est) = ModelCode::choose(data).expect("non-empty");
    let buf = encode_with(&m, data);
    let back = decode_all(&buf, data.len()).expect("valid stream");
    assert_eq!(back, data, "round trip with {m:?}");
    assert!(
        est + 2 >= buf.len() && est <= buf.len() + 4,
        "estimate {est} vs actual {} ({m:?})",
        buf.len()
    );
    (m, buf.len())
}

/// Pins the coder's bytes for one model and three residuals (a bucket, a negative bucket,
/// an escape), so that a change that still round-trips fails here. Such a change needs a
/// new format (a new chunk codec id) and a note in `storage/docs/format/chunks.md`. The
/// decimal codec's `model_coded_chunk_bytes_are_pinned` decodes these bytes in a chunk.
#[test]
fn stream_bytes_are_pinned() {
    // The first table `golden_tables` pins: K = 5, symbols b + 5 for buckets -5..5, then
    // ESCAPE; frequencies 1 46 981 7713 22319 23759 9304 1340 71 1 | 1.
    let m = ModelCode {
        shape: Shape::Gauss,
        k: 3,
        tail: 0,
        esc: 0,
        q: 128,
    };
    // Encoding runs backwards from x = 2^24 (emitted bytes in brackets):
    //   40: b = 5 is outside the table: ESCAPE. z = zigzag(40) = 80, 7 bits: its low 6
    //       bits 16 raw (x < 2^26, no byte: x = 2^30 + 16), then ESCAPE (cum 65535, f 1)
    //       fused with L - 1 = 6 (bound 1 << 10: [0x10 0x00 0x00], x = 64):
    //       x = (64 << 6 | 6) << 16 + 65535 = 268_894_207
    //   -9: b = -2 (symbol 3: cum 1028, f 7713), offset 7; bound 7713 << 13: [0xff],
    //       x = 1_050_367 << 3 | 7 = 8_402_943 = 1089 · 7713 + 3486:
    //       x = 1089 << 16 + 3486 + 1028 = 71_373_218
    //    3: b = 0 (symbol 5: cum 31060, f 23759), offset 3; below the bound, no byte:
    //       x << 3 | 3 = 570_985_747 = 24032 · 23759 + 9459:
    //       x = 24032 << 16 + 9459 + 31060 = 0x5de0_9e47
    // The stream is that state, big-endian, then the bytes in the reverse of emission.
    let want = [0x5d, 0xe0, 0x9e, 0x47, 0xff, 0x00, 0x00, 0x10];
    let mut params = Vec::new();
    m.write_params(&mut params);
    // k 3 | Gauss (0 << 6) | extended (1 << 7): tail 0 is not Gauss' default; q;
    // tail 0 | escape frequency code 0 (<< 3).
    assert_eq!(params, [0x83, 0x80, 0x00]);
    let mut stream = Vec::new();
    m.encode(&[3, -9, 40], &mut stream);
    assert_eq!(stream, want, "{stream:02x?}");
    assert_eq!(
        decode_all(&[params, stream].concat(), 3),
        Ok(vec![3, -9, 40])
    );
}

/// Round trips of one family of data for each of its parameters and sizes, printing the
/// cost at n = 8640.
fn roundtrip_family(
    name: &str,
    params: &[f64],
    sizes: &[usize],
    data_of: fn(u64, usize, f64) -> Vec<i64>,
) {
    for (i, &p) in params.iter().enumerate() {
        for &n in sizes {
            let data = data_of(i as u64 * 1000 + n as u64, n, p);
            let (m, bytes) = roundtrip(&data);
            if n == 8640 {
                println!(
                    "{name} {p:>8}: n {n} bytes {bytes} ({:.3} bits/value) {m:?}",
                    bytes as f64 * 8.0 / n as f64
                );
            }
        }
    }
}

#[test]
fn roundtrip_normal() {
    let sigmas = [0.3, 1.0, 3.0, 10.0, 100.0, 1e4, 1e9];
    roundtrip_family(
        "normal sigma",
        &sigmas,
        &[1, 2, 3, 720, 8640, 16384],
        normal_data,
    );
}

#[test]
fn roundtrip_laplace() {
    let betas = [0.2, 1.0, 5.0, 77.0, 3e5, 1e12];
    roundtrip_family("laplace beta", &betas, &[1, 2, 720, 8640], laplace_data);
}

#[test]
fn roundtrip_edge_cases() {
    let big = [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1, 0, -1, 1];
    let mut cases: Vec<Vec<i64>> = vec![
        vec![0],
        vec![i64::MIN],
        vec![i64::MAX],
        vec![0; 720],
        vec![0; 16384],
        vec![5; 720],
        vec![-123_456_789_012; 100],
        vec![i64::MIN; 50],
        vec![i64::MAX; 50],
        (0..720)
            .map(|i| if i % 2 == 0 { i64::MAX } else { -i64::MAX })
            .collect(),
        (0..720)
            .map(|i| if i % 2 == 0 { i64::MAX } else { i64::MIN })
            .collect(),
        (0..1000).map(|i| big[i % big.len()]).collect(),
        (0..64).map(|i| 1i64 << i).collect(),
        (0..64).map(|i| (1i64 << i).wrapping_neg()).collect(),
        (0..64).map(|i| (1i64 << i).wrapping_sub(1)).collect(),
        (-1000..1000).collect(),
    ];
    // Normal data with outliers.
    let mut d = normal_data(1, 8640, 100.0);
    d[4000] = 1 << 40;
    cases.push(d.clone());
    d[10] = i64::MIN;
    d[11] = i64::MAX;
    cases.push(d);
    let mut d = normal_data(2, 720, 3.0);
    d[0] = -(1 << 62);
    cases.push(d);
    // Sparse: mostly zero, some large.
    let mut rng = Rng(3);
    cases.push(
        (0..5000)
            .map(|_| {
                if rng.next_u64().is_multiple_of(10) {
                    (rng.normal() * 1e6) as i64
                } else {
                    0
                }
            })
            .collect(),
    );
    // Uniform random i64.
    cases.push((0..2000).map(|_| rng.next_u64() as i64).collect());
    // Random bit lengths.
    cases.push(
        (0..4000)
            .map(|_| {
                let b = rng.next_u64() % 64;
                (rng.next_u64() >> b) as i64
            })
            .collect(),
    );
    for data in &cases {
        let (m, bytes) = roundtrip(data);
        println!("edge n {:>5}: {bytes:>6} bytes {m:?}", data.len());
    }
}

/// The coder itself, independent of `choose`: random models on random data.
#[test]
fn roundtrip_random_models() {
    let mut rng = Rng(42);
    // Bit length of the final encoder state (the stream's first 4 bytes).
    let mut state_bits = [0; 33];
    for round in 0..3000 {
        let m = ModelCode {
            shape: if rng.next_u64() & 1 == 0 {
                Shape::Gauss
            } else {
                Shape::Laplace
            },
            k: (rng.next_u64() % 63) as u8,
            tail: (rng.next_u64() % 8) as u8,
            esc: (rng.next_u64() % 4) as u8,
            q: rng.next_u64() as u8,
        };
        let n = 1 + (rng.next_u64() % 300) as usize;
        let shift = rng.next_u64() % 64;
        let data: Vec<i64> = (0..n)
            .map(|_| match rng.next_u64() % 8 {
                0 => rng.next_u64() as i64,
                1 => (rng.next_u64() as i64) >> shift,
                2 => [i64::MIN, i64::MAX, 0, -1][(rng.next_u64() % 4) as usize],
                _ => (rng.normal() * 2f64.powi((shift % 63) as i32)) as i64,
            })
            .collect();
        let buf = encode_with(&m, &data);
        let back = decode_all(&buf, n);
        assert_eq!(back.as_deref(), Ok(&data[..]), "round {round} {m:?}");
        let stream = &buf[m.params_len()..];
        let x = u32::from_be_bytes(*stream.first_chunk::<4>().unwrap());
        state_bits[bit_len(u64::from(x)) as usize] += 1;
        // One value fewer or more than encoded is always an error.
        assert!(decode_all(&buf, n - 1).is_err(), "round {round}: n - 1");
        assert!(decode_all(&buf, n + 1).is_err(), "round {round}: n + 1");
    }
    println!("final state bit lengths: {state_bits:?}");
    assert_eq!(state_bits[..=STATE_BITS as usize].iter().sum::<i32>(), 0);
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(7);
    let mut errors = 0;
    for round in 0..20000 {
        let len = (rng.next_u64() % 80) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if round % 2 == 0 && buf.len() >= 3 {
            // Mostly valid parameters so the coder itself gets exercised.
            buf[0] = (buf[0] % 63) | (buf[0] & 0xc0);
            buf[2] &= 0x1f;
        }
        let n = 1 + (rng.next_u64() % 200) as usize;
        if decode_all(&buf, n).is_err() {
            errors += 1;
        }
    }
    println!("garbage: {errors} of 20000 random inputs rejected");
    // Valid streams with a few flipped bits, decoded with too few, the
    // right number or too many values.
    let mut errors = 0;
    let mut total = 0;
    for seed in 0..300u64 {
        let n = 1 + (rng.next_u64() % 500) as usize;
        let data = match seed % 3 {
            0 => normal_data(seed, n, 50.0),
            1 => laplace_data(seed, n, 2.0),
            _ => (0..n)
                .map(|_| (rng.next_u64() as i64) >> (seed % 64))
                .collect(),
        };
        let (m, _) = ModelCode::choose(&data).unwrap();
        let buf = encode_with(&m, &data);
        for _ in 0..20 {
            let mut bad = buf.clone();
            for _ in 0..1 + rng.next_u64() % 3 {
                let i = (rng.next_u64() % bad.len() as u64) as usize;
                bad[i] ^= 1 << (rng.next_u64() % 8);
            }
            let count = match rng.next_u64() % 3 {
                0 => n - 1,
                1 => n,
                _ => n + 1,
            };
            total += 1;
            match decode_all(&bad, count) {
                Err(_) => errors += 1,
                Ok(v) => assert!(count != n || v != data || bad == buf),
            }
        }
    }
    println!("garbage: {errors} of {total} corrupted streams rejected");
}

#[test]
fn truncation_is_detected() {
    let mut checked = 0;
    let mut rng = Rng(13);
    for seed in 0..400u64 {
        let n = 1 + (rng.next_u64() % 1000) as usize;
        let data = match seed % 5 {
            0 => normal_data(seed, n, 100.0),
            1 => laplace_data(seed, n, 3.0),
            2 => normal_data(seed, n, 1e9),
            3 => normal_data(seed, n, 0.7),
            _ => (0..n).map(|_| rng.next_u64() as i64).collect(),
        };
        let (m, _) = ModelCode::choose(&data).unwrap();
        let buf = encode_with(&m, &data);
        let stream_len = buf.len() - m.params_len();
        let cuts = (1..=stream_len.min(16))
            .chain((0..8).map(|_| 1 + (rng.next_u64() % stream_len as u64) as usize));
        for cut in cuts {
            let short = &buf[..buf.len() - cut];
            assert!(
                decode_all(short, data.len()).is_err(),
                "seed {seed}: truncation by {cut} of {} accepted",
                buf.len()
            );
            checked += 1;
        }
        // Trailing bytes are rejected too.
        let mut long = buf.clone();
        long.push(0);
        assert!(decode_all(&long, data.len()).is_err());
    }
    println!("truncation: {checked} truncated streams rejected");
}
