//! `http_config` (Prometheus' common HTTP client settings) and `tls_config`, checked as
//! `prometheus/common`'s `HTTPClientConfig.Validate` checks them.

use super::fields::Fields;
use super::sink::Sink;
use crate::notify::config::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use crate::yaml::Node;

const HTTP_KEYS: [&str; 10] = [
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "proxy_url",
    "proxy_connect_header",
    "tls_config",
    "follow_redirects",
    "enable_http2",
];

const TLS_KEYS: [&str; 7] = [
    "ca_file",
    "cert_file",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
];

/// An `http_config`; None when it has errors (reported).
pub(crate) fn http_config(sink: &mut Sink, node: &Node, path: &str) -> Option<HttpClientConfig> {
    let f = Fields::read(sink, node, path, "an http_config", &HTTP_KEYS)?;
    let before = sink.len();
    let mut c = HttpClientConfig {
        follow_redirects: f.boolean(sink, "follow_redirects").unwrap_or(true),
        ..Default::default()
    };
    f.boolean(sink, "enable_http2");
    if let Some(n) = f.get("basic_auth") {
        let path = f.path_of("basic_auth");
        if let Some(b) = Fields::read(
            sink,
            n,
            &path,
            "basic_auth",
            &["username", "password", "password_file"],
        ) {
            let auth = BasicAuth {
                username: b.string(sink, "username").unwrap_or_default(),
                password: b.secret(sink, "password"),
                password_file: b.nonempty(sink, "password_file"),
            };
            if auth.password.is_some() && auth.password_file.is_some() {
                sink.at(
                    &path,
                    n,
                    "at most one of basic_auth password & password_file must be configured",
                );
            }
            c.basic_auth = Some(auth);
        }
    }
    if let Some(n) = f.get("authorization") {
        let path = f.path_of("authorization");
        if let Some(a) = Fields::read(
            sink,
            n,
            &path,
            "authorization",
            &["type", "credentials", "credentials_file"],
        ) {
            let kind = a
                .string(sink, "type")
                .unwrap_or_default()
                .trim()
                .to_string();
            let auth = Authorization {
                kind: if kind.is_empty() {
                    "Bearer".to_string()
                } else {
                    kind
                },
                credentials: a.secret(sink, "credentials"),
                credentials_file: a.nonempty(sink, "credentials_file"),
            };
            if auth.credentials.is_some() && auth.credentials_file.is_some() {
                sink.at(&path, n, "at most one of authorization credentials & credentials_file must be configured");
            }
            if auth.kind.eq_ignore_ascii_case("basic") {
                a.report(
                    sink,
                    "type",
                    r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
                );
            }
            c.authorization = Some(auth);
        }
    }
    let bearer = f.secret(sink, "bearer_token");
    let bearer_file = f.nonempty(sink, "bearer_token_file");
    if bearer.is_some() && bearer_file.is_some() {
        sink.at(
            path,
            node,
            "at most one of bearer_token & bearer_token_file must be configured",
        );
    }
    if f.has("oauth2") {
        // Cairn's senders do not fetch OAuth2 tokens; sending without would fail at 3 a.m.
        f.report(
            sink,
            "oauth2",
            "oauth2 is not supported by Cairn: use authorization or basic_auth",
        );
    }
    if f.has("proxy_connect_header") {
        f.report(
            sink,
            "proxy_connect_header",
            "proxy_connect_header is not supported by Cairn",
        );
    }
    let has_bearer = bearer.is_some() || bearer_file.is_some();
    if c.basic_auth.is_some() && has_bearer {
        sink.at(path, node, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
    }
    if c.authorization.is_some() {
        if has_bearer {
            sink.at(
                path,
                node,
                "authorization is not compatible with bearer_token & bearer_token_file",
            );
        }
        if c.basic_auth.is_some() {
            sink.at(
                path,
                node,
                "at most one of basic_auth, oauth2 & authorization must be configured",
            );
        }
    } else if has_bearer {
        // The older spelling becomes `authorization: {type: Bearer}`.
        c.authorization = Some(Authorization {
            kind: "Bearer".to_string(),
            credentials: bearer,
            credentials_file: bearer_file,
        });
    }
    c.proxy_url = f.url(sink, "proxy_url");
    if let Some(n) = f.get("tls_config") {
        c.tls_config = tls_config(sink, n, &f.path_of("tls_config")).unwrap_or_default();
    }
    (sink.len() == before).then_some(c)
}

/// A `tls_config`.
pub(crate) fn tls_config(sink: &mut Sink, node: &Node, path: &str) -> Option<TlsConfig> {
    let f = Fields::read(sink, node, path, "a tls_config", &TLS_KEYS)?;
    for key in ["min_version", "max_version"] {
        if let Some(v) = f.nonempty(sink, key)
            && !matches!(v.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13")
        {
            f.report(
                sink,
                key,
                format!("unknown TLS version: {v} (TLS10, TLS11, TLS12 or TLS13)"),
            );
        }
    }
    Some(TlsConfig {
        ca_file: f.nonempty(sink, "ca_file"),
        cert_file: f.nonempty(sink, "cert_file"),
        key_file: f.nonempty(sink, "key_file"),
        server_name: f.nonempty(sink, "server_name"),
        insecure_skip_verify: f.boolean(sink, "insecure_skip_verify").unwrap_or(false),
    })
}
