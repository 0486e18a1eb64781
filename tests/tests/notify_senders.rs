//! The notification senders against real servers on loopback: the capture server (HTTP and
//! HTTPS) for the HTTP integrations, the aiosmtpd sink for e-mail. Delivery, retries (5xx,
//! 429 with Retry-After, SMTP 4xx), what is not retried (other 4xx, SMTP 5xx, a server without
//! STARTTLS under `require_tls`), the deadline, TLS with `ca_file` / `server_name` /
//! `insecure_skip_verify`, STARTTLS and AUTH, the message's parts and headers, and the metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_alerting::notify::config::{HttpClientConfig, Secret, TlsConfig};
use cairn_alerting::notify::{EmailMessage, HttpRequest, Outgoing};
use cairn_node::metrics::NotifyMetrics;
use cairn_node::notify::sender::retry::Backoff;
use cairn_node::notify::{SendTarget, Senders};
use cairn_tests::{CaptureServer, Reply, SmtpSink, SmtpSinkOptions, TestCa};

/// The tenant every notification here is for.
const TENANT: &str = "acme";
const WAIT: Duration = Duration::from_secs(10);

/// Senders with a short backoff (50 ms doubling to 400 ms), so retries take little time.
fn senders() -> Senders {
    Senders::with_backoff(
        Arc::new(NotifyMetrics::default()),
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
        },
    )
}

fn post(url: &str, body: &str) -> HttpRequest {
    HttpRequest {
        url: url.to_string(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Cairn-Notification-Id".into(), "n-1".into()),
        ],
        body: body.as_bytes().to_vec(),
        http_config: HttpClientConfig {
            follow_redirects: true,
            ..Default::default()
        },
        timeout_ms: None,
    }
}

fn in_secs(s: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_delivers_the_request_and_counts_it() -> anyhow::Result<()> {
    let server = CaptureServer::start()?;
    let s = senders();
    let out = Outgoing::Http(vec![post(
        &format!("{}/hook?x=1", server.url()),
        r#"{"a":1}"#,
    )]);
    s.send(TENANT, "ops", "webhook", &out, in_secs(10.0))
        .await
        .unwrap();
    let reqs = server.wait_for(1, WAIT)?;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_str()),
        ("POST", "/hook", "x=1")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-cairn-notification-id"), Some("n-1"));
    assert_eq!(r.json()?, serde_json::json!({"a": 1}));

    let m = s.metrics();
    assert_eq!(m.notifications(TENANT, "ops", "webhook"), 1);
    assert_eq!(m.requests("webhook"), (1, 0, 1));
    let status = m.receiver_status(TENANT, "ops");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].0, "webhook[0]");
    assert_eq!(status[0].1.last_error, None);
    assert!(status[0].1.last_success_ms > 0);
    let mut text = String::new();
    m.render(&mut text);
    for line in [
        r#"cairn_notifications_total{tenant="acme",receiver="ops",integration="webhook"} 1"#,
        r#"cairn_notification_requests_total{integration="webhook"} 1"#,
        r#"cairn_notification_latency_seconds_count{integration="webhook"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_5xx_is_retried_until_accepted() -> anyhow::Result<()> {
    let server = CaptureServer::start()?;
    server.fail_first(2, Reply::status(500).body("busy"));
    let s = senders();
    let out = Outgoing::Http(vec![post(&format!("{}/hook", server.url()), "{}")]);
    s.send(TENANT, "ops", "webhook", &out, in_secs(10.0))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
    let m = s.metrics();
    assert_eq!(m.requests("webhook"), (3, 2, 3));
    assert_eq!(m.notifications(TENANT, "ops", "webhook"), 1);
    assert_eq!(
        m.notifications_failed(TENANT, "ops", "webhook", "serverError"),
        0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_4xx_is_not_retried_and_the_error_says_why() -> anyhow::Result<()> {
    let server = CaptureServer::start()?;
    server.respond(Reply::status(400).body("invalid_payload: missing text"));
    let s = senders();
    let out = Outgoing::Http(vec![post(
        &format!("{}/secret-token/hook", server.url()),
        "{}",
    )]);
    let target = SendTarget {
        tenant: TENANT,
        receiver: "team-a",
        integration: "slack",
        index: 1,
    };
    let e = s.send_to(target, &out, in_secs(10.0)).await.unwrap_err();
    assert!(!e.retryable);
    for part in [
        "team-a/slack[1]",
        "400",
        "invalid_payload: missing text",
        "unrecoverable",
    ] {
        assert!(e.message.contains(part), "{part:?} not in {:?}", e.message);
    }
    // URLs can carry secrets: they stay out of the message.
    assert!(!e.message.contains("secret-token"), "{}", e.message);
    assert_eq!(server.requests().len(), 1);
    let m = s.metrics();
    assert_eq!(
        m.notifications_failed(TENANT, "team-a", "slack", "clientError"),
        1
    );
    assert_eq!(m.requests("slack"), (1, 1, 1));
    let status = m.receiver_status(TENANT, "team-a");
    assert_eq!(status[0].0, "slack[1]");
    assert_eq!(status[0].1.last_error.as_deref(), Some(e.message.as_str()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_the_deadline() -> anyhow::Result<()> {
    let server = CaptureServer::start()?;
    server.respond(Reply::status(503).body("down"));
    let s = senders();
    let out = Outgoing::Http(vec![post(&format!("{}/hook", server.url()), "{}")]);
    let start = Instant::now();
    let e = s
        .send(
            TENANT,
            "ops",
            "webhook",
            &out,
            start + Duration::from_millis(1500),
        )
        .await
        .unwrap_err();
    let took = start.elapsed();
    // Well past the deadline would mean the retries ignored it (the receiver never recovers);
    // the slack covers a loaded CI machine.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(e.retryable);
    assert!(
        e.message.contains("notify retry canceled after"),
        "{}",
        e.message
    );
    assert!(e.message.contains("503: down"), "{}", e.message);
    let n = server.requests().len() as u64;
    // 50, 100, 200, 400, 400 ms waits (±50%) fit at least 4 attempts into 1.5 s.
    assert!(n >= 4, "{n} attempts");
    let m = s.metrics();
    assert_eq!(m.requests("webhook"), (n, n, n));
    assert_eq!(
        m.notifications_failed(TENANT, "ops", "webhook", "serverError"),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_is_cut_off_by_the_attempt_timeout_and_the_deadline() -> anyhow::Result<()>
{
    let server = CaptureServer::start()?;
    server.respond(Reply::ok().after(Duration::from_secs(30)));
    let s = senders();
    let mut req = post(&format!("{}/hook", server.url()), "{}");
    req.timeout_ms = Some(300);
    let start = Instant::now();
    let e = s
        .send(
            TENANT,
            "ops",
            "webhook",
            &Outgoing::Http(vec![req]),
            start + Duration::from_millis(1200),
        )
        .await
        .unwrap_err();
    let took = start.elapsed();
    // Why this bound: the receiver answers after 30 s, so anything well under that shows the
    // deadline cut the send off; the slack covers a loaded CI machine.
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(
        // The last attempt may have had less than its 300 ms left before the deadline.
        e.retryable && e.message.contains("no answer within "),
        "{}",
        e.message
    );
    // Each attempt was given 300 ms: several fit before the deadline.
    assert!(server.requests().len() >= 2);
    assert_eq!(
        s.metrics()
            .notifications_failed(TENANT, "ops", "webhook", "other"),
        1
    );

    // Without a per-request timeout the deadline alone cuts the attempt short.
    let start = Instant::now();
    let req = post(&format!("{}/hook", server.url()), "{}");
    s.send(
        TENANT,
        "ops",
        "webhook",
        &Outgoing::Http(vec![req]),
        start + Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_waits_as_long_as_retry_after_says() -> anyhow::Result<()> {
    let server = CaptureServer::start()?;
    server.fail_first(1, Reply::status(429).header("Retry-After", "1"));
    let s = senders();
    let out = Outgoing::Http(vec![post(&format!("{}/hook", server.url()), "{}")]);
    s.send(TENANT, "ops", "webhook", &out, in_secs(10.0))
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].received - reqs[0].received;
    // The backoff alone would have waited 25-75 ms.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");

    // A Retry-After past the deadline: give up at once rather than wait in vain.
    server.respond(Reply::status(429).header("Retry-After", "60"));
    let start = Instant::now();
    let e = s
        .send(TENANT, "ops", "webhook", &out, in_secs(5.0))
        .await
        .unwrap_err();
    // Waiting for the deadline (5 s) would mean the Retry-After was obeyed in vain.
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(e.retryable && e.message.contains("429"), "{}", e.message);
    assert_eq!(
        s.metrics()
            .notifications_failed(TENANT, "ops", "webhook", "clientError"),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_requests_go_in_order_and_a_retry_resends_only_the_failed_one() -> anyhow::Result<()>
{
    let server = CaptureServer::start()?;
    server.respond_with(|r, i| {
        if r.path == "/b" && i == 1 {
            Reply::status(502)
        } else {
            Reply::ok()
        }
    });
    let s = senders();
    let out = Outgoing::Http(vec![
        post(&format!("{}/a", server.url()), "1"),
        post(&format!("{}/b", server.url()), "2"),
        post(&format!("{}/c", server.url()), "3"),
    ]);
    s.send(TENANT, "ops", "whatsapp", &out, in_secs(10.0))
        .await
        .unwrap();
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/a", "/b", "/b", "/c"]);
    assert_eq!(s.metrics().requests("whatsapp"), (4, 1, 4));
    assert_eq!(s.metrics().notifications(TENANT, "ops", "whatsapp"), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_verifies_with_ca_file_server_name_or_not_at_all() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A certificate for a name the URL does not use: only `server_name` makes it match.
    let ca = TestCa::generate(dir.path(), &["alerts.example"])?;
    let server = CaptureServer::start_tls(&ca.cert_pem, &ca.key_pem)?;
    let s = senders();
    let send = |tls: TlsConfig| {
        let mut req = post(&format!("{}/hook", server.url()), "{}");
        req.http_config.tls_config = tls;
        let out = Outgoing::Http(vec![req]);
        let s = &s;
        async move { s.send(TENANT, "ops", "webhook", &out, in_secs(1.0)).await }
    };
    let ca_file = Some(ca.ca_file.display().to_string());

    // Unknown issuer (only the public roots), then the right issuer but the wrong name.
    let e = send(TlsConfig::default()).await.unwrap_err();
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    let e = send(TlsConfig {
        ca_file: ca_file.clone(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    assert!(server.requests().is_empty());

    send(TlsConfig {
        ca_file: ca_file.clone(),
        server_name: Some("alerts.example".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    send(TlsConfig {
        insecure_skip_verify: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(server.wait_for(2, WAIT)?.len(), 2);

    // A ca_file that is not there is a configuration error: no retry, no request.
    let e = send(TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(
        !e.retryable && e.message.contains("/nonexistent/ca.pem"),
        "{}",
        e.message
    );
    Ok(())
}

fn email(sink: &SmtpSink) -> EmailMessage {
    EmailMessage {
        smarthost: sink.smarthost(),
        hello: "cairn.test".into(),
        from: "cairn@example.org".into(),
        to: vec!["ops@example.org".into(), "dev@example.org".into()],
        headers: vec![
            ("From".into(), "Cairn <cairn@example.org>".into()),
            ("To".into(), "ops@example.org, dev@example.org".into()),
            (
                "Subject".into(),
                "[FIRING:1] Disk nearly full on målselv".into(),
            ),
            ("X-Cairn-Group".into(), "disk".into()),
        ],
        html: Some("<h1>Firing</h1><p>disk 97%</p>".into()),
        text: Some("Firing: disk 97%".into()),
        auth_username: None,
        auth_password: None,
        auth_identity: None,
        auth_secret: None,
        require_tls: false,
        tls_config: TlsConfig::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_delivers_a_multipart_message_with_the_headers() -> anyhow::Result<()> {
    let sink = SmtpSink::start(SmtpSinkOptions::default())?;
    let s = senders();
    let mail = email(&sink);
    s.send(
        TENANT,
        "ops",
        "email",
        &Outgoing::Email(mail),
        in_secs(10.0),
    )
    .await
    .unwrap();
    let got = sink.wait_for(1, WAIT)?;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.mail_from, "cairn@example.org");
    assert_eq!(m.rcpt_tos, ["ops@example.org", "dev@example.org"]);
    assert_eq!(m.helo, "cairn.test");
    assert!(!m.tls && m.auth_user.is_none());
    assert_eq!(m.content_type, "multipart/alternative");
    assert_eq!(
        m.header("Subject"),
        Some("[FIRING:1] Disk nearly full on målselv")
    );
    assert_eq!(m.header("From"), Some("Cairn <cairn@example.org>"));
    assert_eq!(m.header("To"), Some("ops@example.org, dev@example.org"));
    assert_eq!(m.header("X-Cairn-Group"), Some("disk"));
    assert!(
        m.header("Date").is_some_and(|d| !d.is_empty()),
        "{:?}",
        m.headers
    );
    assert!(
        m.header("Message-Id")
            .is_some_and(|id| id.starts_with('<') && id.contains('@')),
        "{:?}",
        m.headers
    );
    let types: Vec<&str> = m.parts.iter().map(|p| p.content_type.as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    assert_eq!(
        m.part("text/plain").unwrap().body.trim_end(),
        "Firing: disk 97%"
    );
    assert_eq!(
        m.part("text/html").unwrap().body.trim_end(),
        "<h1>Firing</h1><p>disk 97%</p>"
    );
    assert_eq!(s.metrics().requests("email"), (1, 0, 1));

    // Only an HTML body: a single text/html message.
    let mut mail = email(&sink);
    mail.text = None;
    s.send(
        TENANT,
        "ops",
        "email",
        &Outgoing::Email(mail),
        in_secs(10.0),
    )
    .await
    .unwrap();
    let got = sink.wait_for(2, WAIT)?;
    assert_eq!(got[1].content_type, "text/html");
    assert_eq!(got[1].parts.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_and_auth_with_the_sink() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = TestCa::generate(dir.path(), &["localhost", "127.0.0.1"])?;
    let sink = SmtpSink::start(SmtpSinkOptions {
        starttls: Some((ca.cert_file.clone(), ca.key_file.clone())),
        auth: Some(("alerts".into(), "s3cret".into())),
        ..Default::default()
    })?;
    let s = senders();
    let mut mail = email(&sink);
    mail.require_tls = true;
    mail.tls_config.ca_file = Some(ca.ca_file.display().to_string());
    mail.auth_username = Some("alerts".into());
    mail.auth_password = Some(Secret("s3cret".into()));
    s.send(
        TENANT,
        "ops",
        "email",
        &Outgoing::Email(mail.clone()),
        in_secs(10.0),
    )
    .await
    .unwrap();
    let got = sink.wait_for(1, WAIT)?;
    assert!(got[0].tls, "the message came before STARTTLS");
    assert_eq!(got[0].auth_user.as_deref(), Some("alerts"));
    assert_eq!(got[0].auth_mechanism.as_deref(), Some("PLAIN"));

    // A wrong password is final (535): one attempt.
    mail.auth_password = Some(Secret("wrong".into()));
    let e = s
        .send(
            TENANT,
            "ops",
            "email",
            &Outgoing::Email(mail.clone()),
            in_secs(10.0),
        )
        .await
        .unwrap_err();
    assert!(!e.retryable && e.message.contains("535"), "{}", e.message);
    assert_eq!(s.metrics().requests("email"), (2, 1, 2));

    // Without the CA the sink's certificate is refused, retried until the deadline.
    mail.auth_password = Some(Secret("s3cret".into()));
    mail.tls_config.ca_file = None;
    let e = s
        .send(TENANT, "ops", "email", &Outgoing::Email(mail), in_secs(0.6))
        .await
        .unwrap_err();
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    assert_eq!(sink.messages()?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_require_tls_refuses_a_server_without_starttls() -> anyhow::Result<()> {
    let sink = SmtpSink::start(SmtpSinkOptions::default())?;
    let s = senders();
    let mut mail = email(&sink);
    mail.require_tls = true;
    let e = s
        .send(
            TENANT,
            "ops",
            "email",
            &Outgoing::Email(mail),
            in_secs(10.0),
        )
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message
            .contains("does not advertise the STARTTLS extension")
            && e.message.contains(&sink.smarthost()),
        "{}",
        e.message
    );
    assert!(sink.messages()?.is_empty());
    assert_eq!(
        s.metrics()
            .notifications_failed(TENANT, "ops", "email", "other"),
        1
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_4xx_is_retried_and_5xx_is_not() -> anyhow::Result<()> {
    let sink = SmtpSink::start(SmtpSinkOptions {
        fail_first: 2,
        ..Default::default()
    })?;
    let s = senders();
    s.send(
        TENANT,
        "ops",
        "email",
        &Outgoing::Email(email(&sink)),
        in_secs(10.0),
    )
    .await
    .unwrap();
    assert_eq!(sink.wait_for(1, WAIT)?.len(), 1);
    assert_eq!(s.metrics().requests("email"), (3, 2, 3));

    let sink = SmtpSink::start(SmtpSinkOptions {
        fail_first: 5,
        fail_reply: Some("554 5.7.1 Rejected".into()),
        ..Default::default()
    })?;
    let e = s
        .send(
            TENANT,
            "ops",
            "email",
            &Outgoing::Email(email(&sink)),
            in_secs(10.0),
        )
        .await
        .unwrap_err();
    assert!(!e.retryable && e.message.contains("554"), "{}", e.message);
    assert_eq!(s.metrics().requests("email"), (4, 3, 4));

    // Nobody listening: a connection error, retried until the deadline.
    let mut mail = email(&sink);
    mail.smarthost = format!("127.0.0.1:{}", free_port());
    let e = s
        .send(TENANT, "ops", "email", &Outgoing::Email(mail), in_secs(0.5))
        .await
        .unwrap_err();
    assert!(e.retryable, "{}", e.message);
    Ok(())
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
