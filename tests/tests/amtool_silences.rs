//! The real `amtool` (Debian's Alertmanager 0.25) against a real Cairn node: a silence added,
//! queried (table and `-o json`), updated in place, updated into a replacement (the old one
//! expired, a new id), and expired, each step checked through Alertmanager's API v2 too; and
//! the API's refusals with Alertmanager's messages.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use cairn_tests::{CairnProcess, client};
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
