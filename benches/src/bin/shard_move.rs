//! What moving one shard costs at each end, in separate processes (so each peak RSS is its
//! own): `benches/shard_move.sh` runs the three steps and prints the table.
//!
//! ```text
//!  shard_move fill DIR BYTES      a one-shard engine in DIR, filled with random-valued series
//!                                 (they compress badly: ~9 bytes a sample) until its dump
//!                                 would be about BYTES
//!  shard_move dump DIR FILE       Engine::dump_shard_to FILE      (the sender's side)
//!  shard_move install DIR FILE    Engine::install_shard_from FILE (the receiver's side)
//! ```
//! Each step prints one JSON line: bytes, seconds, and the process' peak RSS (VmHWM) before
//! and after the step (the engine's own memory at open is in the first). The network between
//! them adds one chunk (at most 1 MiB) on each side (`storage/docs/format/snapshot.md`).

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use cairn_model::{Sample, Tenant, WriteBatchBuilder};
use cairn_storage::{Engine, StorageConfig};
use rand::Rng;

const SERIES: usize = 20_000;
const SAMPLES_PER_BATCH: i64 = 50;

fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn open(dir: &Path) -> Engine {
    Engine::open(StorageConfig {
        data_dir: dir.to_path_buf(),
        shards: 1,
        retention_ms: 0,
        ..Default::default()
    })
    .expect("opening the engine")
}

fn parse_bytes(s: &str) -> u64 {
    cairn_model::units::parse_bytes(s).unwrap_or_else(|| panic!("{s:?} is not a size"))
}

fn fill(dir: &Path, target: u64) {
    let e = open(dir);
    let mut rng = rand::thread_rng();
    let tenant = Tenant::new("bench").expect("tenant");
    let started = Instant::now();
    let (mut t, mut samples, mut batches) = (0i64, 0u64, 0u64);
    // About 9 bytes per random sample in chunks, plus the series' keys.
    while samples * 9 < target {
        let mut b = WriteBatchBuilder::new(tenant.clone());
        for i in 0..SERIES {
            let host = format!("host{i}");
            b.begin_group([("host", host.as_str())]).expect("labels");
            let values: Vec<Sample> = (0..SAMPLES_PER_BATCH)
                .map(|k| Sample::new((t + k) * 10_000, rng.r#gen::<f64>() * 1e6))
                .collect();
            b.add_series("noise", values);
        }
        e.apply_next(0, b.finish()).expect("apply");
        e.checkpoint(0, None).expect("checkpoint");
        t += SAMPLES_PER_BATCH;
        samples += SERIES as u64 * SAMPLES_PER_BATCH as u64;
        batches += 1;
    }
    e.flush_memtables().expect("flush");
    println!(
        "{{\"step\":\"fill\",\"series\":{SERIES},\"samples\":{samples},\"batches\":{batches},\"seconds\":{:.1}}}",
        started.elapsed().as_secs_f64()
    );
}

fn dump(dir: &Path, file: &Path) {
    let e = open(dir);
    let before = peak_rss_bytes();
    let started = Instant::now();
    let mut out = BufWriter::new(std::fs::File::create(file).expect("creating the dump file"));
    let n = e.dump_shard_to(0, b"bench", &mut out).expect("dump");
    out.flush().expect("flush");
    report("dump", n, started, before);
}

fn install(dir: &Path, file: &Path) {
    let e = open(dir);
    let before = peak_rss_bytes();
    let started = Instant::now();
    let mut input = BufReader::new(std::fs::File::open(file).expect("opening the dump file"));
    let n = e
        .install_shard_from(0, &mut input, b"bench")
        .expect("install");
    report("install", n, started, before);
}

fn report(step: &str, bytes: u64, started: Instant, before: u64) {
    println!(
        "{{\"step\":\"{step}\",\"bytes\":{bytes},\"seconds\":{:.2},\"peak_rss_at_open\":{before},\"peak_rss\":{}}}",
        started.elapsed().as_secs_f64(),
        peak_rss_bytes()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: shard_move fill DIR BYTES | dump DIR FILE | install DIR FILE");
            std::process::exit(2)
        })
    };
    let dir = PathBuf::from(arg(2));
    match arg(1) {
        "fill" => fill(&dir, parse_bytes(arg(3))),
        "dump" => dump(&dir, Path::new(arg(3))),
        "install" => install(&dir, Path::new(arg(3))),
        other => {
            eprintln!("shard_move: unknown step {other:?}");
            std::process::exit(2)
        }
    }
}
