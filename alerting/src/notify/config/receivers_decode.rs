//! `receivers:`: each receiver's integrations, read with Alertmanager's defaults and checks
//! (`config/notifiers.go`) and the fallbacks to `global:` (`config/config.go`), plus Cairn's
//! `whatsapp_configs` and `alertmanager_configs`. Alertmanager's other integrations are
//! refused by name: a notification must not vanish into an integration Cairn cannot send.

use super::decode::Global;
use super::fields::Fields;
use super::http_decode::{http_config, tls_config};
use super::scalars::canonical_header;
use super::sink::Sink;
use crate::notify::config::HttpClientConfig;
use crate::notify::integrations::{
    AlertmanagerApiConfig, EmailConfig, MsTeamsConfig, MsTeamsV2Config, SlackAction, SlackConfig,
    SlackField, TelegramConfig, WebhookConfig, WhatsAppConfig,
};
use crate::notify::receiver::{Integration, Receiver};
use crate::yaml::Node;

/// Integrations Cairn sends, in the order Alertmanager builds a receiver's integrations.
const SUPPORTED: [&str; 8] = [
    "webhook_configs",
    "email_configs",
    "slack_configs",
    "telegram_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "whatsapp_configs",
    "alertmanager_configs",
];

/// Alertmanager's integrations that Cairn does not have.
const UNSUPPORTED: [&str; 11] = [
    "pagerduty_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "webex_configs",
    "discord_configs",
    "jira_configs",
    "rocketchat_configs",
    "incidentio_configs",
];

/// The receivers, each with the node of its name (for uniqueness errors).
pub(crate) fn receivers<'n>(
    sink: &mut Sink,
    top: &Fields<'n>,
    global: &Global,
) -> Vec<(Receiver, &'n Node)> {
    let keys: Vec<&str> = ["name"]
        .into_iter()
        .chain(SUPPORTED)
        .chain(UNSUPPORTED)
        .collect();
    let mut out: Vec<(Receiver, &Node)> = Vec::new();
    for (path, node) in top.list(sink, "receivers") {
        let Some(f) = Fields::read(sink, node, &path, "a receiver", &keys) else {
            continue;
        };
        for kind in UNSUPPORTED {
            if let Some(key) = f.key_node(kind) {
                sink.at(
                    &f.path_of(kind),
                    key,
                    format!("{kind} is not supported by Cairn"),
                );
            }
        }
        let mut integrations = Vec::new();
        for kind in SUPPORTED {
            for (p, n) in f.list(sink, kind) {
                if let Some(i) = integration(sink, kind, n, &p, global) {
                    integrations.push(i);
                }
            }
        }
        let name = f.string(sink, "name").unwrap_or_default();
        if name.is_empty() {
            sink.at(&f.path_of("name"), node, "missing name in receiver");
            continue;
        }
        let name_node = f.get("name").unwrap_or(node);
        if out.iter().any(|(r, _)| r.name == name) {
            sink.at(
                &f.path_of("name"),
                name_node,
                format!("notification config name {name:?} is not unique"),
            );
            continue;
        }
        out.push((Receiver { name, integrations }, name_node));
    }
    out
}

fn integration(
    sink: &mut Sink,
    kind: &str,
    node: &Node,
    path: &str,
    g: &Global,
) -> Option<Integration> {
    let before = sink.len();
    let out = match kind {
        "webhook_configs" => webhook(sink, node, path, g).map(Integration::Webhook),
        "email_configs" => email(sink, node, path, g).map(Integration::Email),
        "slack_configs" => slack(sink, node, path, g).map(Integration::Slack),
        "telegram_configs" => telegram(sink, node, path, g).map(Integration::Telegram),
        "msteams_configs" => msteams(sink, node, path, g).map(Integration::MsTeams),
        "msteamsv2_configs" => msteamsv2(sink, node, path, g).map(Integration::MsTeamsV2),
        "whatsapp_configs" => whatsapp(sink, node, path, g).map(Integration::WhatsApp),
        _ => alertmanager(sink, node, path, g).map(Integration::Alertmanager),
    };
    if sink.len() == before { out } else { None }
}

/// `http_config`, or `global.http_config` when absent (as Alertmanager fills it).
fn http(sink: &mut Sink, f: &Fields<'_>, g: &Global) -> HttpClientConfig {
    match f.get("http_config") {
        Some(n) if n.kind != crate::yaml::NodeKind::Null => {
            http_config(sink, n, &f.path_of("http_config")).unwrap_or_default()
        }
        _ => g.config.http_config.clone(),
    }
}

/// Replaces `*slot` with the field's text when the key is set (even to ""), as yaml.v2
/// overwrites a default.
fn text(sink: &mut Sink, f: &Fields<'_>, key: &str, slot: &mut String) {
    if let Some(s) = f.string(sink, key) {
        *slot = s;
    }
}

/// Exactly one of a secret and its `_file`: `required` says whether none is an error.
fn one_of(
    sink: &mut Sink,
    f: &Fields<'_>,
    a: &str,
    b: &str,
    has_a: bool,
    has_b: bool,
    required: bool,
) {
    if has_a && has_b {
        f.report(
            sink,
            b,
            format!("at most one of {a} & {b} must be configured"),
        );
    } else if required && !has_a && !has_b {
        sink.at(
            &f.path_of(a),
            f.node,
            format!("one of {a} or {b} must be configured"),
        );
    }
}

fn webhook(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<WebhookConfig> {
    const KEYS: [&str; 7] = [
        "send_resolved",
        "http_config",
        "url",
        "url_file",
        "max_alerts",
        "timeout",
        "signing_secret",
    ];
    let f = Fields::read(sink, node, path, "a webhook config", &KEYS)?;
    let mut c = WebhookConfig {
        http_config: http(sink, &f, g),
        url: f.secret_url(sink, "url"),
        url_file: f.nonempty(sink, "url_file"),
        signing_secret: f.secret(sink, "signing_secret"),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    if let Some(n) = f.integer(sink, "max_alerts") {
        match u64::try_from(n) {
            Ok(n) => c.max_alerts = n,
            Err(_) => f.report(sink, "max_alerts", "max_alerts cannot be negative"),
        }
    }
    // Alertmanager 0.28's per-request timeout (the send's deadline still bounds it).
    match f.duration(sink, "timeout") {
        Some(0) | None => {}
        Some(t) => c.timeout_ms = Some(t),
    }
    let (has_url, has_file) = (f.has("url"), c.url_file.is_some());
    if !has_url && !has_file {
        sink.at(
            &f.path_of("url"),
            node,
            "missing URL in webhook config (one of url or url_file must be configured)",
        );
    } else if has_url && has_file {
        f.report(
            sink,
            "url_file",
            "at most one of url & url_file must be configured",
        );
    }
    Some(c)
}

fn email(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<EmailConfig> {
    const KEYS: [&str; 15] = [
        "send_resolved",
        "to",
        "from",
        "hello",
        "smarthost",
        "auth_username",
        "auth_password",
        "auth_password_file",
        "auth_secret",
        "auth_identity",
        "headers",
        "html",
        "text",
        "require_tls",
        "tls_config",
    ];
    let f = Fields::read(sink, node, path, "an email config", &KEYS)?;
    let gc = &g.config;
    let mut c = EmailConfig::default();
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    match f.nonempty(sink, "to") {
        Some(to) => c.to = to,
        None => sink.at(&f.path_of("to"), node, "missing to address in email config"),
    }
    match f
        .host_port(sink, "smarthost")
        .or_else(|| gc.smtp_smarthost.clone())
    {
        Some(s) => c.smarthost = s,
        None if f.has("smarthost") => {}
        None => sink.at(
            &f.path_of("smarthost"),
            node,
            "no smarthost here and no global smtp_smarthost set",
        ),
    }
    match f.nonempty(sink, "from").or_else(|| gc.smtp_from.clone()) {
        Some(s) => c.from = s,
        None => sink.at(
            &f.path_of("from"),
            node,
            "no from address here and no global smtp_from set",
        ),
    }
    c.hello = f
        .nonempty(sink, "hello")
        .unwrap_or_else(|| gc.smtp_hello.clone());
    c.auth_username = f
        .nonempty(sink, "auth_username")
        .or_else(|| gc.smtp_auth_username.clone());
    c.auth_password = f.secret(sink, "auth_password");
    c.auth_password_file = f.nonempty(sink, "auth_password_file");
    if c.auth_password.is_none() && c.auth_password_file.is_none() {
        c.auth_password = gc.smtp_auth_password.clone();
        c.auth_password_file = gc.smtp_auth_password_file.clone();
    }
    c.auth_secret = f
        .secret(sink, "auth_secret")
        .or_else(|| gc.smtp_auth_secret.clone());
    c.auth_identity = f
        .nonempty(sink, "auth_identity")
        .or_else(|| gc.smtp_auth_identity.clone());
    c.require_tls = f
        .boolean(sink, "require_tls")
        .unwrap_or(gc.smtp_require_tls);
    c.tls_config = match f.get("tls_config") {
        Some(n) => tls_config(sink, n, &f.path_of("tls_config")).unwrap_or_default(),
        None => g.smtp_tls_config.clone().unwrap_or_default(),
    };
    // Header names are case-insensitive: two spellings of one are a conflict.
    let mut seen: Vec<String> = Vec::new();
    for (name, value, key) in f.string_map(sink, "headers") {
        let canonical = canonical_header(&name);
        if seen.contains(&canonical) {
            sink.at(
                &format!("{}.{name}", f.path_of("headers")),
                key,
                format!("duplicate header {canonical:?} in email config"),
            );
            continue;
        }
        seen.push(canonical.clone());
        c.headers.insert(canonical, value);
    }
    // The e-mail notifier's defaults for the envelope headers.
    c.headers
        .entry("To".to_string())
        .or_insert_with(|| c.to.clone());
    c.headers
        .entry("From".to_string())
        .or_insert_with(|| c.from.clone());
    if let Some(h) = f.string(sink, "html") {
        c.html = Some(h);
    }
    if let Some(t) = f.string(sink, "text") {
        c.text = Some(t).filter(|t| !t.is_empty());
    }
    Some(c)
}

fn slack(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<SlackConfig> {
    const KEYS: [&str; 23] = [
        "send_resolved",
        "http_config",
        "api_url",
        "api_url_file",
        "channel",
        "username",
        "color",
        "title",
        "title_link",
        "pretext",
        "text",
        "fields",
        "short_fields",
        "footer",
        "fallback",
        "callback_id",
        "icon_emoji",
        "icon_url",
        "image_url",
        "thumb_url",
        "link_names",
        "mrkdwn_in",
        "actions",
    ];
    let f = Fields::read(sink, node, path, "a slack config", &KEYS)?;
    let mut c = SlackConfig {
        http_config: http(sink, &f, g),
        api_url: f.secret_url(sink, "api_url"),
        api_url_file: f.nonempty(sink, "api_url_file"),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    let (has_url, has_file) = (f.has("api_url"), c.api_url_file.is_some());
    one_of(
        sink,
        &f,
        "api_url",
        "api_url_file",
        has_url,
        has_file,
        false,
    );
    if !has_url && !has_file {
        if g.config.slack_api_url.is_none() && g.config.slack_api_url_file.is_none() {
            sink.at(
                &f.path_of("api_url"),
                node,
                "no api_url here and no global slack_api_url set either inline or in a file",
            );
        }
        c.api_url = g.config.slack_api_url.clone();
        c.api_url_file = g.config.slack_api_url_file.clone();
    }
    text(sink, &f, "channel", &mut c.channel);
    text(sink, &f, "username", &mut c.username);
    text(sink, &f, "color", &mut c.color);
    text(sink, &f, "title", &mut c.title);
    text(sink, &f, "title_link", &mut c.title_link);
    text(sink, &f, "pretext", &mut c.pretext);
    text(sink, &f, "text", &mut c.text);
    text(sink, &f, "footer", &mut c.footer);
    text(sink, &f, "fallback", &mut c.fallback);
    text(sink, &f, "callback_id", &mut c.callback_id);
    text(sink, &f, "icon_emoji", &mut c.icon_emoji);
    text(sink, &f, "icon_url", &mut c.icon_url);
    text(sink, &f, "image_url", &mut c.image_url);
    text(sink, &f, "thumb_url", &mut c.thumb_url);
    c.short_fields = f.boolean(sink, "short_fields").unwrap_or(false);
    c.link_names = f.boolean(sink, "link_names").unwrap_or(false);
    c.mrkdwn_in = f
        .strings(sink, "mrkdwn_in")
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    for (p, n) in f.list(sink, "fields") {
        let Some(ff) = Fields::read(sink, n, &p, "a slack field", &["title", "value", "short"])
        else {
            continue;
        };
        let field = SlackField {
            title: ff.string(sink, "title").unwrap_or_default(),
            value: ff.string(sink, "value").unwrap_or_default(),
            short: ff.boolean(sink, "short"),
        };
        if field.title.is_empty() {
            sink.at(
                &ff.path_of("title"),
                n,
                "missing title in Slack field configuration",
            );
        } else if field.value.is_empty() {
            sink.at(
                &ff.path_of("value"),
                n,
                "missing value in Slack field configuration",
            );
        } else {
            c.fields.push(field);
        }
    }
    for (p, n) in f.list(sink, "actions") {
        if let Some(a) = slack_action(sink, n, &p) {
            c.actions.push(a);
        }
    }
    Some(c)
}

fn slack_action(sink: &mut Sink, node: &Node, path: &str) -> Option<SlackAction> {
    const KEYS: [&str; 7] = ["type", "text", "url", "style", "name", "value", "confirm"];
    let f = Fields::read(sink, node, path, "a slack action", &KEYS)?;
    let mut a = SlackAction {
        kind: f.string(sink, "type").unwrap_or_default(),
        text: f.string(sink, "text").unwrap_or_default(),
        url: f.string(sink, "url").unwrap_or_default(),
        style: f.string(sink, "style").unwrap_or_default(),
        name: f.string(sink, "name").unwrap_or_default(),
        value: f.string(sink, "value").unwrap_or_default(),
    };
    if let Some(n) = f.get("confirm") {
        let p = f.path_of("confirm");
        if let Some(cf) = Fields::read(
            sink,
            n,
            &p,
            "a slack confirmation",
            &["text", "title", "ok_text", "dismiss_text"],
        ) {
            for k in ["title", "ok_text", "dismiss_text"] {
                cf.string(sink, k);
            }
            if n.kind != crate::yaml::NodeKind::Null && cf.nonempty(sink, "text").is_none() {
                sink.at(
                    &cf.path_of("text"),
                    n,
                    "missing text in Slack confirmation configuration",
                );
            }
        }
    }
    if a.kind.is_empty() {
        sink.at(
            &f.path_of("type"),
            node,
            "missing type in Slack action configuration",
        );
        return None;
    }
    if a.text.is_empty() {
        sink.at(
            &f.path_of("text"),
            node,
            "missing text in Slack action configuration",
        );
        return None;
    }
    if !a.url.is_empty() {
        // A link button: the message-action fields do not apply.
        a.name.clear();
        a.value.clear();
    } else if a.name.is_empty() {
        sink.at(
            &f.path_of("name"),
            node,
            "missing name or url in Slack action configuration",
        );
        return None;
    }
    Some(a)
}

fn telegram(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<TelegramConfig> {
    const KEYS: [&str; 10] = [
        "send_resolved",
        "http_config",
        "api_url",
        "bot_token",
        "bot_token_file",
        "chat_id",
        "message_thread_id",
        "message",
        "disable_notifications",
        "parse_mode",
    ];
    let f = Fields::read(sink, node, path, "a telegram config", &KEYS)?;
    let mut c = TelegramConfig {
        http_config: http(sink, &f, g),
        api_url: f
            .url(sink, "api_url")
            .unwrap_or_else(|| g.config.telegram_api_url.clone()),
        bot_token: f.secret(sink, "bot_token"),
        bot_token_file: f.nonempty(sink, "bot_token_file"),
        message_thread_id: f.integer(sink, "message_thread_id").filter(|&t| t != 0),
        disable_notifications: f.boolean(sink, "disable_notifications").unwrap_or(false),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    if let Some(m) = f.nonempty(sink, "message") {
        c.message = m;
    }
    if let Some(p) = f.string(sink, "parse_mode") {
        c.parse_mode = p;
    }
    let (has_token, has_file) = (c.bot_token.is_some(), c.bot_token_file.is_some());
    if !has_token && !has_file {
        sink.at(
            &f.path_of("bot_token"),
            node,
            "missing bot_token or bot_token_file on telegram_config",
        );
    }
    one_of(
        sink,
        &f,
        "bot_token",
        "bot_token_file",
        has_token,
        has_file,
        false,
    );
    let chat_id = f.integer(sink, "chat_id");
    c.chat_id = chat_id.unwrap_or(0);
    // (A chat_id of the wrong type is reported already.)
    if c.chat_id == 0 && (chat_id.is_some() || !f.has("chat_id")) {
        sink.at(
            &f.path_of("chat_id"),
            node,
            "missing chat_id on telegram_config",
        );
    }
    if !matches!(
        c.parse_mode.as_str(),
        "" | "Markdown" | "MarkdownV2" | "HTML"
    ) {
        f.report(sink, "parse_mode", "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string");
    }
    Some(c)
}

fn msteams(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<MsTeamsConfig> {
    const KEYS: [&str; 7] = [
        "send_resolved",
        "http_config",
        "webhook_url",
        "webhook_url_file",
        "title",
        "summary",
        "text",
    ];
    let f = Fields::read(sink, node, path, "an msteams config", &KEYS)?;
    let mut c = MsTeamsConfig {
        http_config: http(sink, &f, g),
        webhook_url: f.secret_url(sink, "webhook_url"),
        webhook_url_file: f.nonempty(sink, "webhook_url_file"),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    one_of(
        sink,
        &f,
        "webhook_url",
        "webhook_url_file",
        f.has("webhook_url"),
        c.webhook_url_file.is_some(),
        true,
    );
    text(sink, &f, "title", &mut c.title);
    text(sink, &f, "summary", &mut c.summary);
    text(sink, &f, "text", &mut c.text);
    Some(c)
}

fn msteamsv2(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<MsTeamsV2Config> {
    const KEYS: [&str; 6] = [
        "send_resolved",
        "http_config",
        "webhook_url",
        "webhook_url_file",
        "title",
        "text",
    ];
    let f = Fields::read(sink, node, path, "an msteamsv2 config", &KEYS)?;
    let mut c = MsTeamsV2Config {
        http_config: http(sink, &f, g),
        webhook_url: f.secret_url(sink, "webhook_url"),
        webhook_url_file: f.nonempty(sink, "webhook_url_file"),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    one_of(
        sink,
        &f,
        "webhook_url",
        "webhook_url_file",
        f.has("webhook_url"),
        c.webhook_url_file.is_some(),
        true,
    );
    text(sink, &f, "title", &mut c.title);
    text(sink, &f, "text", &mut c.text);
    Some(c)
}

fn whatsapp(sink: &mut Sink, node: &Node, path: &str, g: &Global) -> Option<WhatsAppConfig> {
    const KEYS: [&str; 8] = [
        "send_resolved",
        "http_config",
        "api_url",
        "phone_number_id",
        "token",
        "token_file",
        "to",
        "message",
    ];
    let f = Fields::read(sink, node, path, "a whatsapp config", &KEYS)?;
    let mut c = WhatsAppConfig {
        http_config: http(sink, &f, g),
        api_url: f
            .url(sink, "api_url")
            .unwrap_or_else(|| g.config.whatsapp_api_url.clone()),
        phone_number_id: f.string(sink, "phone_number_id").unwrap_or_default(),
        token: f.secret(sink, "token"),
        token_file: f.nonempty(sink, "token_file"),
        to: f
            .strings(sink, "to")
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect(),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    if let Some(m) = f.nonempty(sink, "message") {
        c.message = m;
    }
    if c.phone_number_id.is_empty() {
        sink.at(
            &f.path_of("phone_number_id"),
            node,
            "missing phone_number_id (the WhatsApp Business sender's id) in whatsapp config",
        );
    }
    one_of(
        sink,
        &f,
        "token",
        "token_file",
        c.token.is_some(),
        c.token_file.is_some(),
        true,
    );
    if c.to.is_empty() {
        sink.at(
            &f.path_of("to"),
            node,
            "missing to (the recipients' phone numbers) in whatsapp config",
        );
    }
    for (i, to) in c.to.iter().enumerate() {
        let digits = to.strip_prefix('+').unwrap_or(to);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            sink.at(
                &format!("{}[{i}]", f.path_of("to")),
                f.get("to").unwrap_or(node),
                format!("{to:?} is not a phone number in international form (+4915112345678)"),
            );
        }
    }
    Some(c)
}

fn alertmanager(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    g: &Global,
) -> Option<AlertmanagerApiConfig> {
    const KEYS: [&str; 4] = ["send_resolved", "http_config", "url", "timeout"];
    let f = Fields::read(sink, node, path, "an alertmanager config", &KEYS)?;
    let mut c = AlertmanagerApiConfig {
        http_config: http(sink, &f, g),
        ..Default::default()
    };
    if let Some(b) = f.boolean(sink, "send_resolved") {
        c.send_resolved = b;
    }
    match f.url(sink, "url") {
        Some(u) => c.url = u,
        None if f.has("url") => {}
        None => sink.at(
            &f.path_of("url"),
            node,
            "missing url (the Alertmanager's base URL) in alertmanager config",
        ),
    }
    match f.duration(sink, "timeout") {
        Some(0) => f.report(sink, "timeout", "timeout must be greater than zero"),
        Some(t) => c.timeout_ms = t,
        None => {}
    }
    Some(c)
}
