//! PromQL evaluation on TSBS cpu-only data (100 hosts × 10 fields × 1 day every 10 s,
//! 8.64 M samples) in a real RocksDB-backed storage engine, flushed to disk: the queries of
//! `benches/compare.sh --queries`, and the hot range functions and aggregations alone on
//! in-memory windows.

use std::hint::black_box;
use std::sync::{Arc, OnceLock};

use cairn_benches::LocalQuerier;
use cairn_ingest::influx::{Precision, parse_body_into};
use cairn_model::{Labels, Sample, Tenant, WriteBatchBuilder};
use cairn_query::functions::RangeFunction;
use cairn_query::{MemQuerier, QueryConfig, QueryEngine};
use cairn_storage::{Engine, StorageConfig};
use cairn_tsbs::{CpuGenerator, TsbsConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SEC: i64 = 1_000_000_000;
const START_S: i64 = 1_700_000_000;
const DAY_S: i64 = 86_400;

fn load(engine: &Engine) {
    let cfg = TsbsConfig {
        hosts: 100,
        start_ns: START_S * SEC,
        interval_ns: 10 * SEC,
        points: (DAY_S / 10) as u64,
        seed: 1,
        steps: Default::default(),
    };
    let mut generator = CpuGenerator::new(cfg);
    let mut buf = Vec::new();
    while !generator.is_done() {
        buf.clear();
        generator.fill(&mut buf, 10_000);
        let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
        let report = parse_body_into(&buf, &mut b, Precision::Ns, None, 0);
        assert_eq!(report.rejected, 0, "generated data must parse");
        engine.apply_next(0, b.finish()).expect("write");
    }
    engine.flush_unreplicated().expect("flush");
}

/// The loaded engine, built on first use so that a filtered run of the other benches
/// does not pay for it.
struct Fixture {
    _dir: tempfile::TempDir,
    querier: LocalQuerier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Arc::new(
            Engine::open(StorageConfig {
                data_dir: dir.path().to_path_buf(),
                shards: 1,
                ..Default::default()
            })
            .expect("open engine"),
        );
        load(&engine);
        Fixture {
            _dir: dir,
            querier: LocalQuerier::new(engine, Tenant::default_tenant(), vec![0]),
        }
    })
}

fn queries(c: &mut Criterion) {
    let e = QueryEngine::new(QueryConfig::default());
    let end = (START_S + DAY_S) * 1000;
    let h = 3_600_000;
    let mut g = c.benchmark_group("query");
    g.sample_size(20);
    let cases: [(&str, &str, i64, i64); 4] = [
        (
            "max_over_time one host 12h step 60s",
            r#"max_over_time(cpu_usage_user{hostname="host_1"}[1h])"#,
            12 * h,
            60_000,
        ),
        (
            "avg by region 24h step 5m",
            "avg by (region) (cpu_usage_user)",
            24 * h,
            300_000,
        ),
        (
            "max by hostname > 90 24h step 5m",
            "max by (hostname) (cpu_usage_user) > 90",
            24 * h,
            300_000,
        ),
        (
            "rate all hosts 6h step 1m",
            "rate(cpu_usage_idle[5m])",
            6 * h,
            60_000,
        ),
    ];
    for (name, query, span, step) in cases {
        g.bench_function(name, |b| {
            let q = &fixture().querier;
            b.iter(|| {
                black_box(
                    e.range(q, query, end - span, end, step, None)
                        .expect("query"),
                )
            })
        });
    }
    g.bench_function("topk avg_over_time 1h instant", |b| {
        let q = &fixture().querier;
        b.iter(|| {
            black_box(
                e.instant(q, "topk(5, avg_over_time(cpu_usage_system[1h]))", end, None)
                    .expect("query"),
            )
        })
    });
    g.finish();
}

/// A TSBS-like random walk of `n` samples every 10 s.
fn walk(n: usize) -> Vec<Sample> {
    let mut v = 50.0;
    (0..n)
        .map(|i| {
            v += ((i * 7919) % 13) as f64 / 10.0 - 0.6;
            Sample::new(i as i64 * 10_000, v)
        })
        .collect()
}

fn range_functions(c: &mut Criterion) {
    let window = walk(360); // 1 h of 10 s samples
    let mut g = c.benchmark_group("range_function");
    g.throughput(Throughput::Elements(window.len() as u64));
    for f in [
        RangeFunction::Rate,
        RangeFunction::AvgOverTime,
        RangeFunction::MaxOverTime,
        RangeFunction::QuantileOverTime,
        RangeFunction::Deriv,
    ] {
        let params: &[f64] = if f == RangeFunction::QuantileOverTime {
            &[0.9]
        } else {
            &[]
        };
        g.bench_function(format!("{f:?} over 360 samples"), |b| {
            b.iter(|| black_box(f.eval(black_box(&window), -1, 3_600_000 - 1, 3_600_000, params)))
        });
    }
    g.finish();
}

fn aggregations(c: &mut Criterion) {
    // 1,000 series in 10 groups, one sample each, evaluated as an instant query.
    let mut q = MemQuerier::new();
    for i in 0..1000 {
        let labels = Labels::from_pairs([
            ("__name__", "m".to_string()),
            ("group", format!("g{}", i % 10)),
            ("instance", format!("i{i}")),
        ])
        .expect("labels");
        q.add(labels, &[Sample::new(0, i as f64)]);
    }
    let e = QueryEngine::new(QueryConfig::default());
    let mut g = c.benchmark_group("aggregation");
    g.throughput(Throughput::Elements(1000));
    for query in [
        "sum by (group) (m)",
        "avg by (group) (m)",
        "quantile by (group) (0.9, m)",
        "topk by (group) (3, m)",
        "count_values(\"v\", m)",
    ] {
        g.bench_function(format!("{query} over 1000 series"), |b| {
            b.iter(|| black_box(e.instant(&q, query, 0, None).expect("query")))
        });
    }
    g.finish();
}

criterion_group!(benches, range_functions, aggregations, queries);
criterion_main!(benches);
