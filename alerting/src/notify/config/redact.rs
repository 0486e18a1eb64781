//! The configuration's text as the user wrote it (comments, order, quoting) with every
//! secret value replaced by `<secret>`, for `GET /api/v2/status`'s `config.original`
//! (Alertmanager shows its re-marshalled config there, secrets hidden the same way).

use crate::yaml::{self, Node, NodeKind};

/// Keys whose value is a secret wherever they appear.
const SECRET_KEYS: [&str; 21] = [
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
    "smtp_auth_password",
    "smtp_auth_secret",
    "auth_password",
    "auth_secret",
    "slack_api_url",
    "opsgenie_api_key",
    "victorops_api_key",
    "wechat_api_secret",
    "rocketchat_token",
    "rocketchat_token_id",
    "bot_token",
    "token",
    "webhook_url",
    "signing_secret",
    "secret",
    "routing_key",
    "service_key",
];

/// Keys that are secrets inside one kind of integration only (`url` of a webhook carries
/// its token; a Slack `api_url` is the incoming webhook's secret URL).
const SECRET_IN: [(&str, &str); 3] = [
    ("webhook_configs", "url"),
    ("slack_configs", "api_url"),
    ("alertmanager_configs", "url"),
];

/// `yaml` with secret values replaced; text that is not valid YAML comes back unchanged
/// (a configuration is validated before it is stored).
pub fn redacted_source(yaml: &str) -> String {
    let Ok(Some(root)) = yaml::parse(yaml) else {
        return yaml.to_string();
    };
    let lines = line_starts(yaml);
    let mut spans = Vec::new();
    collect(&root, "", yaml, &lines, &mut spans);
    spans.sort();
    spans.dedup();
    let mut out = yaml.to_string();
    for (start, end) in spans.into_iter().rev() {
        if start <= end
            && end <= out.len()
            && out.is_char_boundary(start)
            && out.is_char_boundary(end)
        {
            out.replace_range(start..end, "<secret>");
        }
    }
    out
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Byte offset of a 1-based line and (character) column.
fn offset(text: &str, lines: &[usize], line: usize, column: usize) -> Option<usize> {
    let start = *lines.get(line.checked_sub(1)?)?;
    let rest = &text[start..];
    Some(
        start
            + rest
                .char_indices()
                .nth(column.checked_sub(1)?)
                .map_or(rest.len(), |(i, _)| i),
    )
}

/// Walks the tree; `list_key` is the key of the nearest enclosing list (`slack_configs`).
fn collect(
    node: &Node,
    list_key: &str,
    text: &str,
    lines: &[usize],
    spans: &mut Vec<(usize, usize)>,
) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                let key = k.as_scalar().unwrap_or("");
                let secret = SECRET_KEYS.contains(&key) || SECRET_IN.contains(&(list_key, key));
                if secret && let NodeKind::Scalar { value, .. } = &v.kind {
                    if let Some(span) = scalar_span(v, value, k, text, lines) {
                        spans.push(span);
                    }
                } else {
                    let next = if matches!(v.kind, NodeKind::Seq(_)) {
                        key
                    } else {
                        list_key
                    };
                    collect(v, next, text, lines, spans);
                }
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                collect(item, list_key, text, lines, spans);
            }
        }
        NodeKind::Null | NodeKind::Scalar { .. } => {}
    }
}

/// Where a scalar's source text is: quoted to its closing quote, a block scalar from its
/// indicator to its last line, a plain one as long as its value.
fn scalar_span(
    node: &Node,
    value: &str,
    key: &Node,
    text: &str,
    lines: &[usize],
) -> Option<(usize, usize)> {
    let mut start = offset(text, lines, node.line, node.column)?;
    // An anchor before the value (`&name value`): keep it, replace what follows.
    if text[start..].starts_with('&') {
        let skip = text[start..].find([' ', '\t'])?;
        start += skip + text[start + skip..].len()
            - text[start + skip..].trim_start_matches([' ', '\t']).len();
    }
    let rest = &text[start..];
    let end = match rest.chars().next()? {
        '"' => {
            let mut escaped = false;
            let close = rest[1..].char_indices().find(|&(_, c)| {
                let hit = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                hit
            })?;
            start + 1 + close.0 + 1
        }
        '\'' => {
            let b = rest.as_bytes();
            let mut i = 1;
            loop {
                if i >= b.len() {
                    return None;
                }
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break start + i + 1;
                }
                i += 1;
            }
        }
        '|' | '>' => {
            // Content lines are those indented deeper than the key (or blank).
            let key_indent = key.column - 1;
            let mut end = start + rest.find('\n').unwrap_or(rest.len());
            let mut line = node.line;
            while let Some(&ls) = lines.get(line) {
                let l = text[ls..].split('\n').next().unwrap_or("");
                let indent = l.len() - l.trim_start_matches(' ').len();
                if l.trim().is_empty() || indent > key_indent {
                    if !l.trim().is_empty() {
                        end = ls + l.len();
                    }
                    line += 1;
                } else {
                    break;
                }
            }
            end
        }
        _ if !value.contains('\n') && rest.starts_with(value) => start + value.len(),
        _ => start + rest.find('\n').unwrap_or(rest.len()),
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_and_everything_else_kept() {
        let src = r#"# my config
global:
  smtp_auth_password: "hunter2"   # quoted
  slack_api_url: https://hooks.slack.com/services/T0/B0/XXXX
route:
  receiver: team   # who
receivers:
- name: team
  webhook_configs:
  - url: 'http://hook.example/with''token'
    http_config:
      basic_auth: {username: u, password: p4ss}
  telegram_configs:
  - bot_token: |
      123:abc
    chat_id: -100
    api_url: http://telegram.example
external_alerts:
  secret: s3cr3t
"#;
        let out = redacted_source(src);
        for gone in [
            "hunter2",
            "XXXX",
            "with''token",
            "p4ss",
            "123:abc",
            "s3cr3t",
        ] {
            assert!(!out.contains(gone), "{gone} still in:\n{out}");
        }
        for kept in [
            "# my config",
            "# quoted",
            "receiver: team   # who",
            "username: u",
            "chat_id: -100",
            "api_url: http://telegram.example",
        ] {
            assert!(out.contains(kept), "{kept} missing in:\n{out}");
        }
        assert!(
            out.contains("smtp_auth_password: <secret>   # quoted"),
            "{out}"
        );
        assert!(out.contains("password: <secret>}"), "{out}");
        // Still a configuration with the same shape.
        assert!(yaml::parse(&out).is_ok(), "{out}");
    }
}
