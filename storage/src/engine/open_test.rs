//! What opening leaves in the data dir.

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
