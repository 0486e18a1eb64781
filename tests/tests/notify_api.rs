//! The notification API on a real node: a tenant's `alertmanager.yml` stored, read back in
//! Mimir's form and deleted (`/api/v1/alerts/config`), Alertmanager's `/api/v2/status` and
//! `/api/v2/receivers` from it, and alerts from outside (`POST /api/v1/alerts/external`)
//! accepted only with the right HMAC signature and from allowed addresses, then listed in
//! `GET /api/v1/alerts`; `/api/v2/receivers` shows each integration's last notification.
//! `cairn alerts config check|apply|show` as a user runs them, with a template file the
//! configuration names.

use anyhow::{Context, Result};
use cairn_alerting::notify::signature::sign;
use std::time::Duration;

use cairn_tests::{CairnProcess, CaptureServer, Reply, cairn_cli, client, wait_for};
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
    // Receivers without integrations: nothing to report on.
    assert_eq!(
        json(&receivers),
        json!([{"name": "team", "integrations": []}, {"name": "pager", "integrations": []}])
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

#[test]
fn receivers_show_each_integrations_last_notification() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(dir.path(), &[])?;
    // A 400 is not retried: the failing webhook's notification ends at once, and the long
    // group_interval keeps the next flush (which would try it again) past the test's end.
    let refusing = CaptureServer::start()?;
    refusing.respond(Reply::status(400).body("no such hook"));
    let accepting = CaptureServer::start()?;
    let yml = format!(
        "route:
  receiver: hooks
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: hooks
    webhook_configs:
      - url: {}/hook
      - url: {}/hook
        send_resolved: false
  - name: quiet
external_alerts:
  secret: s3cret
",
        refusing.url(),
        accepting.url()
    );
    let cfg = format!("{}/api/v1/alerts/config", node.url);
    let (code, body) = call("PUT", &cfg, TENANT, Some(yml), &[])?;
    assert_eq!(code, 200, "{body}");
    let receivers_url = format!("{}/api/v2/receivers", node.url);

    // Before any notification: every integration listed, never tried.
    let (code, body) = call("GET", &receivers_url, TENANT, None, &[])?;
    assert_eq!(code, 200, "{body}");
    let never = |name: &str, send_resolved: bool| {
        json!({
            "name": name,
            "sendResolved": send_resolved,
            "lastNotifyAttempt": "0001-01-01T00:00:00.000Z",
            "lastNotifyAttemptDuration": "0s",
            "lastNotifyAttemptError": "",
        })
    };
    assert_eq!(
        json(&body),
        json!([
            {"name": "hooks", "integrations": [never("webhook[0]", true), never("webhook[1]", false)]},
            {"name": "quiet", "integrations": []},
        ])
    );

    let alert = r#"[{"labels":{"alertname":"DiskFull"}}]"#;
    let sig = sign(b"s3cret", alert.as_bytes());
    let (code, text) = call(
        "POST",
        &format!("{}/api/v1/alerts/external", node.url),
        TENANT,
        Some(alert.into()),
        &[("X-Cairn-Signature", &sig)],
    )?;
    assert_eq!(code, 200, "{text}");
    accepting.wait_for(1, Duration::from_secs(30))?;

    // Both integrations have tried once the accepting one has had its request (they are sent
    // side by side), but the status is written after the answer: wait for both.
    let hooks = wait_for("both webhooks' status", Duration::from_secs(30), || {
        let (_, body) = call("GET", &receivers_url, TENANT, None, &[]).ok()?;
        let hooks = json(&body)[0]["integrations"].as_array()?.clone();
        hooks
            .iter()
            .all(|i| i["lastNotifyAttempt"] != "0001-01-01T00:00:00.000Z")
            .then_some(hooks)
    })?;
    assert_eq!(refusing.requests().len(), 1);
    let (failed, delivered) = (&hooks[0], &hooks[1]);
    assert_eq!(failed["name"], "webhook[0]");
    let error = failed["lastNotifyAttemptError"].as_str().unwrap();
    for part in ["hooks/webhook[0]", "400", "no such hook"] {
        assert!(error.contains(part), "{part:?} not in {error:?}");
    }
    assert_eq!(delivered["name"], "webhook[1]");
    assert_eq!(delivered["lastNotifyAttemptError"], "");
    for i in [failed, delivered] {
        let at = i["lastNotifyAttempt"].as_str().unwrap();
        assert!(at.ends_with('Z') && at.starts_with("20"), "{i}");
        let took = i["lastNotifyAttemptDuration"].as_str().unwrap();
        // A loopback answer can take under a millisecond: "0s" is a fair duration.
        assert!(took.ends_with('s'), "{i}");
    }

    // Another tenant with a receiver of the same name sees none of it, and /metrics tells
    // the tenants apart.
    let other_yml = "route: {receiver: hooks}\nreceivers:\n  - name: hooks\n    webhook_configs:\n      - url: http://127.0.0.1:9/hook\n";
    assert_eq!(
        call("PUT", &cfg, "other", Some(other_yml.into()), &[])?.0,
        200
    );
    let (_, body) = call("GET", &receivers_url, "other", None, &[])?;
    assert_eq!(
        json(&body)[0]["integrations"][0]["lastNotifyAttemptError"],
        ""
    );
    let metrics = client()
        .get(format!("{}/metrics", node.url))
        .send()?
        .text()?;
    for line in [
        r#"cairn_notifications_total{tenant="acme",receiver="hooks",integration="webhook"} 2"#,
        r#"cairn_notifications_failed_total{tenant="acme",receiver="hooks",integration="webhook",reason="clientError"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    Ok(())
}

#[test]
fn the_cli_checks_applies_and_shows_a_configuration_with_its_templates() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = CairnProcess::start(&dir.path().join("data"), &[])?;
    let url = node.url.clone();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(conf.join("templates"))?;
    std::fs::write(
        conf.join("templates/ops.tmpl"),
        "{{ define \"ops.title\" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}\n",
    )?;
    let good = conf.join("alertmanager.yml");
    std::fs::write(
        &good,
        "templates: ['templates/*.tmpl']\nroute: {receiver: ops}\nreceivers:\n  - name: ops\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\n        title: '{{ template \"ops.title\" . }}'\n",
    )?;
    let bad = conf.join("bad.yml");
    std::fs::write(
        &bad,
        "route: {receiver: nobody}\nreceivers:\n  - name: ops\n",
    )?;

    let (ok, out, err) = cairn_cli(&["alerts", "config", "check", good.to_str().unwrap()])?;
    assert!(ok, "check failed: {out}{err}");
    let (ok, out, err) = cairn_cli(&["alerts", "config", "check", bad.to_str().unwrap()])?;
    assert!(!ok, "a bad file passed: {out}");
    assert!(format!("{out}{err}").contains("nobody"), "{out}{err}");

    let (ok, out, err) = cairn_cli(&[
        "alerts",
        "config",
        "apply",
        "--url",
        &url,
        "--tenant",
        TENANT,
        good.to_str().unwrap(),
    ])?;
    assert!(ok, "apply failed: {out}{err}");
    // Refused whole, naming the problem; the stored configuration stays.
    let (ok, out, err) = cairn_cli(&[
        "alerts",
        "config",
        "apply",
        "--url",
        &url,
        "--tenant",
        TENANT,
        bad.to_str().unwrap(),
    ])?;
    assert!(
        !ok && format!("{out}{err}").contains("nobody"),
        "{out}{err}"
    );
    let (ok, shown, err) = cairn_cli(&[
        "alerts", "config", "show", "--url", &url, "--tenant", TENANT,
    ])?;
    assert!(ok, "show failed: {err}");
    assert!(shown.contains("templates/ops.tmpl"), "{shown}");
    assert!(shown.contains("ops.title"), "{shown}");
    assert!(shown.contains("slack_configs"), "{shown}");
    Ok(())
}
