//! `cairn backup` of a three-node cluster under a continuous writer, and `cairn restore` into
//! a new three-node cluster (issue 19, point 9): every sample acknowledged before the backup
//! began is read back from every node of the new cluster, and the meta group's key-value space
//! (here a tenant's retention) came along.

use std::collections::BTreeSet;
use std::time::Duration;

use cairn_tests::test_cluster::status;
use cairn_tests::writer::{Writer, wait_more_acks};
use cairn_tests::{CairnProcess, TestCluster, cairn_cli, client, export, free_port, wait_for};

const T0: i64 = 1_700_000_000_000;

#[test]
fn a_cluster_backed_up_under_writes_restores_into_a_new_cluster() {
    let c = TestCluster::start(3).unwrap();
    let r = client()
        .put(format!("{}/api/v1/tenants/acme/retention", c.url(1)))
        .body(r#"{"raw":"30d"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    let w = Writer::start(vec![c.url(1), c.url(2), c.url(3)], "bk", T0);
    wait_more_acks(&w, 100).unwrap();
    let before: BTreeSet<(i64, u64)> = w
        .acked_now()
        .into_iter()
        .map(|(t, v)| (t, v.to_bits()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let (ok, out, err) = cairn_cli(&[
        "backup",
        "--url",
        &c.url(2),
        "--to",
        backup.to_str().unwrap(),
    ])
    .unwrap();
    assert!(ok, "backup failed: {out}{err}");
    assert!(out.contains("backed up 4 shards"), "{out}");
    // Writes went on during the backup.
    wait_more_acks(&w, 20).unwrap();
    let _ = w.finish();
    drop(c);

    let seed = dir.path().join("new1");
    let (ok, out, err) = cairn_cli(&[
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        seed.to_str().unwrap(),
    ])
    .unwrap();
    assert!(ok, "restore failed: {out}{err}");
    // Restoring over a database is refused.
    let (ok, _, err) = cairn_cli(&[
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        seed.to_str().unwrap(),
    ])
    .unwrap();
    assert!(!ok && err.contains("already holds a database"), "{err}");

    let grpc1 = free_port();
    let addr = |port: u16| format!("127.0.0.1:{port}");
    let g1 = addr(grpc1);
    let first = CairnProcess::start_args(
        &seed,
        &[
            "--node-id",
            "1",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            &g1,
        ],
        &[],
    )
    .unwrap();
    let mut nodes = vec![first];
    for id in [2, 3] {
        let g = addr(free_port());
        let p = CairnProcess::start_args(
            &dir.path().join(format!("new{id}")),
            &[
                "--node-id",
                &id.to_string(),
                "--http-addr",
                "127.0.0.1:0",
                "--grpc-addr",
                &g,
                "--join",
                &g1,
            ],
            &[],
        )
        .unwrap();
        nodes.push(p);
    }
    wait_for(
        "the restored cluster healthy",
        Duration::from_secs(120),
        || {
            let s = status(&nodes[0].url).ok()?;
            (s["healthy"] == true && s["nodes"].as_array()?.len() == 3).then_some(())
        },
    )
    .unwrap();
    for (i, p) in nodes.iter().enumerate() {
        let got: BTreeSet<(i64, u64)> = export(&p.url, None, r#"load_v{host="bk"}"#)
            .unwrap()
            .iter()
            .flat_map(|e| e.samples.iter().copied())
            .collect();
        let lost: Vec<_> = before.difference(&got).take(3).collect();
        if !lost.is_empty() {
            for (j, q) in nodes.iter().enumerate() {
                eprintln!("--- node {} log:\n{}", j + 1, q.log_text());
            }
        }
        assert!(
            lost.is_empty(),
            "node {} of the restored cluster lacks acknowledged samples, e.g. {lost:?}",
            i + 1
        );
    }
    let text = client()
        .get(format!("{}/api/v1/tenants/acme", nodes[2].url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["retention"]["raw"]["value"], "30d", "{v}");
    assert_eq!(v["data"]["retention"]["raw"]["source"], "tenant", "{v}");
}
