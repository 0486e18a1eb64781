//! What opening leaves in the data dir.

use std::path::Path;

use super::*;
use crate::engine::tests::{batch, cfg};

#[test]
fn rocksdb_writes_no_info_log_into_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    e.apply_next(0, batch("t", "h", "m", &[(1, 1.0)])).unwrap();
    e.flush_unreplicated().unwrap();
    drop(e);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("db"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Its options dump went to `LOG` (and old ones to `LOG.old.*`) at every open: 114 KB.
    assert!(names.iter().any(|n| n == "CURRENT"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("LOG")), "{names:?}");
}

/// Bytes the files of `dir` occupy on disk (allocated blocks, what `du` counts), by name.
fn allocated(dir: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| {
            let f = f.unwrap();
            let name = f.file_name().to_string_lossy().into_owned();
            (name, f.metadata().unwrap().blocks() * 512)
        })
        .collect();
    files.sort();
    files
}

/// RocksDB preallocates 4 MiB for its MANIFEST by default, which `du` counts although the file
/// holds a few KB: 0.49 bytes per sample of the 100-host × 1-day benchmark. A small write and
/// a flush must leave the open data dir far below that.
#[test]
fn a_small_data_dir_allocates_far_less_than_a_manifest_preallocation() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(cfg(dir.path())).unwrap();
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 10_000, i as f64 / 4.0)).collect();
    e.apply_next(0, batch("t", "h", "m", &samples)).unwrap();
    e.flush_unreplicated().unwrap();
    // Measured while the engine is open, as the benchmark does: RocksDB gives preallocated
    // space back only when it closes a file.
    let files = allocated(&dir.path().join("db"));
    let total: u64 = files.iter().map(|f| f.1).sum();
    println!("allocated {total} bytes: {files:?}");
    let manifest: u64 = files
        .iter()
        .filter(|f| f.0.starts_with("MANIFEST"))
        .map(|f| f.1)
        .sum();
    assert!(
        manifest <= 64 << 10,
        "MANIFEST: {manifest} bytes ({files:?})"
    );
    assert!(total < 512 << 10, "{total} bytes ({files:?})");
}
