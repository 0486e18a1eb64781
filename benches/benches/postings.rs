//! Postings: sorted-list intersection in memory, and matcher selection on a real RocksDB index
//! of TSBS-like series (1,000 hosts × 10 metrics).

use std::hint::black_box;

use cairn_model::{MatchOp, Matcher, Tenant, WriteBatchBuilder};
use cairn_storage::index::{intersect, subtract, union_many};
use cairn_storage::{Engine, StorageConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn lists(n: u64, step_a: u64, step_b: u64) -> (Vec<u64>, Vec<u64>) {
    (
        (0..n).map(|i| i * step_a).collect(),
        (0..n).map(|i| i * step_b).collect(),
    )
}

fn in_memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("postings");
    let (a, b) = lists(100_000, 2, 3);
    g.throughput(Throughput::Elements(200_000));
    g.bench_function("intersect 100k x 100k", |bench| {
        bench.iter(|| black_box(intersect(black_box(&a), black_box(&b))))
    });
    let small: Vec<u64> = (0..100).map(|i| i * 997).collect();
    g.throughput(Throughput::Elements(100));
    g.bench_function("intersect 100 x 100k (galloping)", |bench| {
        bench.iter(|| black_box(intersect(black_box(&small), black_box(&a))))
    });
    g.throughput(Throughput::Elements(200_000));
    g.bench_function("subtract 100k - 100k", |bench| {
        bench.iter(|| black_box(subtract(black_box(&a), black_box(&b))))
    });
    g.bench_function("union 2 x 100k", |bench| {
        bench.iter(|| black_box(union_many(vec![a.clone(), b.clone()])))
    });
    g.finish();
}

fn on_rocksdb(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(StorageConfig {
        data_dir: dir.path().to_path_buf(),
        shards: 1,
        ..Default::default()
    })
    .expect("open engine");
    let metrics = cairn_tsbs::FIELDS;
    let regions = ["eu-west-1", "us-east-1", "ap-south-1"];
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    for h in 0..1000 {
        let host = format!("host_{h}");
        let region = regions[h % 3];
        b.begin_group([("hostname", host.as_str()), ("region", region)])
            .expect("labels");
        for m in metrics {
            b.add(&format!("cpu_{m}"), 1, 1.0);
        }
    }
    engine.apply_next(0, b.finish()).expect("write");
    engine.flush_unreplicated().expect("flush");
    let mut g = c.benchmark_group("index select (10k series)");
    let name = Matcher::equal("__name__", "cpu_usage_user");
    let host = Matcher::equal("hostname", "host_7");
    let region = Matcher::equal("region", "eu-west-1");
    let re = Matcher::new(MatchOp::RegexMatch, "hostname", "host_1.*").expect("regex");
    let cases: Vec<(&str, Vec<Matcher>)> = vec![
        ("name + hostname", vec![name.clone(), host]),
        ("name + region", vec![name.clone(), region]),
        ("name + hostname regex", vec![name, re]),
    ];
    for (label, m) in cases {
        g.bench_function(label, |bench| {
            bench.iter(|| {
                black_box(
                    engine
                        .select("default", &[0], black_box(&m), i64::MIN, i64::MAX)
                        .expect("select"),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, in_memory, on_rocksdb);
criterion_main!(benches);
