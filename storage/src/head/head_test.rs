//! Head tests: series ids, sealing, out-of-order and duplicate handling, checkpoint plans.

use super::*;
use cairn_model::Tenant;
use cairn_model::WriteBatchBuilder;

fn limits() -> HeadLimits {
    HeadLimits {
        chunk_max_samples: 4,
        chunk_span_ms: 1000,
        ooo_window_ms: 100,
    }
}

fn apply(head: &mut Head, index: u64, host: &str, samples: &[(i64, f64)]) -> ApplyOutcome {
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    b.begin_group([("host", host)]).unwrap();
    b.add_series("m", samples.iter().map(|&(t, v)| Sample::new(t, v)));
    let wb = b.finish();
    let d = wb.decode().unwrap();
    let mut new = Vec::new();
    head.apply(index, &d, &mut new)
}

#[test]
fn series_ids_are_dense_in_apply_order() {
    let mut h = Head::new(limits());
    let mut b = WriteBatchBuilder::new(Tenant::default_tenant());
    for host in ["x", "y", "x"] {
        b.begin_group([("host", host)]).unwrap();
        b.add("m", 1, 1.0);
    }
    let wb = b.finish();
    let mut new = Vec::new();
    let o = h.apply(1, &wb.decode().unwrap(), &mut new);
    assert_eq!(new.iter().map(|n| n.sid).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        new[1].labels,
        [("__name__".into(), "m".into()), ("host".into(), "y".into())]
    );
    assert_eq!(o.new_series, 2);
    assert_eq!(o.duplicates, 1, "the repeated x sample is idempotent");
    assert_eq!(h.applied_index(), 1);
}

#[test]
fn chunks_seal_by_count_and_by_span_boundary() {
    let mut h = Head::new(limits());
    // 4 per chunk, and 1000 ms blocks: [0,100,200,300] [400,500] | [1000].
    apply(
        &mut h,
        1,
        "a",
        &[
            (0, 0.0),
            (100, 1.0),
            (200, 2.0),
            (300, 3.0),
            (400, 4.0),
            (500, 5.0),
            (1000, 6.0),
        ],
    );
    let plan = h.checkpoint(1).unwrap();
    let starts: Vec<i64> = plan.chunks.iter().map(|c| c.1).collect();
    assert_eq!(
        starts,
        [0, 400, 1000],
        "two sealed, one partial copy of the open chunk"
    );
    assert_eq!(plan.samples_in_chunks, 7);
    assert_eq!(plan.head_index[0].1.open_chunk, Some(1000));
    // Nothing dirty: the next checkpoint writes nothing.
    assert!(h.checkpoint(2).unwrap().chunks.is_empty());
}

#[test]
fn out_of_order_window_and_conflicts() {
    let mut h = Head::new(limits());
    apply(&mut h, 1, "a", &[(1000, 1.0)]);
    let o = apply(
        &mut h,
        2,
        "a",
        &[(950, 0.5), (950, 0.5), (899, 9.0), (1000, 2.0)],
    );
    assert_eq!(o.written, 1);
    assert_eq!(o.out_of_order, 1);
    assert_eq!(o.duplicates, 1);
    assert_eq!(o.rejected_too_old, 1);
    assert_eq!(o.rejected_conflict, 1);
    let mut m = MemSamples::default();
    h.read(0, i64::MIN, i64::MAX, &mut m).unwrap();
    assert_eq!(m.samples, [Sample::new(1000, 1.0)]);
    assert_eq!(m.ooo, [Sample::new(950, 0.5)]);
    assert_eq!(m.open_start, Some(1000));
    let plan = h.checkpoint(7).unwrap();
    let ooo: Vec<_> = plan.chunks.iter().filter(|c| c.2 == 7).collect();
    assert_eq!(
        ooo.len(),
        1,
        "out-of-order samples become a chunk keyed with the checkpoint seq"
    );
    h.read(0, i64::MIN, i64::MAX, &mut m).unwrap();
    assert!(
        m.ooo.is_empty(),
        "after the checkpoint they are read from disk"
    );
    assert_eq!(h.bounds(0), Some((950, 1000)));
}

#[test]
fn out_of_order_samples_in_any_order_stay_sorted() {
    let mut h = Head::new(limits());
    apply(&mut h, 1, "a", &[(1000, 1.0)]);
    // Ascending (appended), then older ones (inserted), a newer one, a duplicate and a
    // replacement of one in the middle.
    apply(&mut h, 2, "a", &[(960, 6.0), (970, 7.0), (980, 8.0)]);
    apply(&mut h, 3, "a", &[(920, 2.0), (965, 6.5)]);
    let o = apply(&mut h, 4, "a", &[(990, 9.0), (990, 9.0), (970, 7.5)]);
    assert_eq!((o.written, o.out_of_order, o.duplicates), (2, 2, 1));
    let mut m = MemSamples::default();
    h.read(0, i64::MIN, i64::MAX, &mut m).unwrap();
    let want: Vec<Sample> = [
        (920, 2.0),
        (960, 6.0),
        (965, 6.5),
        (970, 7.5),
        (980, 8.0),
        (990, 9.0),
    ]
    .iter()
    .map(|&(t, v)| Sample::new(t, v))
    .collect();
    assert_eq!(m.ooo, want);
    assert_eq!(h.bounds(0), Some((920, 1000)));
}

#[test]
fn seal_all_leaves_no_open_chunk() {
    let mut h = Head::new(limits());
    apply(&mut h, 1, "a", &[(0, 0.0), (1, 1.0)]);
    apply(&mut h, 2, "b", &[(0, 0.0)]);
    assert_eq!(h.active_series(), 2);
    h.seal_all();
    assert_eq!(h.active_series(), 0);
    let plan = h.checkpoint(1).unwrap();
    assert_eq!(plan.chunks.len(), 2);
    assert!(plan.head_index.iter().all(|(_, e)| e.open_chunk.is_none()));
}

#[test]
fn series_beyond_one_page_of_the_table_keep_their_own_state() {
    let mut h = Head::new(limits());
    let n = SeriesTable::PAGE * 2 + 7;
    for i in 0..n {
        let o = apply(
            &mut h,
            i as u64 + 1,
            &format!("h{i}"),
            &[(i as i64, i as f64)],
        );
        assert_eq!(o.new_series, 1);
    }
    assert_eq!(h.series_count(), n);
    for sid in [0, SeriesTable::PAGE - 1, SeriesTable::PAGE, n - 1] {
        assert_eq!(h.bounds(sid as SeriesId), Some((sid as i64, sid as i64)));
        let mut m = MemSamples::default();
        h.read(sid as SeriesId, i64::MIN, i64::MAX, &mut m).unwrap();
        assert_eq!(m.samples, [Sample::new(sid as i64, sid as f64)]);
    }
    assert_eq!(h.bounds(n as SeriesId), None);
    // Three pages, each allocated whole, and no more.
    let page = SeriesTable::PAGE * size_of::<HeadSeries>();
    let table = h.series.allocated_bytes();
    assert!((3 * page..4 * page).contains(&table), "{table}");
    assert!(h.heap_bytes() > table);
}

#[test]
fn sealed_chunks_are_counted_listed_and_dropped_once_spilled() {
    let mut h = Head::new(limits());
    // Four samples per chunk: 0..4 and 4..8 seal, 8 stays open.
    let samples: Vec<(i64, f64)> = (0..9).map(|i| (i * 10, i as f64)).collect();
    apply(&mut h, 1, "a", &samples);
    let listed: Vec<(SeriesId, i64, Vec<u8>)> = h
        .pending_chunks()
        .map(|(sid, start, b)| (sid, start, b.to_vec()))
        .collect();
    assert_eq!(
        listed.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
        [(0, 0), (0, 40)]
    );
    assert_eq!(
        h.pending_bytes(),
        listed.iter().map(|c| c.2.len()).sum::<usize>()
    );
    let mut first = Vec::new();
    decode_chunk(&listed[0].2, 0, &mut first).unwrap();
    assert_eq!(
        first.iter().map(|s| s.t).collect::<Vec<_>>(),
        [0, 10, 20, 30]
    );

    h.spilled_pending();
    assert_eq!(h.pending_bytes(), 0);
    assert_eq!(h.pending_chunks().count(), 0);
    // Memory now holds only the open chunk; the spilled ones are the engine's to read.
    let mut m = MemSamples::default();
    h.read(0, i64::MIN, i64::MAX, &mut m).unwrap();
    assert_eq!(m.samples, [Sample::new(80, 8.0)]);
    // The next checkpoint knows which windows the spilled chunks were in.
    apply(
        &mut h,
        2,
        "a",
        &[(90, 9.0), (100, 10.0), (110, 11.0), (120, 12.0)],
    );
    assert!(h.pending_bytes() > 0);
    let plan = h.checkpoint(1).unwrap();
    assert_eq!(plan.spilled, [(0, 0), (0, 40)]);
    // Its own: the chunk sealed since, and the open one's partial copy.
    assert_eq!(
        plan.chunks.iter().map(|c| c.1).collect::<Vec<_>>(),
        [80, 120]
    );
    assert_eq!(h.pending_bytes(), 0);
    assert!(h.checkpoint(2).unwrap().spilled.is_empty());
}
