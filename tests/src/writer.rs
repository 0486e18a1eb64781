//! A continuous writer for cluster tests (one series, batches of ten samples, to whichever
//! node answers), which records every acknowledged sample, and the check that every node then
//! holds exactly what was acknowledged (and possibly the batch in flight).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{Exported, TestCluster, export, wait_for, write_lines};

/// Every node's replicas hold the same series and samples (each node's export reads its
/// own replicas, after a read barrier): all of `acked`, possibly some of `unacked` (sent
/// without an acknowledgement: a write that timed out may still commit), nothing else, and
/// no timestamp twice in a series (retries are idempotent, never stored twice).
pub fn check_replicas_agree(
    c: &TestCluster,
    acked: &[(i64, f64)],
    unacked: &[(i64, f64)],
) -> anyhow::Result<()> {
    let written: BTreeSet<(i64, u64)> = acked
        .iter()
        .chain(unacked)
        .map(|&(t, v)| (t, v.to_bits()))
        .collect();
    let mut first: Option<Vec<Exported>> = None;
    for m in &c.members {
        let Some(p) = &m.process else { continue };
        let got = export(&p.url, None, r#"{__name__=~"load_.*"}"#)
            .with_context(|| format!("export from node {}", m.id))?;
        for e in &got {
            let times: BTreeSet<i64> = e.samples.iter().map(|&(t, _)| t).collect();
            if times.len() != e.samples.len() {
                bail!("node {} repeats a timestamp in {:?}", m.id, e.metric);
            }
        }
        let samples: BTreeSet<(i64, u64)> =
            got.iter().flat_map(|e| e.samples.iter().copied()).collect();
        for (t, v) in acked {
            if !samples.contains(&(*t, v.to_bits())) {
                bail!("node {} lost the acknowledged sample ({t}, {v})", m.id);
            }
        }
        let count: usize = got.iter().map(|e| e.samples.len()).sum();
        if let Some((t, bits)) = samples.difference(&written).next() {
            bail!(
                "node {} holds a sample never written: ({t}, {})",
                m.id,
                f64::from_bits(*bits)
            );
        }
        if count > acked.len() + unacked.len() {
            bail!(
                "node {} holds {count} samples, more than the {} acknowledged and {} unacknowledged",
                m.id,
                acked.len(),
                unacked.len()
            );
        }
        match &first {
            None => first = Some(got),
            Some(f) if *f != got => bail!("node {} disagrees with the first node", m.id),
            Some(_) => {}
        }
    }
    Ok(())
}

/// One line of line protocol per sample: `load_v,host=h value=V T` (ms).
pub fn line(host: &str, t: i64, v: f64) -> String {
    format!("load_v,host={host} value={v} {t}\n")
}

/// Samples of one series: (timestamp in ms, value).
pub type Samples = Vec<(i64, f64)>;

/// Writes samples of one series in batches, to whichever node is up, until stopped; records
/// what was acknowledged, the batch in flight, and the longest time between two
/// acknowledgements.
pub struct Writer {
    acked: Arc<Mutex<Samples>>,
    /// The batch sent and not (yet) acknowledged; it may have committed all the same.
    pending: Arc<Mutex<Samples>>,
    pub last_error: Arc<Mutex<String>>,
    longest_gap: Arc<Mutex<Duration>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn start(urls: Vec<String>, host: &'static str, t0: i64) -> Writer {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let pending = Arc::new(Mutex::new(Vec::new()));
        let longest_gap = Arc::new(Mutex::new(Duration::ZERO));
        let stop = Arc::new(AtomicBool::new(false));
        let last_error = Arc::new(Mutex::new(String::new()));
        let (a, p, g, s, e) = (
            acked.clone(),
            pending.clone(),
            longest_gap.clone(),
            stop.clone(),
            last_error.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut t = t0;
            let mut last_ack = Instant::now();
            let mut i = 0usize;
            while !s.load(Ordering::Relaxed) {
                let batch: Vec<(i64, f64)> = (0..10)
                    .map(|k| (t + k * 1000, (t + k) as f64 / 7.0))
                    .collect();
                *p.lock().unwrap() = batch.clone();
                let body: String = batch.iter().map(|&(t, v)| line(host, t, v)).collect();
                let url = &urls[i % urls.len()];
                let result = write_lines(url, None, "ms", &body);
                if let Err(err) = &result {
                    *e.lock().unwrap() = format!("{url}: {err:#}");
                }
                if result.is_ok() {
                    let gap = last_ack.elapsed();
                    last_ack = Instant::now();
                    let mut lg = g.lock().unwrap();
                    *lg = (*lg).max(gap);
                    a.lock().unwrap().extend(batch);
                    p.lock().unwrap().clear();
                    t += 10_000;
                } else {
                    // Try another node next; the same samples again (retries are idempotent).
                    i += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        Writer {
            acked,
            pending,
            last_error,
            longest_gap,
            stop,
            thread: Some(thread),
        }
    }

    /// The samples acknowledged so far.
    pub fn acked_now(&self) -> Samples {
        self.acked.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// The longest time between two acknowledgements since the last call (or the start).
    pub fn take_longest_gap(&self) -> Duration {
        std::mem::take(&mut *self.longest_gap.lock().unwrap())
    }

    /// Stops writing: (acknowledged samples, samples sent without an acknowledgement).
    pub fn finish(mut self) -> (Samples, Samples) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let acked = self.acked.lock().unwrap().clone();
        let pending = self.pending.lock().unwrap().clone();
        (acked, pending)
    }
}

pub fn wait_more_acks(w: &Writer, n: usize) -> anyhow::Result<()> {
    let target = w.count() + n;
    wait_for("more acknowledged writes", Duration::from_secs(30), || {
        (w.count() >= target).then_some(())
    })
    .with_context(|| format!("last write error: {}", w.last_error.lock().unwrap()))
}
