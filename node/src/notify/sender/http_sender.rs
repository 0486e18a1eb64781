//! `HttpSender`: one attempt of one `HttpRequest` (a POST) with reqwest over rustls, and the
//! clients it uses: one per distinct TLS / proxy / redirect setting, built once and kept, so
//! connections to the same host are reused across notifications.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use cairn_alerting::notify::HttpRequest;
use cairn_alerting::notify::config::HttpClientConfig;

use super::AttemptError;
use super::retry::{FailureReason, Verdict, http_verdict, parse_retry_after};
use super::tls_client;

/// How much of an error answer's body goes into the error message.
const BODY_PREFIX: usize = 512;

/// What makes two clients differ. Authentication is not here: the payload builders put it
/// in the request's headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    server_name: Option<String>,
    insecure_skip_verify: bool,
    proxy_url: Option<String>,
    follow_redirects: bool,
}

impl ClientKey {
    fn of(c: &HttpClientConfig) -> ClientKey {
        let t = &c.tls_config;
        ClientKey {
            ca_file: t.ca_file.clone(),
            cert_file: t.cert_file.clone(),
            key_file: t.key_file.clone(),
            server_name: t.server_name.clone(),
            insecure_skip_verify: t.insecure_skip_verify,
            proxy_url: c.proxy_url.clone().filter(|p| !p.is_empty()),
            follow_redirects: c.follow_redirects,
        }
    }
}

#[derive(Default)]
pub struct HttpSender {
    clients: Mutex<HashMap<ClientKey, reqwest::Client>>,
}

impl HttpSender {
    /// The client for `config`, built on first use. A bad setting (unreadable `ca_file`, bad
    /// proxy URL) is a permanent error: retrying cannot fix the configuration.
    pub fn client(&self, config: &HttpClientConfig) -> Result<reqwest::Client, AttemptError> {
        let key = ClientKey::of(config);
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let client = build_client(config).map_err(|message| AttemptError {
            message,
            verdict: Verdict::Permanent,
            reason: FailureReason::Other,
        })?;
        // Two sends may build the same client at once; either copy is fine to keep.
        self.lock().insert(key, client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, reqwest::Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// POSTs `req` once, giving it at most `timeout` (connection, answer and body).
    pub async fn attempt(
        &self,
        client: &reqwest::Client,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<(), AttemptError> {
        let mut rb = client
            .post(&req.url)
            .timeout(timeout)
            .body(req.body.clone());
        for (name, value) in &req.headers {
            rb = rb.header(name, value);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Err(request_error(e, timeout)),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let verdict = http_verdict(status, retry_after);
        // Read the body either way: a drained response lets the connection be reused, and an
        // error answer's body usually says what was wrong (Slack's `invalid_payload`).
        let body = resp.bytes().await.unwrap_or_default();
        if verdict == Verdict::Delivered {
            return Ok(());
        }
        let shown = String::from_utf8_lossy(&body[..body.len().min(BODY_PREFIX)]);
        let more = if body.len() > BODY_PREFIX { "..." } else { "" };
        Err(AttemptError {
            message: format!(
                "unexpected status code {status}: {}{more}",
                shown.trim_end()
            ),
            verdict,
            reason: FailureReason::of_status(Some(status)),
        })
    }
}

fn build_client(config: &HttpClientConfig) -> Result<reqwest::Client, String> {
    let tls = tls_client::client_config(&config.tls_config)?;
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        // Prometheus' http_config ignores HTTP(S)_PROXY unless asked (`proxy_from_environment`).
        .no_proxy()
        .redirect(if config.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(url) = config.proxy_url.as_deref().filter(|p| !p.is_empty()) {
        let proxy = reqwest::Proxy::all(url).map_err(|e| format!("proxy_url: {e}"))?;
        b = b.proxy(proxy);
    }
    b.build()
        .map_err(|e| format!("building the HTTP client: {}", chain(&e)))
}

/// A request that got no answer. The URL is left out of the message: Slack's, Telegram's and
/// many webhooks' URLs carry a secret.
fn request_error(e: reqwest::Error, timeout: Duration) -> AttemptError {
    let e = e.without_url();
    if e.is_builder() {
        return AttemptError {
            message: format!("bad request: {}", chain(&e)),
            verdict: Verdict::Permanent,
            reason: FailureReason::Other,
        };
    }
    let message = if e.is_timeout() {
        format!("no answer within {timeout:?}")
    } else {
        chain(&e)
    };
    AttemptError {
        message,
        verdict: Verdict::Transient { retry_after: None },
        reason: FailureReason::Other,
    }
}

/// An error and its causes, `outer: inner: root`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}
