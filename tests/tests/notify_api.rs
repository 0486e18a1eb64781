//! The notification API on a real node: a tenant's `alertmanager.yml` stored, read back in
//! Mimir's form and deleted (`/api/v1/alerts/config`), Alertmanager's `/api/v2/status` and
//! `/api/v2/receivers` from it, and alerts from outside (`POST /api/v1/alerts/external`)
//! accepted only with the right HMAC signature and from allowed addresses, then listed in
//! `GET /api/v1/alerts`.
//!
//! The tests marked `needs the configuration parser` store a valid configuration, which needs
//! `AlertmanagerConfig::parse` and `payload::Templates::new` (built on their own branches).

use anyhow::{Context, Result};
use cairn_alerting::notify::signature::sign;
use cairn_tests::{CairnProcess, client};
use serde_json::{Value, json};

const TENANT: &str = "acme";

const AM_YML: &str = "route:
  receiver: team
  routes:
    - matchers: ['severity=\"critical\"']
      receiver: pager
receivers:
  - name: team
  - name: pager
external_alerts:
  secret: s3cret
";

/// A request as `tenant`: status, body text.
fn call(
    method: &str,
    url: &str,
    tenant: &str,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Result<(u16, String)> {
    let c = client();
    let mut req = match method {
        "PUT" => c.put(url),
        "POST" => c.post(url),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    }
    .header("X-Scope-OrgID", tenant);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().with_context(|| format!("{method} {url}"))?;
    Ok((resp.status().as_u16(), resp.text()?))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn config_plumbing_without_a_stored_configuration() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let cfg = format!("{}/api/v1/alerts/config", node.url);

    let (code, body) = call("GET", &cfg, TENANT, None, &[])?;
    assert_eq!(code, 404, "{body}");
    assert!(
        json(&body)["error"].as_str().unwrap().contains("\"acme\""),
        "{body}"
    );
    let (code, _) = call("DELETE", &cfg, TENANT, None, &[])?;
    assert_eq!(code, 200);

    // Mimir's form with a key it does not have: named.
    let (code, body) = call(
        "PUT",
        &cfg,
        TENANT,
        Some("alertmanager_config: |\n  route: {receiver: a}\ntemplates: {}\n".into()),
        &[],
    )?;
    assert_eq!(code, 400, "{body}");
    let v = json(&body);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("templates: unknown key"),
        "{v}"
    );
    // A configuration that does not validate: 400 with the errors as records; nothing stored.
    let (code, body) = call("PUT", &cfg, TENANT, Some("route: [\n".into()), &[])?;
    assert_eq!(code, 400, "{body}");
    assert!(
        !json(&body)["errors"].as_array().unwrap().is_empty(),
        "{body}"
    );
    assert_eq!(call("GET", &cfg, TENANT, None, &[])?.0, 404);

    // Without a configuration: no receivers, an empty original, and no external alerts.
    let (code, body) = call(
        "GET",
        &format!("{}/api/v2/receivers", node.url),
        TENANT,
        None,
        &[],
    )?;
    assert_eq!((code, json(&body)), (200, json!([])));
    let (code, body) = call(
        "GET",
        &format!("{}/api/v2/status", node.url),
        TENANT,
        None,
        &[],
    )?;
    assert_eq!(code, 200);
    let status = json(&body);
    assert_eq!(status["config"]["original"], "");
    assert_eq!(status["cluster"]["status"], "ready");
    assert_eq!(status["cluster"]["peers"].as_array().unwrap().len(), 1);
    let body = r#"[{"labels":{"alertname":"A"}}]"#;
    let sig = sign(b"s3cret", body.as_bytes());
    let (code, text) = call(
        "POST",
        &format!("{}/api/v1/alerts/external", node.url),
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &sig)],
    )?;
    assert_eq!(code, 404, "{text}");
    Ok(())
}

#[test]
fn config_is_stored_read_back_and_deleted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let cfg = format!("{}/api/v1/alerts/config", node.url);

    // A plain file.
    let (code, body) = call("PUT", &cfg, TENANT, Some(AM_YML.into()), &[])?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["data"]["receivers"], json!(["team", "pager"]));
    let (code, yaml) = call("GET", &cfg, TENANT, None, &[])?;
    assert_eq!(code, 200);
    assert!(
        yaml.starts_with("template_files: {}\nalertmanager_config: |\n  route:\n"),
        "{yaml}"
    );
    // Read back and sent again, it is the same configuration (Mimir's form, with templates).
    let with_templates = yaml.replace(
        "template_files: {}",
        "template_files:\n  my.tmpl: '{{ define \"x\" }}y{{ end }}'",
    );
    let (code, body) = call("PUT", &cfg, TENANT, Some(with_templates.clone()), &[])?;
    assert_eq!(code, 200, "{body}");
    let (_, again) = call("GET", &cfg, TENANT, None, &[])?;
    assert!(again.contains("my.tmpl: "), "{again}");
    assert!(
        again.ends_with(&yaml["template_files: {}\n".len()..]),
        "{again}"
    );

    // Alertmanager's views of it.
    let (_, receivers) = call(
        "GET",
        &format!("{}/api/v2/receivers", node.url),
        TENANT,
        None,
        &[],
    )?;
    assert_eq!(
        json(&receivers),
        json!([{"name": "team"}, {"name": "pager"}])
    );
    let (_, status) = call(
        "GET",
        &format!("{}/api/v2/status", node.url),
        TENANT,
        None,
        &[],
    )?;
    assert!(
        json(&status)["config"]["original"]
            .as_str()
            .unwrap()
            .contains("receiver: team"),
        "{status}"
    );
    // Another tenant has none.
    assert_eq!(call("GET", &cfg, "other", None, &[])?.0, 404);

    // A bad one names the key and leaves the stored one as it was.
    let bad = "route:\n  receiver: team\n  bogus_key: 1\nreceivers:\n  - name: team\n";
    let (code, body) = call("PUT", &cfg, TENANT, Some(bad.into()), &[])?;
    assert_eq!(code, 400, "{body}");
    let v = json(&body);
    assert!(v["error"].as_str().unwrap().contains("bogus_key"), "{v}");
    assert_eq!(v["errors"][0]["line"], 3, "{v}");
    assert_eq!(call("GET", &cfg, TENANT, None, &[])?.1, again);

    let (code, _) = call("DELETE", &cfg, TENANT, None, &[])?;
    assert_eq!(code, 200);
    assert_eq!(call("GET", &cfg, TENANT, None, &[])?.0, 404);
    Ok(())
}

#[test]
fn external_alerts_need_the_signature_and_an_allowed_address() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    let cfg = format!("{}/api/v1/alerts/config", node.url);
    let ext = format!("{}/api/v1/alerts/external", node.url);
    let alerts = || -> Result<Vec<Value>> {
        let (code, body) = call(
            "GET",
            &format!("{}/api/v1/alerts", node.url),
            TENANT,
            None,
            &[],
        )?;
        anyhow::ensure!(code == 200, "{body}");
        Ok(json(&body)["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    };

    // Without external_alerts in the configuration: refused.
    let no_ext = AM_YML.replace("external_alerts:\n  secret: s3cret\n", "");
    assert_eq!(call("PUT", &cfg, TENANT, Some(no_ext), &[])?.0, 200);
    let body = r#"{"version":"4","status":"firing","alerts":[
        {"status":"firing","labels":{"alertname":"DiskFull","severity":"critical"},
         "annotations":{"summary":"disk full"},"startsAt":"2024-01-01T00:00:00Z",
         "endsAt":"0001-01-01T00:00:00Z"}]}"#;
    let good = sign(b"s3cret", body.as_bytes());
    let (code, text) = call(
        "POST",
        &ext,
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &good)],
    )?;
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("external_alerts"), "{text}");

    assert_eq!(call("PUT", &cfg, TENANT, Some(AM_YML.into()), &[])?.0, 200);
    // Missing and wrong signatures: 401, nothing stored.
    let (code, text) = call("POST", &ext, TENANT, Some(body.into()), &[])?;
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("missing X-Cairn-Signature"), "{text}");
    let wrong = sign(b"not the secret", body.as_bytes());
    let (code, _) = call(
        "POST",
        &ext,
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &wrong)],
    )?;
    assert_eq!(code, 401);
    let tampered = body.replace("critical", "warning");
    let (code, _) = call(
        "POST",
        &ext,
        TENANT,
        Some(tampered),
        &[("X-Cairn-Signature", &good)],
    )?;
    assert_eq!(code, 401);
    assert!(alerts()?.is_empty());

    // The right one: stored, listed beside Cairn's own with the source label.
    let (code, text) = call(
        "POST",
        &format!("{ext}?source=flexmon"),
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &good)],
    )?;
    assert_eq!(code, 200, "{text}");
    assert_eq!(json(&text)["data"]["alerts"], 1);
    let listed = alerts()?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0]["labels"],
        json!({"alertname": "DiskFull", "severity": "critical", "source": "flexmon"})
    );
    assert_eq!(listed[0]["state"], "firing");
    assert_eq!(listed[0]["activeAt"], "2024-01-01T00:00:00.000Z");
    assert_eq!(listed[0]["annotations"]["summary"], "disk full");
    // Another tenant sees none of it.
    let (_, other) = call(
        "GET",
        &format!("{}/api/v1/alerts", node.url),
        "other",
        None,
        &[],
    )?;
    assert_eq!(json(&other)["data"]["alerts"], json!([]));

    // A list of postable alerts; a bad one names its index and field, and nothing of the
    // request is stored.
    let list = r#"[{"labels":{"alertname":"A"}},{"labels":{}},{"labels":{"alertname":"B"},"startsAt":"soon"}]"#;
    let sig = sign(b"s3cret", list.as_bytes());
    let (code, text) = call(
        "POST",
        &ext,
        TENANT,
        Some(list.into()),
        &[("X-Cairn-Signature", &sig)],
    )?;
    assert_eq!(code, 400, "{text}");
    let error = json(&text)["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("alert 1: labels:") && error.contains("alert 2: startsAt:"),
        "{error}"
    );
    assert_eq!(alerts()?.len(), 1);

    // An allow-list that leaves out loopback: 403 even when signed.
    let listed_only = AM_YML.replace(
        "  secret: s3cret\n",
        "  secret: s3cret\n  allowed_ips: [10.0.0.0/8]\n",
    );
    assert_eq!(call("PUT", &cfg, TENANT, Some(listed_only), &[])?.0, 200);
    let (code, text) = call(
        "POST",
        &ext,
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &good)],
    )?;
    assert_eq!(code, 403, "{text}");
    assert!(
        text.contains("127.0.0.1 is not in external_alerts.allowed_ips"),
        "{text}"
    );
    let with_loopback = AM_YML.replace(
        "  secret: s3cret\n",
        "  secret: s3cret\n  allowed_ips: [10.0.0.0/8, 127.0.0.0/8]\n",
    );
    assert_eq!(call("PUT", &cfg, TENANT, Some(with_loopback), &[])?.0, 200);
    let (code, text) = call(
        "POST",
        &ext,
        TENANT,
        Some(body.into()),
        &[("X-Cairn-Signature", &good)],
    )?;
    assert_eq!(code, 200, "{text}");
    Ok(())
}
