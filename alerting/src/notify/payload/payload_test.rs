//! Each integration's exact request or e-mail for a small group, firing and resolved.

use std::collections::BTreeMap;

use super::*;
use crate::notify::config::{Authorization, BasicAuth, GlobalConfig, HttpClientConfig, Secret};
use crate::notify::integrations::*;
use crate::notify::outgoing::{EmailMessage, HttpRequest};

// 2024-01-02T03:04:05.678Z
const T0: i64 = 1_704_164_645_678;
const NOW: i64 = T0 + 90_000;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn alert(instance: &str, ends_at_ms: i64) -> NotifyAlert {
    NotifyAlert {
        labels: map(&[
            ("alertname", "Down"),
            ("instance", instance),
            ("job", "api"),
        ]),
        annotations: map(&[("summary", &format!("{instance} is <down>"))]),
        starts_at_ms: T0,
        ends_at_ms,
        generator_url: "http://prom/graph?g0.expr=up&x=1".to_string(),
        updated_at_ms: T0,
    }
}

fn input(alerts: Vec<NotifyAlert>) -> NotificationInput {
    NotificationInput {
        receiver: "ops".to_string(),
        group_key: "{}:{alertname=\"Down\"}".to_string(),
        group_labels: map(&[("alertname", "Down")]),
        alerts,
        now_ms: NOW,
        external_url: "http://cairn:9090".to_string(),
        notification_id: "nid-7".to_string(),
        resend_ends_at_ms: NOW + 4 * 300_000,
    }
}

fn firing() -> NotificationInput {
    input(vec![
        alert("a:1", NOW + 300_000),
        alert("b:1", NOW + 300_000),
    ])
}

fn resolved() -> NotificationInput {
    input(vec![alert("a:1", NOW - 1000)])
}

fn global() -> GlobalConfig {
    GlobalConfig {
        resolve_timeout_ms: 300_000,
        http_config: HttpClientConfig::default(),
        smtp_from: Some("am@example.org".to_string()),
        smtp_hello: "cairn.local".to_string(),
        smtp_smarthost: Some("mail:25".to_string()),
        smtp_auth_username: None,
        smtp_auth_password: None,
        smtp_auth_password_file: None,
        smtp_auth_secret: None,
        smtp_auth_identity: None,
        smtp_require_tls: true,
        slack_api_url: Some(Secret("https://hooks.slack/x".to_string())),
        slack_api_url_file: None,
        telegram_api_url: "https://api.telegram.org".to_string(),
        whatsapp_api_url: "https://graph.facebook.com/v21.0".to_string(),
    }
}

fn templates() -> Templates {
    Templates::with_files(&global(), &BTreeMap::new()).unwrap()
}

fn files(path: &str) -> Result<String, String> {
    match path {
        "/s/url" => Ok("http://hook.example/in\n".to_string()),
        "/s/pass" => Ok("s3cret\n".to_string()),
        "/s/token" => Ok("tg-token\n".to_string()),
        other => Err(format!("open {other}: no such file")),
    }
}

fn http(i: Integration, input: &NotificationInput) -> Vec<HttpRequest> {
    match build(&i, input, &templates(), &files).unwrap() {
        Outgoing::Http(r) => r,
        other => panic!("{other:?}"),
    }
}

fn one(i: Integration, input: &NotificationInput) -> (HttpRequest, String) {
    let mut r = http(i, input);
    assert_eq!(r.len(), 1);
    let req = r.remove(0);
    let body = String::from_utf8(req.body.clone()).unwrap();
    (req, body)
}

fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const SUBJECT_FIRING: &str = "[FIRING:2] Down (api)";

fn alert_text(instance: &str) -> String {
    format!(
        "Labels:\n - alertname = Down\n - instance = {instance}\n - job = api\nAnnotations:\n - summary = {instance} is <down>\nSource: http://prom/graph?g0.expr=up&x=1\n"
    )
}

#[test]
fn webhook_firing_is_alertmanagers_v4_json_with_cairns_headers() {
    let c = WebhookConfig {
        url: Some(Secret("http://hook/in".to_string())),
        ..Default::default()
    };
    let (req, body) = one(Integration::Webhook(c), &firing());
    assert_eq!(req.url, "http://hook/in");
    let a = |inst: &str| {
        let fp = format!("{:016x}", alert(inst, 0).fingerprint());
        format!(
            r#"{{"status":"firing","labels":{{"alertname":"Down","instance":"{inst}","job":"api"}},"annotations":{{"summary":"{inst} is \u003cdown\u003e"}},"startsAt":"2024-01-02T03:04:05.678Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph?g0.expr=up\u0026x=1","fingerprint":"{fp}"}}"#,
        )
    };
    let expected = format!(
        r#"{{"receiver":"ops","status":"firing","alerts":[{},{}],"groupLabels":{{"alertname":"Down"}},"commonLabels":{{"alertname":"Down","job":"api"}},"commonAnnotations":{{}},"externalURL":"http://cairn:9090","version":"4","groupKey":"{{}}:{{alertname=\"Down\"}}","truncatedAlerts":0}}"#,
        a("a:1"),
        a("b:1")
    ) + "\n";
    assert_eq!(body, expected);
    assert_eq!(
        req.headers,
        vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "User-Agent".to_string(),
                format!("Cairn/{}", env!("CARGO_PKG_VERSION"))
            ),
            ("X-Cairn-Notification-Id".to_string(), "nid-7".to_string()),
        ]
    );
}

#[test]
fn webhook_resolved_truncated_signed_with_file_secrets() {
    let c = WebhookConfig {
        url_file: Some("/s/url".to_string()),
        max_alerts: 1,
        signing_secret: Some(Secret("k3y".to_string())),
        http_config: HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "u".to_string(),
                password: None,
                password_file: Some("/s/pass".to_string()),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut inp = firing();
    inp.alerts[0].ends_at_ms = NOW - 1; // a:1 resolved, b:1 firing
    let (req, body) = one(Integration::Webhook(c.clone()), &inp);
    assert_eq!(req.url, "http://hook.example/in");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["truncatedAlerts"], 1);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
    // Status and common labels are those of the alerts kept.
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["alerts"][0]["endsAt"], "2024-01-02T03:05:35.677Z");
    assert_eq!(v["commonLabels"]["instance"], "a:1");
    assert_eq!(header(&req, "Authorization"), Some("Basic dTpzM2NyZXQ="));
    // The signature is the HMAC of exactly these bytes.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"k3y").unwrap();
    mac.update(&req.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        header(&req, "X-Cairn-Signature"),
        Some(format!("sha256={hex}").as_str())
    );
    let missing = WebhookConfig {
        url_file: Some("/s/nope".to_string()),
        ..Default::default()
    };
    let err = build(
        &Integration::Webhook(missing),
        &firing(),
        &templates(),
        &files,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "webhook: read url file /s/nope: open /s/nope: no such file"
    );
}

#[test]
fn slack_defaults_render_alertmanagers_attachment() {
    let c = SlackConfig {
        send_resolved: true,
        channel: "#ops".to_string(),
        ..Default::default()
    };
    let (req, body) = one(Integration::Slack(c.clone()), &firing());
    assert_eq!(req.url, "https://hooks.slack/x");
    let link = "http://cairn:9090/#/alerts?receiver=ops";
    assert_eq!(
        body,
        format!(
            r##"{{"channel":"#ops","username":"Alertmanager","attachments":[{{"title":"{SUBJECT_FIRING}","title_link":"{link}","text":"","fallback":"{SUBJECT_FIRING} | {link}","callback_id":"","footer":"","color":"danger","mrkdwn_in":["fallback","pretext","text"]}}]}}"##
        ) + "\n"
    );
    let (_, body) = one(Integration::Slack(c.clone()), &resolved());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["attachments"][0]["title"], "[RESOLVED] Down (a:1 api)");
    assert_eq!(v["attachments"][0]["color"], "good");
    // Titles over 1024 characters are cut with an ellipsis.
    let long = SlackConfig {
        title: "{{ range $i := 2000 }}x{{ end }}".to_string(),
        ..c.clone()
    };
    let (_, body) = one(Integration::Slack(long), &firing());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let title = v["attachments"][0]["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 1024);
    assert!(title.ends_with("x…"));
    // Resolved alerts are left out when send_resolved is off: nothing to send.
    let quiet = SlackConfig {
        send_resolved: false,
        ..c
    };
    assert_eq!(
        build(
            &Integration::Slack(quiet),
            &resolved(),
            &templates(),
            &files
        )
        .unwrap(),
        Outgoing::Http(vec![])
    );
}

#[test]
fn msteams_message_card() {
    let c = MsTeamsConfig {
        webhook_url: Some(Secret("https://teams/hook".to_string())),
        ..Default::default()
    };
    let (req, body) = one(Integration::MsTeams(c.clone()), &resolved());
    assert_eq!(req.url, "https://teams/hook");
    let text = "\n\n\n# Alerts Resolved:\n\nLabels:\n  - alertname = Down\n  - instance = a:1\n  - job = api\n\nAnnotations:\n  - summary = a:1 is <down>\n\nSource: http://prom/graph?g0.expr=up&x=1\n\n\n\n";
    let expected = serde_json::json!({
        "@context": "http://schema.org/extensions",
        "type": "MessageCard",
        "title": "[RESOLVED] Down (a:1 api)",
        "summary": "[RESOLVED] Down (a:1 api)",
        "text": text,
        "themeColor": "2DC72D",
    });
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        expected
    );
    let (_, body) = one(Integration::MsTeams(c), &firing());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["themeColor"], "8C1A1A");
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with("\n\n# Alerts Firing:\n\nLabels:\n")
    );
}

#[test]
fn msteamsv2_adaptive_card() {
    let c = MsTeamsV2Config {
        webhook_url: Some(Secret("https://flow/hook".to_string())),
        text: "{{ len .Alerts }} alerts".to_string(),
        ..Default::default()
    };
    let (_, body) = one(Integration::MsTeamsV2(c), &firing());
    assert_eq!(
        body,
        format!(
            r#"{{"type":"message","attachments":[{{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.2","body":[{{"type":"TextBlock","text":"{SUBJECT_FIRING}","weigth":"Bolder","size":"Medium","wrap":true,"style":"heading","color":"Attention"}},{{"type":"TextBlock","text":"2 alerts"}}],"msteams":{{"width":"full"}}}}}}]}}"#
        ) + "\n"
    );
}

#[test]
fn telegram_html_message_thread_and_truncation() {
    let c = TelegramConfig {
        bot_token_file: Some("/s/token".to_string()),
        chat_id: -100,
        message_thread_id: Some(9),
        disable_notifications: true,
        ..Default::default()
    };
    let (req, body) = one(Integration::Telegram(c.clone()), &resolved());
    assert_eq!(req.url, "https://api.telegram.org/bottg-token/sendMessage");
    let text = "\n\n\nAlerts Resolved:\nLabels:\n - alertname = Down\n - instance = a:1\n - job = api\nAnnotations:\n - summary = a:1 is &lt;down&gt;\nSource: http://prom/graph?g0.expr=up&amp;x=1\n\n\n";
    let expected = serde_json::json!({
        "chat_id": "-100",
        "disable_notification": "true",
        "disable_web_page_preview": "true",
        "message_thread_id": "9",
        "parse_mode": "HTML",
        "text": text,
    });
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        expected
    );
    let long = TelegramConfig {
        message: "{{ range $i := 5000 }}ж{{ end }}".to_string(),
        parse_mode: String::new(),
        ..c
    };
    let (_, body) = one(Integration::Telegram(long), &firing());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let t = v["text"].as_str().unwrap();
    assert_eq!(t.chars().count(), 4096);
    assert!(t.ends_with("ж…"));
    assert!(v.get("parse_mode").is_none());
}

#[test]
fn whatsapp_one_request_per_recipient() {
    let c = WhatsAppConfig {
        phone_number_id: "1055".to_string(),
        token: Some(Secret("wa-tok".to_string())),
        to: vec!["+4915100000001".to_string(), "+4915100000002".to_string()],
        ..Default::default()
    };
    let reqs = http(Integration::WhatsApp(c), &firing());
    assert_eq!(reqs.len(), 2);
    let message = format!(
        "\n\nAlerts Firing:\n{}{}\n\n\n",
        alert_text("a:1"),
        alert_text("b:1")
    );
    for (req, to) in reqs.iter().zip(["+4915100000001", "+4915100000002"]) {
        assert_eq!(req.url, "https://graph.facebook.com/v21.0/1055/messages");
        assert_eq!(header(req, "Authorization"), Some("Bearer wa-tok"));
        let expected = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": false, "body": message},
        });
        let got: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(got, expected);
    }
}

#[test]
fn email_headers_bodies_and_global_fallbacks() {
    let c = EmailConfig {
        to: "Ops <ops@example.org>, \"Doe, J\" <jd@example.org>".to_string(),
        auth_username: Some("mailer".to_string()),
        auth_password_file: Some("/s/pass".to_string()),
        text: Some("{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}".to_string()),
        ..Default::default()
    };
    let msg = match build(&Integration::Email(c), &firing(), &templates(), &files).unwrap() {
        Outgoing::Email(m) => m,
        other => panic!("{other:?}"),
    };
    let EmailMessage {
        smarthost,
        hello,
        from,
        to,
        headers,
        html,
        text,
        auth_username,
        auth_password,
        require_tls,
        ..
    } = msg;
    assert_eq!(smarthost, "mail:25");
    assert_eq!(hello, "localhost");
    assert_eq!(from, "am@example.org");
    assert_eq!(to, vec!["ops@example.org", "jd@example.org"]);
    assert_eq!(
        headers,
        vec![
            ("From".to_string(), "am@example.org".to_string()),
            ("Subject".to_string(), SUBJECT_FIRING.to_string()),
            (
                "To".to_string(),
                "Ops <ops@example.org>, \"Doe, J\" <jd@example.org>".to_string()
            ),
        ]
    );
    // text/template for the text body; html/template escaping for the HTML one.
    assert_eq!(text.as_deref(), Some("a:1 is <down>b:1 is <down>"));
    let html = html.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("summary = a:1 is &lt;down&gt;<br>"), "{html}");
    assert!(html.contains(r#"<a href="http://prom/graph?g0.expr=up&amp;x=1">Source</a>"#));
    assert!(html.contains("<title>[FIRING:2] Down (api)</title>"));
    assert!(!html.contains("<down>"));
    assert_eq!(auth_username.as_deref(), Some("mailer"));
    assert_eq!(auth_password, Some(Secret("s3cret".to_string())));
    assert!(require_tls);
}

#[test]
fn alertmanager_forwarder_posts_postable_alerts() {
    let c = AlertmanagerApiConfig {
        url: "http://am:9093/".to_string(),
        http_config: HttpClientConfig {
            authorization: Some(Authorization {
                kind: String::new(),
                credentials: Some(Secret("tok".to_string())),
                credentials_file: None,
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut inp = firing();
    inp.alerts[1].ends_at_ms = NOW - 5_000;
    let (req, body) = one(Integration::Alertmanager(c), &inp);
    assert_eq!(req.url, "http://am:9093/api/v2/alerts");
    assert_eq!(header(&req, "Authorization"), Some("Bearer tok"));
    assert_eq!(req.timeout_ms, Some(10_000));
    let a = |inst: &str, ends: &str| {
        format!(
            r#"{{"labels":{{"alertname":"Down","instance":"{inst}","job":"api"}},"annotations":{{"summary":"{inst} is \u003cdown\u003e"}},"startsAt":"2024-01-02T03:04:05.678Z","endsAt":"{ends}","generatorURL":"http://prom/graph?g0.expr=up\u0026x=1"}}"#
        )
    };
    // Firing: now + 4 × group_interval; resolved: its own end.
    assert_eq!(
        body,
        format!(
            "[{},{}]\n",
            a("a:1", "2024-01-02T03:25:35.678Z"),
            a("b:1", "2024-01-02T03:05:30.678Z")
        )
    );
}

#[test]
fn template_errors_name_the_integration_and_field() {
    let c = SlackConfig {
        pretext: "{{ .Nope.Deeper }}".to_string(),
        ..Default::default()
    };
    let err = build(&Integration::Slack(c), &firing(), &templates(), &files).unwrap_err();
    assert!(err.starts_with("slack: pretext: template: :1:"), "{err}");
    let c = TelegramConfig {
        bot_token: Some(Secret("t".to_string())),
        message: "{{ nosuchfunc }}".to_string(),
        ..Default::default()
    };
    let err = build(&Integration::Telegram(c), &firing(), &templates(), &files).unwrap_err();
    assert_eq!(
        err,
        "telegram: message: template: :1: function \"nosuchfunc\" not defined"
    );
    let bad = map(&[("mine.tmpl", "{{ define \"x\" }}{{ if }}{{ end }}")]);
    let err = Templates::with_files(&global(), &bad).err().unwrap();
    assert!(
        err.starts_with("template file mine.tmpl: template: mine.tmpl:1:"),
        "{err}"
    );
}

#[test]
fn tenant_templates_override_defaults_and_use_alertmanagers_functions() {
    let mine = map(&[(
        "mine.tmpl",
        concat!(
            r#"{{ define "__subject" }}{{ .Status | title }}: {{ .CommonLabels.Names | join "+" }}{{ end }}"#,
            r#"{{ define "times" }}{{ range .Alerts }}{{ date "2006-01-02 15:04 MST" (tz "Europe/Berlin" .StartsAt) }} "#,
            r#"{{ since .StartsAt }} {{ humanizeDuration (since .StartsAt) }} {{ .EndsAt }}{{ end }}{{ end }}"#,
            r#"{{ define "kv" }}{{ range (.CommonLabels.Remove (stringSlice "job")).SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}"#,
            r#"{{ .GroupLabels.Values.Join "," }} {{ trimSpace "  x  " }} {{ toLower "AB" }}{{ end }}"#
        ),
    )]);
    let t = Templates::with_files(&global(), &mine).unwrap();
    let d = Data::new(
        "ops",
        &map(&[("alertname", "Down")]),
        &resolved().alerts,
        "",
        NOW,
    );
    let v = d.to_value();
    let now = crate::template::GoTime::from_unix_millis(NOW);
    let r = |s: &str| t.render(s, &v, &now, false).unwrap();
    assert_eq!(
        r(r#"{{ template "slack.default.title" . }}"#),
        "Resolved: alertname+instance+job"
    );
    assert_eq!(
        r(r#"{{ template "times" . }}"#),
        "2024-01-02 04:04 CET 1m30s 1m 30s 2024-01-02 03:05:34.678 +0000 UTC"
    );
    assert_eq!(
        r(r#"{{ template "kv" . }}"#),
        "alertname=Down;instance=a:1;Down x ab"
    );
    // A firing alert's end is Go's zero time.
    let d = Data::new("ops", &BTreeMap::new(), &firing().alerts, "", NOW);
    assert_eq!(
        t.render("{{ (index .Alerts 0).EndsAt }}", &d.to_value(), &now, false)
            .unwrap(),
        "0001-01-01 00:00:00 +0000 UTC"
    );
}
