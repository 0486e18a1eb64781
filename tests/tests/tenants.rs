//! Tenant retention policies on a real node: `PUT /api/v1/tenants/{t}/retention` stored in
//! the meta group and shown by `GET /api/v1/tenants/{t}` with each value's source; invalid
//! values a 400 naming the field with nothing stored; `DELETE` back to the cluster defaults;
//! `cairn tenant set-retention` and `cairn cluster status` as a user runs them.

use anyhow::{Context, Result};
use cairn_tests::{CairnProcess, cairn_cli, client};
use serde_json::Value;

/// A request: status, body as JSON.
fn call(method: &str, url: &str, body: Option<&str>) -> Result<(u16, Value)> {
    let c = client();
    let mut req = match method {
        "PUT" => c.put(url),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    };
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().context("sending")?;
    let status = resp.status().as_u16();
    let text = resp.text()?;
    let v = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
    Ok((status, v))
}

/// `(value, source)` per tier of a tenant document.
fn tiers(data: &Value) -> Vec<(String, String)> {
    ["raw", "rollup_5m", "rollup_1h"]
        .iter()
        .map(|t| {
            let r = &data["retention"][*t];
            (
                r["value"].as_str().unwrap_or("?").to_string(),
                r["source"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn retention_overrides_are_stored_validated_shown_and_removed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Cluster defaults from the flag (raw) and the built-in rollup tiers.
    let node = CairnProcess::start(dir.path(), &["--retention", "3d"])?;
    let tenant_url = format!("{}/api/v1/tenants/acme", node.url);
    let retention_url = format!("{tenant_url}/retention");
    let defaults = pairs(&[("3d", "default"), ("30d", "default"), ("365d", "default")]);

    let (code, v) = call("GET", &tenant_url, None)?;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["tenant"], "acme");
    assert_eq!(tiers(&v["data"]), defaults);

    // A good PUT: the answer and a later GET show the effective policy and its sources.
    let (code, v) = call(
        "PUT",
        &retention_url,
        Some(r#"{"raw":"14d","rollup_1h":"0s"}"#),
    )?;
    assert_eq!(code, 200, "{v}");
    let want = pairs(&[("14d", "tenant"), ("30d", "default"), ("0s", "tenant")]);
    assert_eq!(tiers(&v["data"]), want);
    let (_, v) = call("GET", &tenant_url, None)?;
    assert_eq!(tiers(&v["data"]), want);
    assert_eq!(v["data"]["retention"]["raw"]["ms"], 14 * 86_400_000i64);

    // Bad PUTs: 400 naming the field, and the stored policy unchanged.
    for (body, names) in [
        (
            r#"{"raw":"30d","rollup_5m":"7d"}"#,
            "rollup_5m: 7d is shorter than raw (30d)",
        ),
        (r#"{"rollup_1h":"1 year"}"#, "rollup_1h: \"1 year\""),
        (r#"{"raw":"7x"}"#, "raw: \"7x\" is not a duration"),
        (r#"{"rollup_15m":"7d"}"#, "rollup_15m"),
    ] {
        let (code, v) = call("PUT", &retention_url, Some(body))?;
        assert_eq!(code, 400, "{body}: {v}");
        let err = v["error"].as_str().unwrap_or_default();
        assert!(err.contains(names), "{body}: {err}");
        let (_, v) = call("GET", &tenant_url, None)?;
        assert_eq!(tiers(&v["data"]), want, "{body} changed nothing");
    }
    let (code, _) = call(
        "PUT",
        &format!("{}/api/v1/tenants/a%20b/retention", node.url),
        Some("{}"),
    )?;
    assert_eq!(code, 400, "an invalid tenant name");

    // DELETE: the defaults again (and again, idempotently).
    for _ in 0..2 {
        let (code, v) = call("DELETE", &retention_url, None)?;
        assert_eq!(code, 200, "{v}");
        assert_eq!(tiers(&v["data"]), defaults);
    }
    let (_, v) = call("GET", &tenant_url, None)?;
    assert_eq!(tiers(&v["data"]), defaults);

    // The CLI: set-retention through the real binary, then shown by show and cluster status.
    let (ok, out, err) = cairn_cli(&[
        "tenant",
        "set-retention",
        "--url",
        &node.url,
        "globex",
        "--raw",
        "10d",
        "--5m",
        "60d",
        "--1h",
        "0s",
    ])?;
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out,
        "tenant globex retention: raw 10d (tenant) · rollup_5m 60d (tenant) · rollup_1h forever (tenant)\n"
    );
    let (ok, out, err) = cairn_cli(&[
        "tenant",
        "set-retention",
        "--url",
        &node.url,
        "globex",
        "--raw",
        "90d",
        "--5m",
        "60d",
    ])?;
    assert!(!ok, "{out}");
    assert!(
        err.contains("rollup_5m: 60d is shorter than raw (90d)"),
        "{err}"
    );
    let (ok, out, err) = cairn_cli(&["tenant", "show", "--url", &node.url, "globex"])?;
    assert!(ok, "{err}");
    assert!(out.contains("raw 10d (tenant)"), "{out}");

    let (ok, out, err) = cairn_cli(&["cluster", "status", "--url", &node.url])?;
    assert!(ok, "{err}");
    assert!(
        out.contains("retention defaults: raw 3d · rollup_5m 30d · rollup_1h 365d"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("globex "))
        .with_context(|| format!("no globex row in:\n{out}"))?;
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["globex", "10d*", "60d*", "forever*"], "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("acme ")),
        "acme was reset:\n{out}"
    );

    let (ok, _, err) = cairn_cli(&["tenant", "reset-retention", "--url", &node.url, "globex"])?;
    assert!(ok, "{err}");
    let (_, out, _) = cairn_cli(&["cluster", "status", "--url", &node.url])?;
    assert!(out.contains("no tenant overrides"), "{out}");
    Ok(())
}
