//! Line protocol ingest: parse a TSBS cpu-only body and build its `WriteBatch`.
//!
//! The body is 1,000 hosts × 10 intervals of TSBS' `cpu` measurement (10 tags, 10 float
//! fields), 10,000 lines and 100,000 samples, about as much as one TSBS load request. Three
//! measurements: bytes/s and samples/s of `parse_body` (parse + batch), and bytes/s of the bare
//! parser, to tell the two costs apart.

use std::fmt::Write as _;
use std::hint::black_box;

use cairn_ingest::influx::{Precision, parse_body};
use cairn_ingest::line_protocol::Parser;
use cairn_model::Tenant;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const HOSTS: usize = 1_000;
const INTERVALS: usize = 10;
use cairn_tsbs::FIELDS;

/// A TSBS cpu-only body: hosts in the inner loop, as TSBS writes them.
fn tsbs_cpu_only_body() -> Vec<u8> {
    const REGIONS: [(&str, [&str; 3]); 3] = [
        ("eu-west-1", ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ("us-east-1", ["us-east-1a", "us-east-1b", "us-east-1e"]),
        (
            "ap-northeast-1",
            ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
        ),
    ];
    const OS: [&str; 3] = ["Ubuntu16.04LTS", "Ubuntu15.10", "Ubuntu16.10"];
    const TEAMS: [&str; 4] = ["NYC", "SF", "LON", "CHI"];
    let mut rng = StdRng::seed_from_u64(42);
    let hosts: Vec<String> = (0..HOSTS)
        .map(|h| {
            let (region, dcs) = REGIONS[h % REGIONS.len()];
            format!(
                "cpu,hostname=host_{h},region={region},datacenter={},rack={},os={},arch={},\
                 team={},service={},service_version={},service_environment={}",
                dcs[rng.gen_range(0..3)],
                rng.gen_range(0..100),
                OS[rng.gen_range(0..3)],
                if rng.gen_bool(0.5) { "x64" } else { "x86" },
                TEAMS[rng.gen_range(0..4)],
                rng.gen_range(0..20),
                rng.gen_range(0..2),
                if rng.gen_bool(0.5) {
                    "production"
                } else {
                    "staging"
                },
            )
        })
        .collect();
    let mut body = String::with_capacity(HOSTS * INTERVALS * 400);
    for i in 0..INTERVALS {
        let t = 1_451_606_400_000_000_000i64 + i as i64 * 10_000_000_000;
        for host in &hosts {
            body.push_str(host);
            for (f, name) in FIELDS.iter().enumerate() {
                let v = rng.gen_range(0..10_000) as f64 / 100.0;
                let sep = if f == 0 { ' ' } else { ',' };
                let _ = write!(body, "{sep}{name}={v}");
            }
            let _ = writeln!(body, " {t}");
        }
    }
    body.into_bytes()
}

fn bench_line_protocol(c: &mut Criterion) {
    let body = tsbs_cpu_only_body();
    let samples = (HOSTS * INTERVALS * FIELDS.len()) as u64;
    let tenant = Tenant::default_tenant();
    let (wb, report) = parse_body(&body, tenant.clone(), Precision::Ns, None, 0);
    assert_eq!(report.samples as u64, samples, "{:?}", report.first_error);
    assert_eq!(wb.sample_count() as u64, samples);

    let mut g = c.benchmark_group("line_protocol");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("tsbs_cpu_parse_and_batch_bytes", |b| {
        b.iter(|| parse_body(black_box(&body), tenant.clone(), Precision::Ns, None, 0))
    });
    g.throughput(Throughput::Elements(samples));
    g.bench_function("tsbs_cpu_parse_and_batch_samples", |b| {
        b.iter(|| parse_body(black_box(&body), tenant.clone(), Precision::Ns, None, 0))
    });
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("tsbs_cpu_parse_only_bytes", |b| {
        b.iter(|| {
            let mut p = Parser::new(black_box(&body));
            let mut fields = 0usize;
            while let Some(line) = p.next_line() {
                if let Ok(line) = line {
                    fields += line.fields.len();
                }
            }
            fields
        })
    });
    g.finish();
}

criterion_group!(benches, bench_line_protocol);
criterion_main!(benches);
