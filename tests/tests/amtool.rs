//! The real `amtool` (Debian's Alertmanager 0.25) against a real Cairn node: a silence added,
//! queried (table and `-o json`), updated in place, updated into a replacement (the old one
//! expired, a new id), and expired, each step checked through Alertmanager's API v2 too; the
//! API's refusals with Alertmanager's messages; and alerts listed with their receivers,
//! silenced and inhibited ones marked, on the node that evaluates them and through one that
//! forwards to it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use cairn_tests::rules::{now_ms, put_group};
use cairn_tests::{CairnProcess, TestCluster, client, wait_for, write_lines};
use serde_json::{Value, json};

/// `amtool` on PATH (or Debian's place for it); fails saying how to install it.
fn amtool() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("amtool"))
        .find(|p| p.is_file());
    match on_path {
        Some(p) => p,
        None => panic!("amtool is not installed: run scripts/setup.sh alertmanager"),
    }
}

/// Runs `amtool --alertmanager.url=URL ARGS...`; its standard output, or an error with both
/// outputs.
fn run_amtool(url: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(amtool())
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .context("running amtool")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "amtool {args:?} failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

fn query_json(url: &str, extra: &[&str]) -> Result<Vec<Value>> {
    let mut args = vec!["silence", "query", "-o", "json"];
    args.extend_from_slice(extra);
    let out = run_amtool(url, &args)?;
    let v: Value = serde_json::from_str(&out).with_context(|| format!("amtool's JSON: {out}"))?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

fn get_silence(url: &str, id: &str) -> Result<Value> {
    let resp = client().get(format!("{url}/api/v2/silence/{id}")).send()?;
    anyhow::ensure!(resp.status() == 200, "GET silence {id}: {}", resp.status());
    json_of(resp)
}

fn ms(t: &Value) -> i64 {
    cairn_alerting::notify::am_time::parse_ms(t.as_str().unwrap_or_default())
        .ok()
        .flatten()
        .unwrap_or(i64::MIN)
}

/// The JSON body of a response.
fn json_of(resp: reqwest::blocking::Response) -> Result<Value> {
    let text = resp.text()?;
    serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
}

#[test]
fn amtool_adds_queries_updates_and_expires_a_silence() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();

    // Add.
    let id = run_amtool(
        &url,
        &[
            "silence",
            "add",
            "alertname=Foo",
            "--comment",
            "maintenance window",
            "--duration",
            "1h",
            "--author",
            "tester",
        ],
    )?
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");
    let s = get_silence(&url, &id)?;
    assert_eq!(s["status"]["state"], "active");
    assert_eq!(
        s["matchers"],
        json!([{"isEqual": true, "isRegex": false, "name": "alertname", "value": "Foo"}])
    );
    assert_eq!(s["createdBy"], "tester");
    assert_eq!(s["comment"], "maintenance window");
    let span = ms(&s["endsAt"]) - ms(&s["startsAt"]);
    assert!(
        (3_590_000..=3_600_000).contains(&span),
        "about 1h: {span} ms"
    );
    assert!(
        s["updatedAt"].as_str().unwrap().ends_with('Z')
            && s["updatedAt"].as_str().unwrap().len() == 24,
        "RFC 3339 with ms: {}",
        s["updatedAt"]
    );

    // Query: all, by a matching filter, by one that matches none; and the table.
    let all = query_json(&url, &[])?;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], s);
    assert_eq!(query_json(&url, &["alertname=Foo"])?.len(), 1);
    assert!(query_json(&url, &["alertname=Bar"])?.is_empty());
    let table = run_amtool(&url, &["silence", "query"])?;
    assert!(
        table.contains(&id) && table.contains("alertname=\"Foo\""),
        "{table}"
    );
    // Another tenant sees none of it.
    let other = client()
        .get(format!("{url}/api/v2/silences"))
        .header("X-Scope-OrgID", "other")
        .send()?;
    let other = json_of(other)?;
    assert_eq!(other, json!([]));

    // Update in place: same matchers and start, a later end, a new comment.
    run_amtool(
        &url,
        &[
            "silence",
            "update",
            &id,
            "--duration",
            "2h",
            "--comment",
            "longer",
        ],
    )?;
    let updated = get_silence(&url, &id)?;
    assert_eq!(updated["comment"], "longer");
    assert_eq!(updated["status"]["state"], "active");
    assert_eq!(updated["startsAt"], s["startsAt"]);
    let span = ms(&updated["endsAt"]) - ms(&updated["startsAt"]);
    assert_eq!(span, 2 * 3_600_000);
    let listed = query_json(&url, &[])?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    // Moving an active silence's start rewrites history: the old one is expired and a new
    // one (pending here) takes its place.
    run_amtool(
        &url,
        &[
            "silence",
            "update",
            &id,
            "--start",
            "2099-01-01T00:00:00Z",
            "--end",
            "2099-01-02T00:00:00Z",
        ],
    )?;
    let old = get_silence(&url, &id)?;
    assert_eq!(old["status"]["state"], "expired");
    let listed = query_json(&url, &[])?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let new_id = listed[0]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(listed[0]["status"]["state"], "pending");
    assert_eq!(listed[0]["startsAt"], "2099-01-01T00:00:00.000Z");
    assert_eq!(listed[0]["matchers"], s["matchers"]);
    assert_eq!(listed[0]["comment"], "longer");

    // Expire the pending one: start = end = now.
    run_amtool(&url, &["silence", "expire", &new_id])?;
    let expired = get_silence(&url, &new_id)?;
    assert_eq!(expired["status"]["state"], "expired");
    assert_eq!(expired["startsAt"], expired["endsAt"]);
    assert!(query_json(&url, &[])?.is_empty());
    let with_expired = query_json(&url, &["--expired"])?;
    let mut ids: Vec<&str> = with_expired
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    ids.sort();
    let mut want = vec![id.as_str(), new_id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    // Expiring again is a success that changes nothing; an unknown id is 404.
    run_amtool(&url, &["silence", "expire", &new_id])?;
    assert_eq!(get_silence(&url, &new_id)?, expired);
    let resp = client()
        .delete(format!(
            "{url}/api/v2/silence/00000000-0000-4000-8000-000000000000"
        ))
        .send()?;
    assert_eq!(resp.status(), 404);
    Ok(())
}

#[test]
fn bad_silences_are_refused_with_alertmanagers_messages() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let url = node.url.clone();
    let post = |body: Value| -> Result<(u16, Value)> {
        let resp = client()
            .post(format!("{url}/api/v2/silences"))
            .body(body.to_string())
            .send()?;
        Ok((resp.status().as_u16(), json_of(resp)?))
    };
    let silence = |matchers: Value, starts: &str, ends: &str| {
        json!({"matchers": matchers, "startsAt": starts, "endsAt": ends,
               "createdBy": "t", "comment": "c"})
    };
    let foo = json!([{"name": "alertname", "value": "Foo", "isRegex": false}]);
    let cases = [
        (
            silence(json!([]), "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z"),
            400,
            "invalid silence: at least one matcher required",
        ),
        (
            silence(
                json!([{"name": "", "value": "x", "isRegex": false}]),
                "2099-01-01T00:00:00Z",
                "2099-01-02T00:00:00Z",
            ),
            400,
            "invalid silence: invalid label matcher 0: invalid label name \"\"",
        ),
        (
            silence(foo.clone(), "2099-01-02T00:00:00Z", "2099-01-01T00:00:00Z"),
            400,
            "Failed to create silence: start time must be before end time",
        ),
        (
            silence(foo.clone(), "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"),
            400,
            "Failed to create silence: end time can't be in the past",
        ),
    ];
    for (body, code, message) in cases {
        let (got, v) = post(body.clone())?;
        assert_eq!(
            (got, v.as_str().unwrap_or_default()),
            (code, message),
            "{body}"
        );
    }
    let (code, v) = post(silence(
        json!([{"name": "job", "value": "(", "isRegex": true}]),
        "2099-01-01T00:00:00Z",
        "2099-01-02T00:00:00Z",
    ))?;
    assert_eq!(code, 400);
    assert!(
        v.as_str().unwrap().starts_with(
            "invalid silence: invalid label matcher 0: invalid regular expression \"(\""
        ),
        "{v}"
    );
    let mut unknown = silence(foo, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    unknown["id"] = json!("00000000-0000-4000-8000-000000000000");
    assert_eq!(post(unknown)?, (404, json!("silence not found")));
    // Nothing was stored.
    let all = json_of(client().get(format!("{url}/api/v2/silences")).send()?)?;
    assert_eq!(all, json!([]));
    Ok(())
}

const ALERT_CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: [severity="critical"]
      receiver: pager
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [host]
receivers:
  - name: team
  - name: pager
"#;

const DISK_RULES: &str = r#"
name: disk
interval: 1s
rules:
  - alert: DiskFull
    expr: disk_used > 90
    labels: {severity: critical}
    annotations: {summary: "disk full on {{ $labels.host }}"}
  - alert: DiskFilling
    expr: disk_used > 80
    labels: {severity: warning}
    annotations: {summary: "disk filling on {{ $labels.host }}"}
"#;

fn alert_query(url: &str, extra: &[&str]) -> Result<Vec<Value>> {
    let mut args = vec!["alert", "query", "-o", "json"];
    args.extend_from_slice(extra);
    let out = run_amtool(url, &args)?;
    let v: Value = serde_json::from_str(&out).with_context(|| format!("amtool's JSON: {out}"))?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

/// (alertname, host) of each alert in an amtool JSON listing, sorted.
fn names(alerts: &[Value]) -> Vec<(String, String)> {
    let mut n: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                a["labels"]["host"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    n.sort();
    n
}

fn pair(a: &str, h: &str) -> (String, String) {
    (a.to_string(), h.to_string())
}

#[test]
fn amtool_lists_alerts_with_receivers_silences_and_inhibitions() -> Result<()> {
    let cluster = TestCluster::start(3)?;
    let url = cluster.url(1);
    let resp = client()
        .put(format!("{url}/api/v1/alerts/config"))
        .body(ALERT_CONFIG)
        .send()?;
    anyhow::ensure!(resp.status() == 200, "config: {}", resp.text()?);
    put_group(&url, "default", "disk", DISK_RULES)?;
    // a: 95 (DiskFull and DiskFilling, the warning inhibited); b: 85 (DiskFilling only).
    let now = now_ms();
    write_lines(
        &url,
        None,
        "ms",
        &format!("disk_used,host=a value=95 {now}\ndisk_used,host=b value=85 {now}\n"),
    )?;

    // Every node lists the same alerts: the meta leader from its board, the others by
    // forwarding to it.
    for id in 1..=3 {
        let node_url = cluster.url(id);
        let all = wait_for(
            "three alerts listed",
            std::time::Duration::from_secs(30),
            || {
                let a = alert_query(&node_url, &["--active", "--inhibited"]).ok()?;
                (a.len() == 3).then_some(a)
            },
        )
        .unwrap();
        assert_eq!(
            names(&all),
            vec![
                pair("DiskFilling", "a"),
                pair("DiskFilling", "b"),
                pair("DiskFull", "a")
            ]
        );
        let full = all
            .iter()
            .find(|a| a["labels"]["alertname"] == "DiskFull")
            .unwrap();
        assert_eq!(full["receivers"], json!([{"name": "pager"}]));
        assert_eq!(full["annotations"]["summary"], "disk full on a");
        assert_eq!(full["status"]["state"], "active");
        let inhibited = all
            .iter()
            .find(|a| a["labels"]["alertname"] == "DiskFilling" && a["labels"]["host"] == "a")
            .unwrap();
        assert_eq!(inhibited["status"]["state"], "suppressed");
        assert_eq!(
            inhibited["status"]["inhibitedBy"],
            json!([full["fingerprint"]])
        );
        assert_eq!(inhibited["receivers"], json!([{"name": "team"}]));
    }
    // amtool hides suppressed alerts unless asked; alone, --inhibited shows only those.
    assert_eq!(
        names(&alert_query(&url, &["--inhibited"])?),
        vec![pair("DiskFilling", "a")]
    );
    assert_eq!(
        names(&alert_query(&url, &[])?),
        vec![pair("DiskFilling", "b"), pair("DiskFull", "a")]
    );
    assert_eq!(
        names(&alert_query(&url, &["host=b"])?),
        vec![pair("DiskFilling", "b")]
    );
    assert_eq!(
        names(&alert_query(&url, &["--receiver=pager"])?),
        vec![pair("DiskFull", "a")]
    );

    // A silence: b's alert is silenced (shown with --silenced only).
    let id = run_amtool(
        &url,
        &[
            "silence",
            "add",
            "host=b",
            "--comment=maintenance",
            "--duration=1h",
            "--author=test",
        ],
    )?;
    let id = id.trim().to_string();
    let silenced = wait_for("b silenced", std::time::Duration::from_secs(10), || {
        let a = alert_query(&url, &["--active", "--silenced"]).ok()?;
        let b = a.iter().find(|a| a["labels"]["host"] == "b")?.clone();
        (b["status"]["state"] == "suppressed").then_some(b)
    })
    .unwrap();
    assert_eq!(silenced["status"]["silencedBy"], json!([id]));
    assert_eq!(names(&alert_query(&url, &[])?), vec![pair("DiskFull", "a")]);

    // The groups view: one group per alert name, with its receiver.
    let groups: Vec<Value> = json_of(client().get(format!("{url}/api/v2/alerts/groups")).send()?)?
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut seen: Vec<(String, String)> = groups
        .iter()
        .map(|g| {
            (
                g["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                g["receiver"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![pair("DiskFilling", "team"), pair("DiskFull", "pager")]
    );
    Ok(())
}
