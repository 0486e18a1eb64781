//! Chunk codec benchmarks: encode/decode throughput of Gorilla, decimal and `encode_chunk`
//! (which tries both), and the head chunk's push/read/seal, on four kinds of series:
//!
//! - `tsbs`: TSBS cpu-only-like gauges: per series a random walk from U[0,100] with N(0,1)
//!   steps, clamped to [0,100], rounded to 2 decimals, every 10 s;
//! - `counter`: a monotonic counter growing by 900..1100 per 10 s;
//! - `constant`: the same value every 10 s;
//! - `random`: full-precision floats, U[0,100).
//!
//! Each data set is 200 chunks of 120 samples (the head's chunks), plus `tsbs-day`: 20 chunks
//! of 8,640 samples of the `tsbs` kind, a day at 10 s as a day merge writes it (where decimal
//! range-codes its residuals). A table of bytes/sample (header included) is printed to stderr
//! before the benchmarks run.
//!
//! `cargo bench -p cairn-benches --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use cairn_model::Sample;
use cairn_storage::codec::{
    ChunkCodec, DecimalCodec, GorillaCodec, StreamCodec, chunk_header, decode_chunk, encode_chunk,
};
use cairn_storage::head_chunk::HeadChunk;
use criterion::{BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHUNKS: usize = 200;
const CHUNK_LEN: usize = 120;
const INTERVAL_MS: i64 = 10_000;
const START_MS: i64 = 1_700_000_000_000;

struct DataSet {
    name: &'static str,
    chunks: Vec<Vec<Sample>>,
}

impl DataSet {
    fn points(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }
}

/// A standard normal variate by Box-Muller.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `chunks` chunks, each from its own series of `len` values.
fn data_set(
    name: &'static str,
    chunks: usize,
    len: usize,
    mut series: impl FnMut(&mut StdRng, usize) -> Vec<f64>,
) -> DataSet {
    let mut rng = StdRng::seed_from_u64(0xca12);
    let chunks = (0..chunks)
        .map(|_| {
            let values = series(&mut rng, len);
            let times = (0..).map(|i| START_MS + i * INTERVAL_MS);
            times.zip(values).map(|(t, v)| Sample::new(t, v)).collect()
        })
        .collect();
    DataSet { name, chunks }
}

/// A TSBS cpu-only-like gauge of `n` values.
fn tsbs(rng: &mut StdRng, n: usize) -> Vec<f64> {
    let mut x = rng.gen_range(0.0..100.0);
    (0..n)
        .map(|_| {
            x = (x + normal(rng)).clamp(0.0, 100.0);
            (x * 100.0).round() / 100.0
        })
        .collect()
}

fn data_sets() -> Vec<DataSet> {
    vec![
        data_set("tsbs", CHUNKS, CHUNK_LEN, tsbs),
        data_set("tsbs-day", 20, 8640, tsbs),
        data_set("counter", CHUNKS, CHUNK_LEN, |rng, n| {
            let mut c = rng.gen_range(0..1_000_000) as f64;
            (0..n)
                .map(|_| {
                    c += rng.gen_range(900..=1100) as f64;
                    c
                })
                .collect()
        }),
        data_set("constant", CHUNKS, CHUNK_LEN, |_, n| vec![1.0; n]),
        data_set("random", CHUNKS, CHUNK_LEN, |rng, n| {
            (0..n).map(|_| rng.r#gen::<f64>() * 100.0).collect()
        }),
    ]
}

/// Chunk bytes per sample if every chunk used `codec` (None if it refuses some chunk).
fn bytes_per_sample(ds: &DataSet, codec: &dyn ChunkCodec) -> Option<f64> {
    let mut total = 0;
    for chunk in &ds.chunks {
        let mut buf = Vec::new();
        let header = encode_chunk(chunk, &mut buf).ok()?.header_len;
        buf.clear();
        codec.encode(chunk, &mut buf).ok()?;
        total += header + buf.len();
    }
    Some(total as f64 / ds.points() as f64)
}

fn print_table(sets: &[DataSet]) {
    eprintln!(
        "\nchunk bytes/sample (120-sample chunks, tsbs-day 8,640; 10 s interval, header included)"
    );
    eprintln!(
        "{:<10} {:>9} {:>9} {:>9} {:>13}  chosen",
        "data", "gorilla", "decimal", "stream", "encode_chunk"
    );
    let fmt = |x: Option<f64>| x.map_or("refused".to_string(), |x| format!("{x:.3}"));
    for ds in sets {
        let mut total = 0;
        let (mut gorilla, mut decimal) = (0, 0);
        for chunk in &ds.chunks {
            let mut buf = Vec::new();
            let h = encode_chunk(chunk, &mut buf).expect("valid chunk");
            total += buf.len();
            if h.codec == GorillaCodec::ID {
                gorilla += 1;
            } else {
                decimal += 1;
            }
        }
        eprintln!(
            "{:<10} {:>9} {:>9} {:>9} {:>13.3}  decimal {decimal}, gorilla {gorilla}",
            ds.name,
            fmt(bytes_per_sample(ds, &GorillaCodec)),
            fmt(bytes_per_sample(ds, &DecimalCodec)),
            fmt(bytes_per_sample(ds, &StreamCodec)),
            total as f64 / ds.points() as f64,
        );
    }
    eprintln!();
}

fn bench_codecs(c: &mut Criterion, sets: &[DataSet]) {
    let codecs: [&dyn ChunkCodec; 3] = [&GorillaCodec, &DecimalCodec, &StreamCodec];
    for ds in sets {
        let mut group = c.benchmark_group(format!("encode/{}", ds.name));
        group.throughput(Throughput::Elements(ds.points()));
        let mut buf = Vec::with_capacity(4096);
        for codec in codecs {
            if bytes_per_sample(ds, codec).is_none() {
                continue;
            }
            group.bench_function(codec.name(), |b| {
                b.iter(|| {
                    for chunk in &ds.chunks {
                        buf.clear();
                        codec.encode(black_box(chunk), &mut buf).expect("encodes");
                    }
                    black_box(buf.len())
                })
            });
        }
        group.bench_function("encode_chunk", |b| {
            b.iter(|| {
                for chunk in &ds.chunks {
                    buf.clear();
                    encode_chunk(black_box(chunk), &mut buf).expect("encodes");
                }
                black_box(buf.len())
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("decode/{}", ds.name));
        group.throughput(Throughput::Elements(ds.points()));
        let mut out = Vec::with_capacity(CHUNK_LEN);
        for codec in codecs {
            let payloads: Option<Vec<Vec<u8>>> = ds
                .chunks
                .iter()
                .map(|chunk| {
                    let mut p = Vec::new();
                    codec.encode(chunk, &mut p).ok().map(|()| p)
                })
                .collect();
            let Some(payloads) = payloads else { continue };
            group.bench_function(codec.name(), |b| {
                b.iter(|| {
                    for (chunk, p) in ds.chunks.iter().zip(&payloads) {
                        out.clear();
                        codec
                            .decode(chunk[0].t, chunk.len(), black_box(p), &mut out)
                            .expect("decodes");
                    }
                    black_box(out.len())
                })
            });
        }
        let encoded: Vec<Vec<u8>> = ds
            .chunks
            .iter()
            .map(|chunk| {
                let mut buf = Vec::new();
                encode_chunk(chunk, &mut buf).expect("encodes");
                buf
            })
            .collect();
        group.bench_function("decode_chunk", |b| {
            b.iter(|| {
                for (chunk, bytes) in ds.chunks.iter().zip(&encoded) {
                    out.clear();
                    decode_chunk(black_box(bytes), chunk[0].t, &mut out).expect("decodes");
                }
                black_box(out.len())
            })
        });
        group.bench_function("chunk_header", |b| {
            b.iter(|| {
                encoded
                    .iter()
                    .map(|bytes| chunk_header(black_box(bytes)).expect("header").span)
                    .sum::<u64>()
            })
        });
        group.finish();
    }
}

fn bench_head_chunk(c: &mut Criterion, sets: &[DataSet]) {
    let mut group = c.benchmark_group("head_chunk");
    for ds in sets
        .iter()
        .filter(|ds| matches!(ds.name, "tsbs" | "random"))
    {
        group.throughput(Throughput::Elements(ds.points()));
        group.bench_function(BenchmarkId::new("push", ds.name), |b| {
            b.iter(|| {
                let mut bytes = 0;
                for chunk in &ds.chunks {
                    let mut head = HeadChunk::new(chunk[0]);
                    for &s in &chunk[1..] {
                        head.push(black_box(s));
                    }
                    bytes += head.heap_bytes();
                }
                black_box(bytes)
            })
        });
        let heads: Vec<HeadChunk> = ds
            .chunks
            .iter()
            .map(|chunk| {
                let mut head = HeadChunk::new(chunk[0]);
                chunk[1..].iter().for_each(|&s| head.push(s));
                head
            })
            .collect();
        let mut out = Vec::with_capacity(CHUNK_LEN);
        group.bench_function(BenchmarkId::new("samples", ds.name), |b| {
            b.iter(|| {
                for head in &heads {
                    out.clear();
                    head.samples(&mut out).expect("decodes");
                }
                black_box(out.len())
            })
        });
        let mut buf = Vec::with_capacity(4096);
        group.bench_function(BenchmarkId::new("push+seal", ds.name), |b| {
            b.iter(|| {
                for chunk in &ds.chunks {
                    let mut head = HeadChunk::new(chunk[0]);
                    chunk[1..].iter().for_each(|&s| head.push(black_box(s)));
                    buf.clear();
                    head.seal(&mut buf).expect("seals");
                }
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

fn main() {
    let sets = data_sets();
    print_table(&sets);
    let mut c = Criterion::default().configure_from_args();
    bench_codecs(&mut c, &sets);
    bench_head_chunk(&mut c, &sets);
    c.final_summary();
}
