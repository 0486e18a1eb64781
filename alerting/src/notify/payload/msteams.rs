//! `msteams_configs`: the Office 365 connector's MessageCard as Alertmanager (0.26+) sends
//! it; the theme colour says whether the group fires.

use super::ReadFile;
use super::go_json::Json;
use super::http::{json_post, secret};
use super::render::Renderer;
use crate::notify::integrations::MsTeamsConfig;
use crate::notify::outgoing::Outgoing;

pub fn build(
    c: &MsTeamsConfig,
    r: &Renderer<'_>,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let url = secret(
        &c.webhook_url,
        &c.webhook_url_file,
        read_file,
        "webhook_url",
    )?
    .ok_or_else(|| "webhook_url: not set".to_string())?;
    let body = Json::obj(vec![
        ("@context", Json::str("http://schema.org/extensions")),
        // Alertmanager's field is "type", not "@type".
        ("type", Json::str("MessageCard")),
        ("title", Json::Str(r.text("title", &c.title)?)),
        ("summary", Json::Str(r.text("summary", &c.summary)?)),
        ("text", Json::Str(r.text("text", &c.text)?)),
        (
            "themeColor",
            Json::str(if r.firing { "8C1A1A" } else { "2DC72D" }),
        ),
    ]);
    Ok(Outgoing::Http(vec![json_post(
        url,
        body.encode(),
        &c.http_config,
        read_file,
    )?]))
}
