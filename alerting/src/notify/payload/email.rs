//! `email_configs`: the e-mail Alertmanager sends: `From` and `To` rendered (one sender,
//! any number of recipients), every header rendered with text/template (Subject, To and
//! From defaulting as Alertmanager's do), the text body with text/template and the HTML body
//! with html/template's escaping. `Date`, `Message-Id`, MIME and encoding are the sender's.

use super::ReadFile;
use super::render::Renderer;
use super::templates::Templates;
use crate::notify::config::Secret;
use crate::notify::integrations::EmailConfig;
use crate::notify::outgoing::{EmailMessage, Outgoing};

pub fn build(
    c: &EmailConfig,
    r: &Renderer<'_>,
    templates: &Templates,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let g = &templates.global;
    let pick = |own: &str, global: Option<&String>| -> String {
        if own.is_empty() {
            global.cloned().unwrap_or_default()
        } else {
            own.to_string()
        }
    };
    let from_src = pick(&c.from, g.smtp_from.as_ref());
    let smarthost = pick(&c.smarthost, g.smtp_smarthost.as_ref());
    if smarthost.is_empty() {
        return Err("smarthost: not set here nor in global".to_string());
    }
    let from = r.text("from", &from_src)?;
    let from_addrs = parse_address_list(&from).map_err(|e| format!("from: {e}"))?;
    if from_addrs.len() != 1 {
        return Err(format!(
            "from: must be exactly one 'from' address (got: {})",
            from_addrs.len()
        ));
    }
    let to = r.text("to", &c.to)?;
    let to_addrs = parse_address_list(&to).map_err(|e| format!("to: {e}"))?;

    let mut headers_src = c.headers.clone();
    headers_src
        .entry("Subject".to_string())
        .or_insert_with(|| "{{ template \"email.default.subject\" . }}".to_string());
    headers_src
        .entry("To".to_string())
        .or_insert_with(|| c.to.clone());
    headers_src
        .entry("From".to_string())
        .or_insert_with(|| from_src.clone());
    let mut headers = Vec::new();
    for (name, src) in &headers_src {
        headers.push((name.clone(), r.text(&format!("headers.{name}"), src)?));
    }
    let text = match &c.text {
        Some(t) if !t.is_empty() => Some(r.text("text", t)?),
        _ => None,
    };
    let html = match &c.html {
        Some(t) if !t.is_empty() => Some(r.html("html", t)?),
        _ => None,
    };
    let password = match (&c.auth_password, &c.auth_password_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(path)) => Some(Secret(
            read_file(path)
                .map_err(|e| format!("auth_password_file {path}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        )),
        (None, None) => match (&g.smtp_auth_password, &g.smtp_auth_password_file) {
            (Some(p), _) if c.auth_username.is_none() => Some(p.clone()),
            (None, Some(path)) if c.auth_username.is_none() => Some(Secret(
                read_file(path)
                    .map_err(|e| format!("smtp_auth_password_file {path}: {e}"))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            )),
            _ => None,
        },
    };
    let own_auth = c.auth_username.is_some();
    Ok(Outgoing::Email(EmailMessage {
        smarthost,
        hello: if c.hello.is_empty() {
            g.smtp_hello.clone()
        } else {
            c.hello.clone()
        },
        from: from_addrs[0].clone(),
        to: to_addrs,
        headers,
        html,
        text,
        auth_username: c
            .auth_username
            .clone()
            .or_else(|| g.smtp_auth_username.clone()),
        auth_password: password,
        auth_identity: if own_auth {
            c.auth_identity.clone()
        } else {
            c.auth_identity
                .clone()
                .or_else(|| g.smtp_auth_identity.clone())
        },
        auth_secret: if own_auth {
            c.auth_secret.clone()
        } else {
            c.auth_secret.clone().or_else(|| g.smtp_auth_secret.clone())
        },
        require_tls: c.require_tls,
        tls_config: c.tls_config.clone(),
    }))
}

/// The addresses of an RFC 5322 address list (`mail.ParseAddressList`'s `.Address`):
/// `Name <a@b>` gives `a@b`; commas inside quotes or angle brackets do not split.
pub fn parse_address_list(s: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let (mut cur, mut quoted, mut angle) = (String::new(), false, false);
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    let mut out = Vec::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            return Err("mail: no address".to_string());
        }
        let addr = match (p.rfind('<'), p.rfind('>')) {
            (Some(a), Some(b)) if a < b => p[a + 1..b].trim(),
            _ => p,
        };
        if !addr.contains('@') || addr.contains(char::is_whitespace) {
            return Err(format!("mail: missing @ in addr-spec ({addr})"));
        }
        out.push(addr.to_string());
    }
    Ok(out)
}
