//! A deterministic generator of TSBS' `cpu-only` use case in InfluxDB line protocol, shared by
//! `cairn bench ingest` (in `cairn-node`) and the criterion benches (`cairn-benches`), so that
//! neither depends on the other. It only makes bytes: no I/O.
//!
//! Each host carries TSBS' ten tags (`hostname` plus nine chosen per host by the seeded RNG
//! from TSBS' lists) and ten `usage_*` fields, each a random walk: uniform start in [0, 100],
//! Normal(0, 1) steps (as TSBS draws them; [`Steps::Uniform`] draws them from [-1, 1]
//! instead), clamped to [0, 100], printed rounded to hundredths. Lines come time-major, as
//! TSBS writes them: for each timestamp, every host.
//!
//! The step distribution sets the data's entropy, and so the floor of any server's bytes per
//! sample: the hundredths' steps cost 8.67 bits (1.084 bytes) each with Normal(0, 1) steps and
//! 7.65 bits (0.957 bytes) with uniform ones.
//!
//! ```text
//!  seed ─► StdRng ─► hosts' tags (once) ─► per timestamp, per host: 10 walks step ─► line
//!  cpu,hostname=host_0,region=eu-west-1,...,service_environment=test usage_user=58.13,... 1700000000000000000
//! ```
//!
//! Same seed and configuration give the same bytes, so Cairn and its peers load identical data.
//! Formatting is by hand (integer hundredths, no float printing) so that one core makes far more
//! samples per second than a server on the same machine takes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// TSBS' regions and their datacenters (`devops/host.go`).
const REGIONS: &[(&str, &[&str])] = &[
    (
        "us-east-1",
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"],
    ),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const OSES: &[&str] = &["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES: &[&str] = &["x64", "x86"];
const TEAMS: &[&str] = &["SF", "NYC", "LON", "CHI"];
const ENVIRONMENTS: &[&str] = &["production", "staging", "test"];
/// TSBS draws rack, service and service_version as numbers below these.
const RACKS: u32 = 100;
const SERVICES: u32 = 20;
const SERVICE_VERSIONS: u32 = 2;

/// The measurement every line belongs to.
pub const MEASUREMENT: &str = "cpu";
/// The ten fields of TSBS' `cpu` measurement, in its order.
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
/// Tags per host, `hostname` included.
pub const TAGS: usize = 10;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsbsConfig {
    pub hosts: u32,
    /// First timestamp, nanoseconds since the epoch.
    pub start_ns: i64,
    /// Step between timestamps, nanoseconds (> 0).
    pub interval_ns: i64,
    /// Number of timestamps.
    pub points: u64,
    pub seed: u64,
    pub steps: Steps,
}

/// How each random walk steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Steps {
    /// Normal(0, 1), as TSBS' cpu-only generator.
    #[default]
    Normal,
    /// Uniform in [-1, 1].
    Uniform,
}

impl std::str::FromStr for Steps {
    type Err = String;

    /// `normal` or `uniform` (the values of `cairn bench ingest --steps`).
    fn from_str(s: &str) -> Result<Steps, String> {
        match s {
            "normal" => Ok(Steps::Normal),
            "uniform" => Ok(Steps::Uniform),
            other => Err(format!(
                "unknown step distribution {other:?}: expected normal or uniform"
            )),
        }
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Steps::Normal => "normal",
            Steps::Uniform => "uniform",
        })
    }
}

impl TsbsConfig {
    /// Timestamps for `duration_ns` of data: `start, start + interval, ...` strictly before
    /// `start + duration`.
    pub fn points_for(duration_ns: i64, interval_ns: i64) -> u64 {
        if interval_ns <= 0 || duration_ns <= 0 {
            return 0;
        }
        (duration_ns as u64).div_ceil(interval_ns as u64)
    }

    /// Lines the generator makes in all.
    pub fn total_lines(&self) -> u64 {
        self.points.saturating_mul(u64::from(self.hosts))
    }

    /// Samples the generator makes in all (one per field).
    pub fn total_samples(&self) -> u64 {
        self.total_lines().saturating_mul(FIELDS.len() as u64)
    }
}

/// One host: its line prefix (measurement and tags, ready to copy) and its ten walks.
struct Host {
    prefix: Vec<u8>,
    /// Unrounded walk positions; the line shows them rounded.
    values: [f64; FIELDS.len()],
}

/// Streams the data set as line protocol into caller-owned buffers, a batch at a time.
pub struct CpuGenerator {
    cfg: TsbsConfig,
    rng: StdRng,
    hosts: Vec<Host>,
    /// Index of the next timestamp and of the next host within it.
    point: u64,
    host: usize,
    /// Box–Muller makes normals in pairs; the second waits here.
    spare_normal: Option<f64>,
    /// Pre-rendered ` usage_user=`, `,usage_system=`, ...
    field_keys: Vec<Vec<u8>>,
}

impl CpuGenerator {
    pub fn new(cfg: TsbsConfig) -> CpuGenerator {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let hosts = (0..cfg.hosts)
            .map(|i| {
                let prefix = host_prefix(i, &mut rng);
                let values = std::array::from_fn(|_| rng.r#gen::<f64>() * 100.0);
                Host { prefix, values }
            })
            .collect();
        let field_keys = FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{}{f}=", if i == 0 { ' ' } else { ',' }).into_bytes())
            .collect();
        CpuGenerator {
            cfg,
            rng,
            hosts,
            point: 0,
            host: 0,
            spare_normal: None,
            field_keys,
        }
    }

    pub fn config(&self) -> &TsbsConfig {
        &self.cfg
    }

    /// True once every line has been produced.
    pub fn is_done(&self) -> bool {
        self.point >= self.cfg.points || self.hosts.is_empty()
    }

    /// Appends up to `max_lines` lines (each ending in `\n`) to `buf` and returns how many;
    /// 0 means the data set is complete.
    pub fn fill(&mut self, buf: &mut Vec<u8>, max_lines: usize) -> usize {
        let mut n = 0;
        while n < max_lines && !self.is_done() {
            let ts = self
                .cfg
                .start_ns
                .saturating_add((self.point as i64).saturating_mul(self.cfg.interval_ns));
            let h = self.host;
            for f in 0..FIELDS.len() {
                let step = match self.cfg.steps {
                    Steps::Normal => self.normal(),
                    Steps::Uniform => self.rng.gen_range(-1.0..=1.0),
                };
                let v = &mut self.hosts[h].values[f];
                *v = (*v + step).clamp(0.0, 100.0);
            }
            let host = &self.hosts[h];
            buf.extend_from_slice(&host.prefix);
            for (key, v) in self.field_keys.iter().zip(host.values) {
                buf.extend_from_slice(key);
                push_hundredths(buf, (v * 100.0).round() as i64);
            }
            buf.push(b' ');
            push_i64(buf, ts);
            buf.push(b'\n');
            n += 1;
            self.host += 1;
            if self.host == self.hosts.len() {
                self.host = 0;
                self.point += 1;
            }
        }
        n
    }

    /// A standard normal variate (Box–Muller), from the generator's one RNG so the stream
    /// depends on the seed alone.
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - U lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.rng.r#gen::<f64>();
        let u2 = self.rng.r#gen::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare_normal = Some(r * s);
        r * c
    }
}

/// `cpu,hostname=host_<i>,region=...,service_environment=...` with TSBS' tag choices.
fn host_prefix(i: u32, rng: &mut StdRng) -> Vec<u8> {
    let (region, dcs) = REGIONS[rng.gen_range(0..REGIONS.len())];
    let dc = dcs[rng.gen_range(0..dcs.len())];
    let rack = rng.gen_range(0..RACKS);
    let os = OSES[rng.gen_range(0..OSES.len())];
    let arch = ARCHES[rng.gen_range(0..ARCHES.len())];
    let team = TEAMS[rng.gen_range(0..TEAMS.len())];
    let service = rng.gen_range(0..SERVICES);
    let version = rng.gen_range(0..SERVICE_VERSIONS);
    let env = ENVIRONMENTS[rng.gen_range(0..ENVIRONMENTS.len())];
    format!(
        "{MEASUREMENT},hostname=host_{i},region={region},datacenter={dc},rack={rack},os={os},\
         arch={arch},team={team},service={service},service_version={version},\
         service_environment={env}"
    )
    .into_bytes()
}

/// Writes `h / 100` with at most two decimals and no trailing zeros: 5813 → `58.13`,
/// 270 → `2.7`, 5 → `0.05`, 10000 → `100`. The text parses to exactly `h as f64 / 100.0`
/// (both are the f64 nearest to the same decimal).
pub fn push_hundredths(buf: &mut Vec<u8>, h: i64) {
    if h < 0 {
        buf.push(b'-');
    }
    let h = h.unsigned_abs();
    push_u64(buf, h / 100);
    let frac = (h % 100) as u8;
    if frac != 0 {
        buf.push(b'.');
        buf.push(b'0' + frac / 10);
        if !frac.is_multiple_of(10) {
            buf.push(b'0' + frac % 10);
        }
    }
}

fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn cfg(hosts: u32, points: u64, seed: u64) -> TsbsConfig {
        TsbsConfig {
            hosts,
            start_ns: 1_700_000_000 * SEC,
            interval_ns: 10 * SEC,
            points,
            seed,
            steps: Steps::Normal,
        }
    }

    fn generate(c: TsbsConfig, batch: usize) -> Vec<u8> {
        let mut g = CpuGenerator::new(c);
        let mut out = Vec::new();
        while g.fill(&mut out, batch) > 0 {}
        out
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_batch_size() {
        let a = generate(cfg(7, 30, 42), 1000);
        let b = generate(cfg(7, 30, 42), 3);
        assert_eq!(a, b);
        assert_ne!(a, generate(cfg(7, 30, 43), 1000));
        assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 7 * 30);
    }

    #[test]
    fn lines_have_ten_tags_and_ten_exact_two_decimal_fields() {
        let out = generate(cfg(5, 50, 1), 64);
        let text = std::str::from_utf8(&out).unwrap();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (series, fields, ts) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            assert!(parts.next().is_none(), "{line}");
            let tags: Vec<&str> = series.split(',').collect();
            assert_eq!(tags[0], MEASUREMENT);
            assert_eq!(tags.len() - 1, TAGS, "{line}");
            assert!(tags[1].starts_with("hostname=host_"));
            let names: Vec<&str> = tags[1..]
                .iter()
                .map(|t| t.split('=').next().unwrap())
                .collect();
            assert_eq!(
                names,
                [
                    "hostname",
                    "region",
                    "datacenter",
                    "rack",
                    "os",
                    "arch",
                    "team",
                    "service",
                    "service_version",
                    "service_environment"
                ]
            );
            let fields: Vec<&str> = fields.split(',').collect();
            assert_eq!(fields.len(), FIELDS.len(), "{line}");
            for (kv, name) in fields.iter().zip(FIELDS) {
                let (k, v) = kv.split_once('=').unwrap();
                assert_eq!(k, name);
                let x: f64 = v.parse().unwrap();
                assert!((0.0..=100.0).contains(&x), "{v}");
                let decimals = v.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 2, "{v}");
                // Two decimals exactly: the value is its own rounding to hundredths.
                assert_eq!((x * 100.0).round() / 100.0, x, "{v}");
                let mut again = Vec::new();
                push_hundredths(&mut again, (x * 100.0).round() as i64);
                assert_eq!(again, v.as_bytes());
            }
            ts.parse::<i64>().unwrap();
        }
    }

    #[test]
    fn time_major_with_timestamps_stepping_by_the_interval() {
        let c = cfg(3, 4, 9);
        let out = generate(c, 5);
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 12);
        for (i, line) in lines.iter().enumerate() {
            let ts: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert_eq!(ts, c.start_ns + (i as i64 / 3) * c.interval_ns);
            assert!(
                line.starts_with(&format!("cpu,hostname=host_{},", i % 3)),
                "{line}"
            );
        }
        // A host keeps its tags from one timestamp to the next.
        let series = |l: &str| l.split(' ').next().unwrap().to_string();
        assert_eq!(series(lines[1]), series(lines[4]));
        assert_eq!(c.total_samples(), 120);
    }

    /// The first field's steps, in hundredths.
    fn steps_of(c: TsbsConfig) -> Vec<i64> {
        let out = generate(c, 1000);
        let vals: Vec<i64> = std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: f64 = l.split(' ').nth(1).unwrap().split(',').next().unwrap()[11..]
                    .parse()
                    .unwrap();
                (v * 100.0).round() as i64
            })
            .collect();
        vals.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn walks_move_by_small_steps() {
        let normal = steps_of(cfg(1, 2000, 5));
        // Normal(0, 1) steps: a jump of 8 has probability ~1e-15, one over 1 about a third.
        assert!(normal.iter().all(|d| d.abs() < 800));
        assert!(normal.iter().filter(|d| d.abs() > 100).count() > 400);
        let uniform = steps_of(TsbsConfig {
            steps: Steps::Uniform,
            ..cfg(1, 2000, 5)
        });
        // Uniform in [-1, 1]: rounding the walk to hundredths can add one hundredth.
        assert!(uniform.iter().all(|d| d.abs() <= 101));
        assert!(uniform.iter().filter(|d| d.abs() > 50).count() > 700);
        assert_ne!(normal, uniform);
    }

    #[test]
    fn hundredths_format_exactly() {
        let f = |h| {
            let mut b = Vec::new();
            push_hundredths(&mut b, h);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(f(5813), "58.13");
        assert_eq!(f(270), "2.7");
        assert_eq!(f(5), "0.05");
        assert_eq!(f(0), "0");
        assert_eq!(f(10000), "100");
        assert_eq!(f(-150), "-1.5");
        for h in 0..=10_000i64 {
            assert_eq!(f(h).parse::<f64>().unwrap(), h as f64 / 100.0);
        }
    }

    #[test]
    fn points_cover_the_duration() {
        assert_eq!(TsbsConfig::points_for(86_400 * SEC, 10 * SEC), 8640);
        assert_eq!(TsbsConfig::points_for(95 * SEC, 10 * SEC), 10);
        assert_eq!(TsbsConfig::points_for(0, 10 * SEC), 0);
        assert_eq!(cfg(100, 8640, 1).total_samples(), 8_640_000);
    }
}
