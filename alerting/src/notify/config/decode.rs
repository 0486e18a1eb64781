//! The top of `alertmanager.yml`: its sections, `global:`, the named time intervals and
//! Cairn's `external_alerts:`; routes, receivers and inhibit rules have their own files.
//!
//! ```text
//!  text ──yaml::parse──► positioned tree ──decode (types, unknown keys, each section's
//!        checks, defaults, inheritance)──► validate (references between sections)
//!        ──► AlertmanagerConfig | every ConfigError, placed
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::fields::Fields;
use super::http_decode::{http_config, tls_config};
use super::sink::Sink;
use super::time_interval_decode::decode_time_interval;
use super::{
    AlertmanagerConfig, ConfigError, ExternalAlertsConfig, GlobalConfig, HttpClientConfig,
    TlsConfig,
};
use super::{inhibit_decode, receivers_decode, route_decode, validate};
use crate::notify::time_interval::TimeInterval;
use crate::yaml::{self, Node};

const TOP_KEYS: [&str; 8] = [
    "global",
    "route",
    "inhibit_rules",
    "receivers",
    "templates",
    "mute_time_intervals",
    "time_intervals",
    "external_alerts",
];

/// `global:` keys Cairn uses, then those of Alertmanager's integrations Cairn does not have
/// (accepted, so a file moves over unchanged, and ignored).
const GLOBAL_KEYS: [&str; 33] = [
    "resolve_timeout",
    "http_config",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_identity",
    "smtp_require_tls",
    "smtp_tls_config",
    "slack_api_url",
    "slack_api_url_file",
    "telegram_api_url",
    "whatsapp_api_url",
    // Ignored:
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "webex_api_url",
    "jira_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
];

/// `global:` as read, with what the integrations fall back to.
pub(crate) struct Global {
    pub(crate) config: GlobalConfig,
    /// `smtp_tls_config` (Alertmanager 0.28): e-mail's `tls_config` when it has none.
    pub(crate) smtp_tls_config: Option<TlsConfig>,
}

pub(crate) fn parse(
    text: &str,
    template_files: BTreeMap<String, String>,
) -> Result<AlertmanagerConfig, Vec<ConfigError>> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(vec![ConfigError {
                path: "route".to_string(),
                line: 0,
                column: 0,
                message: "no route provided in config (the file is empty)".to_string(),
            }]);
        }
        Err(e) => {
            return Err(vec![ConfigError {
                path: String::new(),
                line: e.line,
                column: e.column,
                message: format!("YAML syntax error: {}", e.message),
            }]);
        }
    };
    let mut sink = Sink::default();
    let Some(top) = Fields::read(&mut sink, &root, "", "the configuration", &TOP_KEYS) else {
        return Err(sink.into_errors());
    };
    let global = match top.get("global") {
        Some(n) => global(&mut sink, n, "global"),
        None => default_global(),
    };
    let time_intervals = time_intervals(&mut sink, &top);
    let receivers = receivers_decode::receivers(&mut sink, &top, &global);
    let route = route_decode::route(&mut sink, &top);
    let inhibit_rules = inhibit_decode::inhibit_rules(&mut sink, &top);
    let external_alerts = top
        .get("external_alerts")
        .and_then(|n| external_alerts(&mut sink, n, "external_alerts"));
    if let Some(templates) = top.strings(&mut sink, "templates") {
        // The template texts come with the configuration (`template_files`); the names here
        // are Alertmanager's globs, kept for reading the file back.
        let _ = templates;
    }
    if let Some(route) = &route {
        validate::references(&mut sink, route, &receivers, &time_intervals);
    }
    match (route, sink.is_empty()) {
        (Some(route), true) => Ok(AlertmanagerConfig {
            global: global.config,
            route: route.resolve(),
            inhibit_rules,
            time_intervals: time_intervals
                .into_iter()
                .map(|(k, (v, _))| (k, v))
                .collect(),
            receivers: receivers.into_iter().map(|(r, _)| r).collect(),
            template_files,
            external_alerts,
        }),
        _ => Err(sink.into_errors()),
    }
}

fn default_global() -> Global {
    Global {
        config: GlobalConfig {
            resolve_timeout_ms: 5 * 60_000,
            http_config: HttpClientConfig {
                follow_redirects: true,
                ..Default::default()
            },
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
        },
        smtp_tls_config: None,
    }
}

fn global(sink: &mut Sink, node: &Node, path: &str) -> Global {
    let mut g = default_global();
    let Some(f) = Fields::read(sink, node, path, "global", &GLOBAL_KEYS) else {
        return g;
    };
    let c = &mut g.config;
    if let Some(d) = f.duration(sink, "resolve_timeout") {
        c.resolve_timeout_ms = d;
    }
    if let Some(n) = f.get("http_config")
        && let Some(h) = http_config(sink, n, &f.path_of("http_config"))
    {
        c.http_config = h;
    }
    c.smtp_from = f.nonempty(sink, "smtp_from");
    if let Some(h) = f.nonempty(sink, "smtp_hello") {
        c.smtp_hello = h;
    }
    c.smtp_smarthost = f.host_port(sink, "smtp_smarthost");
    c.smtp_auth_username = f.nonempty(sink, "smtp_auth_username");
    c.smtp_auth_password = f.secret(sink, "smtp_auth_password");
    c.smtp_auth_password_file = f.nonempty(sink, "smtp_auth_password_file");
    c.smtp_auth_secret = f.secret(sink, "smtp_auth_secret");
    c.smtp_auth_identity = f.nonempty(sink, "smtp_auth_identity");
    if let Some(b) = f.boolean(sink, "smtp_require_tls") {
        c.smtp_require_tls = b;
    }
    if let Some(n) = f.get("smtp_tls_config") {
        g.smtp_tls_config = tls_config(sink, n, &f.path_of("smtp_tls_config"));
    }
    let c = &mut g.config;
    c.slack_api_url = f.secret_url(sink, "slack_api_url");
    c.slack_api_url_file = f.nonempty(sink, "slack_api_url_file");
    if let Some(u) = f.url(sink, "telegram_api_url") {
        c.telegram_api_url = u;
    }
    if let Some(u) = f.url(sink, "whatsapp_api_url") {
        c.whatsapp_api_url = u;
    }
    for (a, b) in [
        ("slack_api_url", "slack_api_url_file"),
        ("smtp_auth_password", "smtp_auth_password_file"),
        ("opsgenie_api_key", "opsgenie_api_key_file"),
        ("victorops_api_key", "victorops_api_key_file"),
    ] {
        if f.nonempty(sink, a).is_some() && f.nonempty(sink, b).is_some() {
            f.report(
                sink,
                b,
                format!("at most one of {a} & {b} must be configured"),
            );
        }
    }
    // The ignored integrations' URLs are still URLs, as Alertmanager checks them.
    for key in [
        "pagerduty_url",
        "opsgenie_api_url",
        "wechat_api_url",
        "victorops_api_url",
        "webex_api_url",
        "jira_api_url",
        "rocketchat_api_url",
    ] {
        f.url(sink, key);
    }
    for key in [
        "wechat_api_secret",
        "wechat_api_corp_id",
        "rocketchat_token",
        "rocketchat_token_file",
        "rocketchat_token_id",
        "rocketchat_token_id_file",
    ] {
        f.string(sink, key);
    }
    g
}

/// `mute_time_intervals` (deprecated) and `time_intervals`: one namespace, names unique.
/// Each name maps to its parts and the node of its name.
fn time_intervals<'n>(
    sink: &mut Sink,
    top: &Fields<'n>,
) -> BTreeMap<String, (Vec<TimeInterval>, &'n Node)> {
    let mut out: BTreeMap<String, (Vec<TimeInterval>, &Node)> = BTreeMap::new();
    for (key, what) in [
        ("mute_time_intervals", "mute time interval"),
        ("time_intervals", "time interval"),
    ] {
        for (path, node) in top.list(sink, key) {
            let Some(f) = Fields::read(sink, node, &path, what, &["name", "time_intervals"]) else {
                continue;
            };
            let name = f.string(sink, "name").unwrap_or_default();
            let mut parts = Vec::new();
            for (p, n) in f.list(sink, "time_intervals") {
                if let Some(ti) = decode_time_interval(sink, n, &p) {
                    parts.push(ti);
                }
            }
            if name.is_empty() {
                sink.at(&path, node, format!("missing name in {what}"));
                continue;
            }
            if out.contains_key(&name) {
                f.report(sink, "name", format!("{what} {name:?} is not unique"));
                continue;
            }
            out.insert(name, (parts, f.get("name").unwrap_or(node)));
        }
    }
    out
}

/// `external_alerts: {secret, allowed_ips}` (Cairn's extension).
fn external_alerts(sink: &mut Sink, node: &Node, path: &str) -> Option<ExternalAlertsConfig> {
    let f = Fields::read(
        sink,
        node,
        path,
        "external_alerts",
        &["secret", "allowed_ips"],
    )?;
    let secret = f.secret(sink, "secret");
    let mut allowed_ips = Vec::new();
    let mut ok = true;
    for (i, (ip, n)) in f
        .strings(sink, "allowed_ips")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if is_ip_or_net(&ip) {
            allowed_ips.push(ip);
        } else {
            ok = false;
            sink.at(
                &format!("{path}.allowed_ips[{i}]"),
                n,
                format!("{ip:?} is not an IP address or a network (10.0.0.0/8)"),
            );
        }
    }
    let Some(secret) = secret else {
        sink.at(
            &f.path_of("secret"),
            node,
            "external_alerts needs a secret (the HMAC-SHA256 key senders sign with)",
        );
        return None;
    };
    ok.then_some(ExternalAlertsConfig {
        secret,
        allowed_ips,
    })
}

fn is_ip_or_net(s: &str) -> bool {
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((ip, bits)) => match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
            (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
            _ => false,
        },
    }
}
