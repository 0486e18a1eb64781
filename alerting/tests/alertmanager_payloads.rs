//! Parity with the real Alertmanager (Debian's 0.25): it runs on loopback with webhook, Slack
//! and Telegram receivers pointing at a capture server in this test; the same alerts go to
//! it and to Cairn's payload builders, and the bodies must be equal byte for byte (the
//! `User-Agent` is the only header allowed to differ). E-mail is not compared here.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_alerting::notify::config::{GlobalConfig, HttpClientConfig, Secret};
use cairn_alerting::notify::integrations::{
    SlackAction, SlackConfig, SlackField, TelegramConfig, WebhookConfig,
};
use cairn_alerting::notify::payload::{NotificationInput, Templates, build};
use cairn_alerting::notify::{Integration, NotifyAlert, Outgoing};

const AM: &str = "/usr/bin/prometheus-alertmanager";
const RECEIVER: &str = "team-x.hooks";
const EXTERNAL_URL: &str = "http://cairn.example:9093";

#[derive(Debug, Clone)]
struct Captured {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A loopback HTTP server recording every request; answers as Slack and Telegram do.
struct Capture {
    port: u16,
    seen: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    fn start() -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Capture { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `n`th request (0-based) to a path starting with `prefix`, waiting for it.
    fn nth(&self, prefix: &str, n: usize) -> Captured {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found: Vec<Captured> = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.path.starts_with(prefix))
                .cloned()
                .collect();
            if let Some(c) = found.get(n) {
                return c.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no request #{n} to {prefix} within 30s; got {:?}",
                found.iter().map(|c| &c.path).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Captured>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        let mut len = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let answer = if path.contains("/sendMessage") {
            r#"{"ok":true,"result":{"message_id":1,"chat":{"id":42,"type":"private"},"date":0,"text":""}}"#
        } else {
            "ok"
        };
        seen.lock().unwrap().push(Captured {
            path,
            headers,
            body,
        });
        let mut w = &conn;
        let _ = write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A blocking HTTP/1.1 request; the status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Ok((status, body.to_string()))
}

struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    fn start(config: &str) -> Alertmanager {
        assert!(
            Path::new(AM).exists(),
            "{AM} is missing: run `scripts/setup.sh alertmanager` to install Debian's Alertmanager"
        );
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(&cfg, config).unwrap();
        let port = free_port();
        let child = Command::new(AM)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url={EXTERNAL_URL}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let am = Alertmanager {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(http(port, "GET", "/-/ready", ""), Ok((200, _))) {
            assert!(Instant::now() < deadline, "Alertmanager not ready in 30s");
            std::thread::sleep(Duration::from_millis(50));
        }
        am
    }

    fn post_alerts(&self, json: &str) {
        let (status, body) = http(self.port, "POST", "/api/v2/alerts", json).unwrap();
        assert_eq!(status, 200, "posting alerts: {body}");
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    let t = cairn_alerting::template::GoTime::from_unix_millis(ms);
    t.format("2006-01-02T15:04:05.999999999Z07:00")
}

/// The alerts of the test, in Alertmanager's order within a group (by `instance`).
fn alerts(starts_ms: i64, ends_ms: i64) -> Vec<NotifyAlert> {
    let a = |instance: &str, summary: &str| NotifyAlert {
        labels: labels(&[
            ("alertname", "DiskFull"),
            ("instance", instance),
            ("job", "node"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[
            ("summary", summary),
            ("runbook", "https://runbooks.example/disk?x=1&y=2"),
        ]),
        starts_at_ms: starts_ms,
        ends_at_ms: ends_ms,
        generator_url: format!(
            "http://prom.example:9090/graph?g0.expr=disk%7Binstance%3D%22{instance}%22%7D"
        ),
        updated_at_ms: starts_ms,
    };
    vec![
        a("db-1:9100", "Disk <90%> full & rising on db-1"),
        a("db-2:9100", "Disk \"nearly\" full on db-2 — ünïcode"),
    ]
}

fn postable(alerts: &[NotifyAlert], with_end: bool) -> String {
    let list: Vec<serde_json::Value> = alerts
        .iter()
        .map(|a| {
            let mut v = serde_json::json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at_ms),
                "generatorURL": a.generator_url,
            });
            if with_end {
                v["endsAt"] = serde_json::Value::String(rfc3339(a.ends_at_ms));
            }
            v
        })
        .collect();
    serde_json::to_string(&list).unwrap()
}

const SLACK_TEXT: &str = r#"{{ range .Alerts }}*{{ .Labels.instance | toUpper }}* {{ .Annotations.summary }} (since {{ .StartsAt.Format "15:04:05" }}, {{ .Fingerprint }}){{ "\n" }}{{ end }}{{ .CommonLabels.Remove (stringSlice "job") }}"#;
const SLACK_FIELD: &str =
    r#"{{ .CommonLabels.severity | title }} on {{ .CommonLabels.SortedPairs.Names | join "," }}"#;
const SLACK_URL: &str = r#"{{ reReplaceAll "\\?.*" "" (index .Alerts 0).Annotations.runbook }}"#;

fn am_config(cap: &Capture) -> String {
    format!(
        r#"
route:
  receiver: {RECEIVER}
  group_by: [alertname]
  group_wait: 2s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: {RECEIVER}
  webhook_configs:
  - url: {webhook}
  slack_configs:
  - api_url: {slack}
    send_resolved: true
    channel: '#alerts'
    text: '{text}'
    short_fields: true
    fields:
    - title: Severity
      value: '{field}'
    - title: Count
      value: '{{{{ len .Alerts }}}}'
      short: false
    actions:
    - type: button
      text: Runbook
      url: '{url}'
  telegram_configs:
  - api_url: {telegram}
    bot_token: bot-token-1
    chat_id: -1001234
"#,
        webhook = cap.url("/webhook"),
        slack = cap.url("/slack"),
        telegram = cap.url("/telegram"),
        text = SLACK_TEXT.replace('\'', "''"),
        field = SLACK_FIELD.replace('\'', "''"),
        url = SLACK_URL.replace('\'', "''"),
    )
}

fn integrations(cap: &Capture) -> Vec<Integration> {
    let webhook = WebhookConfig {
        url: Some(Secret(cap.url("/webhook"))),
        ..Default::default()
    };
    let slack = SlackConfig {
        api_url: Some(Secret(cap.url("/slack"))),
        send_resolved: true,
        channel: "#alerts".to_string(),
        text: SLACK_TEXT.to_string(),
        short_fields: true,
        fields: vec![
            SlackField {
                title: "Severity".to_string(),
                value: SLACK_FIELD.to_string(),
                short: None,
            },
            SlackField {
                title: "Count".to_string(),
                value: "{{ len .Alerts }}".to_string(),
                short: Some(false),
            },
        ],
        actions: vec![SlackAction {
            kind: "button".to_string(),
            text: "Runbook".to_string(),
            url: SLACK_URL.to_string(),
            style: String::new(),
            name: String::new(),
            value: String::new(),
        }],
        ..Default::default()
    };
    let telegram = TelegramConfig {
        api_url: cap.url("/telegram"),
        bot_token: Some(Secret("bot-token-1".to_string())),
        chat_id: -1001234,
        http_config: HttpClientConfig::default(),
        ..Default::default()
    };
    vec![
        Integration::Webhook(webhook),
        Integration::Slack(slack),
        Integration::Telegram(telegram),
    ]
}

fn global() -> GlobalConfig {
    GlobalConfig {
        resolve_timeout_ms: 300_000,
        http_config: HttpClientConfig::default(),
        smtp_from: None,
        smtp_hello: "localhost".to_string(),
        smtp_smarthost: None,
        smtp_auth_username: None,
        smtp_auth_password: None,
        smtp_auth_password_file: None,
        smtp_auth_secret: None,
        smtp_auth_identity: None,
        smtp_require_tls: true,
        slack_api_url: None,
        slack_api_url_file: None,
        telegram_api_url: "https://api.telegram.org".to_string(),
        whatsapp_api_url: "https://graph.facebook.com/v21.0".to_string(),
    }
}

fn cairn_request(integration: &Integration, input: &NotificationInput) -> (String, Vec<u8>) {
    let templates = Templates::with_files(&global(), &BTreeMap::new()).unwrap();
    let no_files = |p: &str| Err(format!("no file {p}"));
    match build(integration, input, &templates, &no_files).unwrap() {
        Outgoing::Http(reqs) => {
            assert_eq!(reqs.len(), 1);
            (reqs[0].url.clone(), reqs[0].body.clone())
        }
        other => panic!("not HTTP: {other:?}"),
    }
}

fn compare(what: &str, am: &Captured, url: &str, cairn: &[u8], cap: &Capture) {
    assert_eq!(cap.url(&am.path), url, "{what}: URL");
    let am_json: serde_json::Value = serde_json::from_slice(&am.body).unwrap();
    let cairn_json: serde_json::Value = serde_json::from_slice(cairn).unwrap();
    assert_eq!(
        cairn_json,
        am_json,
        "{what}: JSON differs\nAlertmanager: {}\nCairn:        {}",
        String::from_utf8_lossy(&am.body),
        String::from_utf8_lossy(cairn)
    );
    assert_eq!(
        String::from_utf8_lossy(cairn),
        String::from_utf8_lossy(&am.body),
        "{what}: bytes differ"
    );
    let ct = am
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    assert_eq!(ct, Some("application/json"), "{what}: content type");
}

#[test]
fn webhook_slack_and_telegram_bodies_equal_alertmanagers() {
    let cap = Capture::start();
    let am = Alertmanager::start(&am_config(&cap));
    let integrations = integrations(&cap);

    // Millisecond timestamps, as Cairn keeps them. Recent: Alertmanager flushes a new group
    // at once when an alert started more than group_wait ago, before the second alert joins.
    let starts = now_ms() - 400 + 123;
    let firing = alerts(starts, now_ms() + 300_000);
    am.post_alerts(&postable(&firing, false));
    let hook = cap.nth("/webhook", 0);
    let hook_json: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    let group_key = hook_json["groupKey"].as_str().unwrap().to_string();
    assert_eq!(group_key, "{}:{alertname=\"DiskFull\"}");
    let input = NotificationInput {
        receiver: RECEIVER.to_string(),
        group_key: group_key.clone(),
        group_labels: labels(&[("alertname", "DiskFull")]),
        alerts: firing.clone(),
        now_ms: now_ms(),
        external_url: EXTERNAL_URL.to_string(),
        notification_id: "n-1".to_string(),
        resend_ends_at_ms: 0,
    };
    // What the comparison covers: a firing alert's zero endsAt, html/template's escaping
    // in Telegram's HTML mode, the receiver's regexp quoting.
    assert_eq!(hook_json["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(hook_json["receiver"], "team-x\\.hooks");
    let tg: serde_json::Value = serde_json::from_slice(&cap.nth("/telegram", 0).body).unwrap();
    assert!(
        tg["text"]
            .as_str()
            .unwrap()
            .contains("Disk &lt;90%&gt; full &amp; rising"),
        "{tg}"
    );
    for (i, path) in ["/webhook", "/slack", "/telegram"].iter().enumerate() {
        let got = cap.nth(path, 0);
        let (url, body) = cairn_request(&integrations[i], &input);
        compare(&format!("firing {path}"), &got, &url, &body, &cap);
    }

    // Resolve both: Alertmanager sends the resolved notification at the next interval.
    let ends = now_ms() - 1_000 + 7;
    let resolved = alerts(starts, ends);
    am.post_alerts(&postable(&resolved, true));
    let input = NotificationInput {
        alerts: resolved,
        now_ms: now_ms(),
        ..input
    };
    for (i, path) in ["/webhook", "/slack", "/telegram"].iter().enumerate() {
        let got = cap.nth(path, 1);
        let (url, body) = cairn_request(&integrations[i], &input);
        compare(&format!("resolved {path}"), &got, &url, &body, &cap);
    }
}
