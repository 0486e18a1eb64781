//! `slack_configs`: Alertmanager's attachment message, to an incoming webhook or
//! `chat.postMessage` (the URL and `http_config`'s bot token decide which), its title cut
//! to 1024 characters.

use super::ReadFile;
use super::go_json::Json;
use super::http::{json_post, secret, truncate_in_runes};
use super::render::Renderer;
use super::templates::Templates;
use crate::notify::integrations::SlackConfig;
use crate::notify::outgoing::Outgoing;

/// Slack's limit on an attachment's title.
const MAX_TITLE_RUNES: usize = 1024;

pub fn build(
    c: &SlackConfig,
    r: &Renderer<'_>,
    templates: &Templates,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let g = &templates.global;
    let url = match secret(&c.api_url, &c.api_url_file, read_file, "api_url")? {
        Some(u) => u,
        None => secret(
            &g.slack_api_url,
            &g.slack_api_url_file,
            read_file,
            "slack_api_url",
        )?
        .ok_or_else(|| "api_url: not set here nor in global".to_string())?,
    };
    let body = body(c, r)?;
    Ok(Outgoing::Http(vec![json_post(
        url,
        body,
        &c.http_config,
        read_file,
    )?]))
}

/// Go's `omitempty` for a string field.
fn opt(fields: &mut Vec<(String, Json)>, name: &str, value: String) {
    if !value.is_empty() {
        fields.push((name.to_string(), Json::Str(value)));
    }
}

pub fn body(c: &SlackConfig, r: &Renderer<'_>) -> Result<Vec<u8>, String> {
    let (title, _) = truncate_in_runes(&r.text("title", &c.title)?, MAX_TITLE_RUNES);
    let mrkdwn_in = if c.mrkdwn_in.is_empty() {
        vec![
            "fallback".to_string(),
            "pretext".to_string(),
            "text".to_string(),
        ]
    } else {
        c.mrkdwn_in.clone()
    };
    let mut att = Vec::new();
    opt(&mut att, "title", title);
    opt(&mut att, "title_link", r.text("title_link", &c.title_link)?);
    opt(&mut att, "pretext", r.text("pretext", &c.pretext)?);
    att.push(("text".to_string(), Json::Str(r.text("text", &c.text)?)));
    att.push((
        "fallback".to_string(),
        Json::Str(r.text("fallback", &c.fallback)?),
    ));
    att.push((
        "callback_id".to_string(),
        Json::Str(r.text("callback_id", &c.callback_id)?),
    ));
    if !c.fields.is_empty() {
        let mut fields = Vec::new();
        for (i, f) in c.fields.iter().enumerate() {
            let mut o = Vec::new();
            opt(
                &mut o,
                "title",
                r.text(&format!("fields[{i}].title"), &f.title)?,
            );
            opt(
                &mut o,
                "value",
                r.text(&format!("fields[{i}].value"), &f.value)?,
            );
            // Alertmanager always sets short (the field's own, else short_fields).
            o.push((
                "short".to_string(),
                Json::Bool(f.short.unwrap_or(c.short_fields)),
            ));
            fields.push(Json::Obj(o));
        }
        att.push(("fields".to_string(), Json::Arr(fields)));
    }
    if !c.actions.is_empty() {
        let mut actions = Vec::new();
        for (i, a) in c.actions.iter().enumerate() {
            let mut o = Vec::new();
            let f = |name: &str| format!("actions[{i}].{name}");
            opt(&mut o, "type", r.text(&f("type"), &a.kind)?);
            opt(&mut o, "text", r.text(&f("text"), &a.text)?);
            opt(&mut o, "url", r.text(&f("url"), &a.url)?);
            opt(&mut o, "style", r.text(&f("style"), &a.style)?);
            opt(&mut o, "name", r.text(&f("name"), &a.name)?);
            opt(&mut o, "value", r.text(&f("value"), &a.value)?);
            actions.push(Json::Obj(o));
        }
        att.push(("actions".to_string(), Json::Arr(actions)));
    }
    opt(&mut att, "image_url", r.text("image_url", &c.image_url)?);
    opt(&mut att, "thumb_url", r.text("thumb_url", &c.thumb_url)?);
    att.push((
        "footer".to_string(),
        Json::Str(r.text("footer", &c.footer)?),
    ));
    opt(&mut att, "color", r.text("color", &c.color)?);
    att.push((
        "mrkdwn_in".to_string(),
        Json::Arr(mrkdwn_in.into_iter().map(Json::Str).collect()),
    ));

    let mut req = Vec::new();
    opt(&mut req, "channel", r.text("channel", &c.channel)?);
    opt(&mut req, "username", r.text("username", &c.username)?);
    opt(&mut req, "icon_emoji", r.text("icon_emoji", &c.icon_emoji)?);
    opt(&mut req, "icon_url", r.text("icon_url", &c.icon_url)?);
    if c.link_names {
        req.push(("link_names".to_string(), Json::Bool(true)));
    }
    req.push(("attachments".to_string(), Json::Arr(vec![Json::Obj(att)])));
    Ok(Json::Obj(req).encode())
}
