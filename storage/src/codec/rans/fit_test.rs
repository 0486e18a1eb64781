//! Model selection: `log2_fix`, the coded size against the entropy, and `choose`'s size
//! estimate on assorted distributions.

use super::*;
use crate::codec::rans::TOTAL;
use crate::codec::rans::tests::{Rng, decode_all, encode_with, normal_data, roundtrip};

#[test]
fn log2_fix_is_accurate() {
    for x in (1..=TOTAL)
        .step_by(7)
        .chain([1, 2, 3, TOTAL - 1, TOTAL, 1 << 31])
    {
        let err = f64::from(log2_fix(x)) / f64::from(1u32 << 24) - f64::from(x).log2();
        assert!(err.abs() < 3e-6, "log2({x}): {err}");
    }
}

/// Ideal cost in bits per value of the integer-rounded Normal(0, sigma):
/// the entropy of the discretised distribution.
fn discretized_normal_entropy(sigma: f64) -> f64 {
    let lim = (12.0 * sigma).ceil() as i64;
    (-lim..=lim)
        .map(|x| p_normal(x, sigma))
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.log2())
        .sum()
}

/// Probability of integer x under round(N(0, sigma)).
fn p_normal(x: i64, sigma: f64) -> f64 {
    let pdf =
        |t: f64| (-0.5 * (t / sigma).powi(2)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    let steps = 16;
    let dx = 1.0 / f64::from(steps);
    let mut p = pdf(x as f64 - 0.5) + pdf(x as f64 + 0.5);
    for j in 1..steps {
        let t = x as f64 - 0.5 + f64::from(j) * dx;
        p += pdf(t) * if j % 2 == 1 { 4.0 } else { 2.0 };
    }
    p * dx / 3.0
}

/// Coded size vs. the ideal `n * H` of round(N(0, 100)) (the entropy of
/// the true distribution; the sample's own cost under the true model is
/// printed too, it differs from `n * H` by sampling noise).
#[test]
fn efficiency_normal() {
    let sigma = 100.0;
    let h = discretized_normal_entropy(sigma);
    println!("entropy of round(N(0, {sigma})): H = {h:.5} bits/value");
    for (n, slack) in [(8640usize, 1.004), (720, 1.015)] {
        let (mut total_bytes, mut total_ideal) = (0.0, 0.0);
        for seed in 0..8u64 {
            let data = normal_data(seed * 77 + 5, n, sigma);
            let (m, bytes) = roundtrip(&data);
            let ideal = n as f64 * h / 8.0;
            let sample: f64 = data
                .iter()
                .map(|&x| -p_normal(x, sigma).log2())
                .sum::<f64>()
                / 8.0;
            println!(
                "n {n:>5} seed {seed}: {bytes} bytes; n*H/8 = {ideal:.1} (ratio {:.5}); \
                 sample under true model {sample:.1} (ratio {:.5}); {m:?}",
                bytes as f64 / ideal,
                bytes as f64 / sample,
            );
            assert!(
                bytes as f64 <= slack * ideal + 16.0,
                "n {n}: {bytes} bytes vs ideal {ideal:.1}"
            );
            total_bytes += bytes as f64;
            total_ideal += ideal;
        }
        println!(
            "n {n:>5}: mean bytes / (n*H/8) = {:.5}",
            total_bytes / total_ideal
        );
    }
}

/// `choose` on assorted distributions: round trip and size estimate.
#[test]
fn roundtrip_assorted() {
    let mut rng = Rng(11);
    let mut worst = (0i64, 0i64);
    for round in 0..400 {
        let n = 1 + (rng.next_u64() % 3000) as usize;
        let scale = 2f64.powf((rng.next_u64() % 600) as f64 / 10.0);
        let p_out = [0.0, 0.001, 0.02, 0.3][round % 4];
        let offset = [0i64, 1, -7, 1 << 40][(round / 4) % 4];
        let data: Vec<i64> = (0..n)
            .map(|_| {
                let x = if rng.uniform() < p_out {
                    (rng.next_u64() as i64) >> (rng.next_u64() % 64)
                } else if round % 3 == 0 {
                    (rng.laplace() * scale) as i64
                } else if round % 3 == 1 {
                    (rng.normal() * scale) as i64
                } else {
                    ((rng.uniform() - 0.5) * scale) as i64
                };
                x.wrapping_add(offset)
            })
            .collect();
        let (m, est) = ModelCode::choose(&data).unwrap();
        let buf = encode_with(&m, &data);
        assert_eq!(decode_all(&buf, n).as_deref(), Ok(&data[..]), "{m:?}");
        let d = est as i64 - buf.len() as i64;
        worst = (worst.0.min(d), worst.1.max(d));
    }
    println!("estimate - actual bytes within {worst:?}");
    assert!(worst.0 >= -2 && worst.1 <= 4);
}
