//! `CaptureServer`: an HTTP server on a loopback port that records every request (method,
//! path, query, headers, body) and answers by a rule the test sets: a fixed status, failures
//! for the first N requests or until a time, a delay. It stands in for Slack, Teams,
//! Telegram, WhatsApp, webhooks and an Alertmanager in the notification tests.
//!
//! It runs on its own thread with its own tokio runtime, so blocking tests and async tests
//! use it alike; `wait_for` waits on a condition with a deadline. Plain HTTP/1.1, or TLS with
//! a given certificate (`start_tls`).

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct CapturedRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`; empty when there was none.
    pub query: String,
    /// Names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received: Instant,
}

impl CapturedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("request body is not JSON: {}", self.body_str()))
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Waited before answering (a slow receiver, or one that times out).
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.to_string();
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// Decides the answer from the request and its index (0 for the first request received).
pub type Responder = dyn Fn(&CapturedRequest, usize) -> Reply + Send + Sync;

struct Shared {
    requests: Mutex<Vec<CapturedRequest>>,
    arrived: Condvar,
    responder: Mutex<Arc<Responder>>,
}

pub struct CaptureServer {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CaptureServer {
    /// A plain HTTP server answering 200 to everything until told otherwise.
    pub fn start() -> anyhow::Result<CaptureServer> {
        CaptureServer::spawn(None)
    }

    /// An HTTPS server presenting `cert_pem` (with its chain) and `key_pem`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> anyhow::Result<CaptureServer> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("server certificate PEM")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("server key PEM")?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        CaptureServer::spawn(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn spawn(tls: Option<tokio_rustls::TlsAcceptor>) -> anyhow::Result<CaptureServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            responder: Mutex::new(Arc::new(|_: &CapturedRequest, _: usize| Reply::ok())),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("capture-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = serve(listener, tls, s) => {}
                    }
                });
            })?;
        Ok(CaptureServer {
            url: format!("{scheme}://{addr}"),
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>` (or `https://`), without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers every request from now on with `f(request, index)`.
    pub fn respond_with(
        &self,
        f: impl Fn(&CapturedRequest, usize) -> Reply + Send + Sync + 'static,
    ) {
        *self
            .shared
            .responder
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(f);
    }

    /// Answers every request with `reply`.
    pub fn respond(&self, reply: Reply) {
        self.respond_with(move |_, _| reply.clone());
    }

    /// Answers the first `n` requests (counted from the server's start) with `failure`,
    /// then 200.
    pub fn fail_first(&self, n: usize, failure: Reply) {
        self.respond_with(move |_, i| if i < n { failure.clone() } else { Reply::ok() });
    }

    /// Answers with `failure` until `until`, then 200.
    pub fn fail_until(&self, until: Instant, failure: Reply) {
        self.respond_with(move |_, _| {
            if Instant::now() < until {
                failure.clone()
            } else {
                Reply::ok()
            }
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CapturedRequest>> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until at least `count` requests have arrived, at most `timeout`; returns them all.
    pub fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<CapturedRequest>> {
        let deadline = Instant::now() + timeout;
        let mut reqs = self.lock();
        while reqs.len() < count {
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "{} received {} requests within {timeout:?}, expected {count}: {:?}",
                    self.url,
                    reqs.len(),
                    reqs.iter()
                        .map(|r| format!("{} {}", r.method, r.path))
                        .collect::<Vec<_>>()
                );
            }
            reqs = self
                .shared
                .arrived
                .wait_timeout(reqs, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(reqs.clone())
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, shared.clone()));
            match tls {
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => {
                    // A client that rejects our certificate ends the handshake; nothing to record.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            }
        });
    }
}

async fn handle(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    let captured = CapturedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        received: Instant::now(),
    };
    let responder = shared
        .responder
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let reply = {
        let mut reqs = shared.requests.lock().unwrap_or_else(|p| p.into_inner());
        let index = reqs.len();
        let reply = responder(&captured, index);
        reqs.push(captured);
        shared.arrived.notify_all();
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = hyper::Response::builder().status(reply.status);
    for (n, v) in &reply.headers {
        resp = resp.header(n, v);
    }
    Ok(resp
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}
