//! The rules API on real `cairn server` processes: groups written with PUT, read back as
//! Prometheus' `/api/v1/rules`, deleted; bad rules refused with the rule and line; a whole
//! tenant's files applied at once (`PUT /api/v1/rules`, what `cairn rules apply` sends); and a
//! three-node cluster where a write on a follower is forwarded to the meta leader and every
//! node answers the same.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use cairn_tests::test_cluster::status;
use cairn_tests::{CairnProcess, TestCluster, cairn_cli, client, wait_for};
use serde_json::{Value, json};

const GROUP: &str = r#"
name: node
interval: 30s
rules:
  - alert: InstanceDown
    expr: up == 0
    for: 5m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.instance }} is down"
  - record: job:up:sum
    expr: sum by (job) (up)
"#;

/// A request as `tenant`; returns the status code and the JSON body.
fn call(method: &str, url: &str, tenant: &str, body: Option<String>) -> Result<(u16, Value)> {
    let c = client();
    let mut req = match method {
        "PUT" => c.put(url),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    }
    .header("X-Scope-OrgID", tenant);
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().with_context(|| format!("{method} {url}"))?;
    let code = resp.status().as_u16();
    let text = resp.text()?;
    let v = serde_json::from_str(&text).with_context(|| format!("{method} {url}: {text}"))?;
    Ok((code, v))
}

fn rules(url: &str, tenant: &str, query: &str) -> Result<Value> {
    let (code, v) = call("GET", &format!("{url}/api/v1/rules{query}"), tenant, None)?;
    anyhow::ensure!(code == 200, "GET rules: {code} {v}");
    Ok(v)
}

#[test]
fn groups_are_written_read_as_prometheus_and_deleted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();

    let (code, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules/node"),
        "acme",
        Some(GROUP.into()),
    )?;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["data"]["groups"],
        json!([{"file": "api", "name": "node", "rules": 2, "change": "created"}])
    );
    let (_, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules/node"),
        "acme",
        Some(GROUP.into()),
    )?;
    assert_eq!(v["data"]["groups"][0]["change"], "unchanged");

    let v = rules(&url, "acme", "")?;
    assert_eq!(v["status"], "success");
    assert_eq!(
        v["data"]["groups"],
        json!([{
            "name": "node",
            "file": "api",
            "rules": [
                {
                    "state": "inactive",
                    "name": "InstanceDown",
                    "query": "up == 0",
                    "duration": 300.0,
                    "keepFiringFor": 0.0,
                    "labels": {"severity": "page"},
                    "annotations": {"summary": "{{ $labels.instance }} is down"},
                    "alerts": [],
                    "health": "unknown",
                    "evaluationTime": 0.0,
                    "lastEvaluation": "0001-01-01T00:00:00Z",
                    "type": "alerting",
                },
                {
                    "name": "job:up:sum",
                    "query": "sum by (job) (up)",
                    "labels": {},
                    "health": "unknown",
                    "evaluationTime": 0.0,
                    "lastEvaluation": "0001-01-01T00:00:00Z",
                    "type": "recording",
                },
            ],
            "interval": 30.0,
            "limit": 0,
            "evaluationTime": 0.0,
            "lastEvaluation": "0001-01-01T00:00:00Z",
        }])
    );
    let v = rules(&url, "acme", "?type=record")?;
    assert_eq!(v["data"]["groups"][0]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["groups"][0]["rules"][0]["type"], "recording");
    let v = rules(&url, "acme", "?rule_name[]=nothing")?;
    assert_eq!(v["data"]["groups"], json!([]));
    let (code, v) = call("GET", &format!("{url}/api/v1/rules?type=x"), "acme", None)?;
    assert_eq!((code, &v["errorType"]), (400, &json!("bad_data")), "{v}");

    // Tenants see only their own groups.
    assert_eq!(rules(&url, "other", "")?["data"]["groups"], json!([]));
    let (_, v) = call("GET", &format!("{url}/api/v1/alerts"), "acme", None)?;
    assert_eq!(v, json!({"status": "success", "data": {"alerts": []}}));

    // The cluster-wide listing and `cairn rules list` name the tenant.
    let (_, v) = call("GET", &format!("{url}/api/v1/cluster/rules"), "x", None)?;
    assert_eq!(
        v["data"]["groups"],
        json!([{"tenant": "acme", "file": "api", "group": "node", "rules": 2, "interval": 30.0}])
    );
    let (ok, out, err) = cairn_cli(&["rules", "list", "--url", &url])?;
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().eq(["acme", "api", "node", "30s", "2"])),
        "{out}"
    );

    let del = format!("{url}/api/v1/rules/node");
    let (code, v) = call("DELETE", &del, "acme", None)?;
    assert_eq!(
        (code, &v["data"]["groups"][0]["change"]),
        (200, &json!("deleted")),
        "{v}"
    );
    assert_eq!(rules(&url, "acme", "")?["data"]["groups"], json!([]));
    let (code, v) = call("DELETE", &del, "acme", None)?;
    assert_eq!(code, 404, "{v}");
    Ok(())
}

#[test]
fn bad_rules_are_refused_naming_the_rule_and_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    let bad =
        "name: g\nrules:\n  - alert: Fine\n    expr: up\n  - alert: Broken\n    expr: sum(up\n";
    let (code, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules/g"),
        "acme",
        Some(bad.into()),
    )?;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["errorType"], "bad_data");
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.starts_with("api: 6:") && msg.contains("group \"g\", rule 2, \"Broken\""),
        "{msg}"
    );
    assert_eq!(v["errors"][0]["line"], 6);
    assert_eq!(v["errors"][0]["rule"], "Broken");

    let (code, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules/other"),
        "acme",
        Some("name: g\nrules:\n  - record: x\n    expr: up\n".into()),
    )?;
    assert_eq!(code, 400, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("\"other\"") && msg.contains("\"g\""), "{msg}");

    // Every file's errors in one answer; nothing applied.
    let files = json!({"files": [
        {"name": "a.yml", "content": "groups:\n  - name: a\n    rules:\n      - record: \"bad name\"\n        expr: up\n"},
        {"name": "b.yml", "content": "groups:\n  - name: b\n    rules:\n      - alert: X\n        expr: up ==\n"},
    ]});
    let (code, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules"),
        "acme",
        Some(files.to_string()),
    )?;
    assert_eq!(code, 400, "{v}");
    let files: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["a.yml", "b.yml"], "{v}");
    assert_eq!(v["errors"][1]["line"], 5);
    assert_eq!(rules(&url, "acme", "")?["data"]["groups"], json!([]));
    Ok(())
}

/// `cairn rules apply` checks locally, then makes the files all of the tenant's groups.
#[test]
fn apply_replaces_all_of_a_tenants_groups() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(&dir.path().join("data"), &[])?;
    let url = node.url.clone();
    let write = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (code, v) = call(
        "PUT",
        &format!("{url}/api/v1/rules/old"),
        "acme",
        Some("name: old\nrules:\n  - record: x\n    expr: up\n".into()),
    )?;
    assert_eq!(code, 200, "{v}");
    let a = write("a.yml", &format!("groups:\n{}", as_list_item(GROUP)));
    let bad = write(
        "bad.yml",
        "groups:\n  - name: b\n    rules:\n      - alert: X\n        expr: up ==\n",
    );
    let (a, bad) = (a.to_str().unwrap(), bad.to_str().unwrap());

    let (ok, out, err) = cairn_cli(&["rules", "apply", "--url", &url, "--tenant", "acme", a, bad])?;
    assert!(!ok, "a bad file fails the apply: {out}");
    assert!(
        err.contains("FAILED") && err.contains("rule 1, \"X\""),
        "{err}"
    );
    let names = |v: &Value| -> Vec<String> {
        v["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                format!(
                    "{}:{}",
                    g["file"].as_str().unwrap(),
                    g["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names(&rules(&url, "acme", "")?),
        ["api:old"],
        "nothing sent"
    );

    let (ok, out, err) = cairn_cli(&["rules", "apply", "--url", &url, "--tenant", "acme", a])?;
    assert!(ok, "{err}");
    assert!(
        out.contains("tenant acme: 1 group(s), 2 rule(s) applied"),
        "{out}"
    );
    assert_eq!(names(&rules(&url, "acme", "")?), [format!("{a}:node")]);
    let (ok, out, err) = cairn_cli(&["rules", "list", "--url", &url, "--tenant", "acme"])?;
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l.split_whitespace().eq([
            "node",
            "InstanceDown",
            "alerting",
            "unknown",
            "0",
            "0"
        ])),
        "{out}"
    );
    Ok(())
}

/// A group's YAML as an item of a file's `groups:` list.
fn as_list_item(group: &str) -> String {
    let mut out = String::new();
    for (i, l) in group.trim().lines().enumerate() {
        let lead = if i == 0 { "  - " } else { "    " };
        out.push_str(&format!("{lead}{l}\n"));
    }
    out
}

#[test]
fn a_write_on_a_follower_reaches_the_leader_and_every_node_answers_the_same() -> Result<()> {
    let c = TestCluster::start(3)?;
    let leader = status(&c.url(1))?["meta_leader"]
        .as_u64()
        .context("a meta leader")?;
    let follower = c.url(if leader == 1 { 2 } else { 1 });

    let (code, v) = call(
        "PUT",
        &format!("{follower}/api/v1/rules/node"),
        "acme",
        Some(GROUP.into()),
    )?;
    assert_eq!(
        code, 200,
        "PUT on a follower (leader is node {leader}): {v}"
    );
    // The node that answered has applied the change.
    let here = rules(&follower, "acme", "")?;
    assert_eq!(here["data"]["groups"][0]["name"], "node", "{here}");
    for url in (1..=3).map(|id| c.url(id)) {
        wait_for(
            "every node to answer the same",
            Duration::from_secs(30),
            || (rules(&url, "acme", "").ok()? == here).then_some(()),
        )
        .with_context(|| format!("{url} answers {:?}", rules(&url, "acme", "").ok()))?;
    }

    let (code, v) = call(
        "DELETE",
        &format!("{follower}/api/v1/rules/node"),
        "acme",
        None,
    )?;
    assert_eq!(code, 200, "{v}");
    for url in (1..=3).map(|id| c.url(id)) {
        wait_for(
            "every node to see the delete",
            Duration::from_secs(30),
            || (rules(&url, "acme", "").ok()?["data"]["groups"] == json!([])).then_some(()),
        )?;
    }
    Ok(())
}
