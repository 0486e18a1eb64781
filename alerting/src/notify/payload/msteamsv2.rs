//! `msteamsv2_configs`: the Adaptive Card message Alertmanager 0.28 posts to a Power
//! Automate workflow webhook (its JSON keys included, `weigth` spelled as Alertmanager
//! spells it).

use super::ReadFile;
use super::go_json::Json;
use super::http::{json_post, secret};
use super::render::Renderer;
use crate::notify::integrations::MsTeamsV2Config;
use crate::notify::outgoing::Outgoing;

pub fn build(
    c: &MsTeamsV2Config,
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
    let title = r.text("title", &c.title)?;
    let text = r.text("text", &c.text)?;
    let color = if r.firing { "Attention" } else { "Good" };
    let content = Json::obj(vec![
        (
            "$schema",
            Json::str("http://adaptivecards.io/schemas/adaptive-card.json"),
        ),
        ("type", Json::str("AdaptiveCard")),
        ("version", Json::str("1.2")),
        (
            "body",
            Json::Arr(vec![
                Json::obj(vec![
                    ("type", Json::str("TextBlock")),
                    ("text", Json::Str(title)),
                    ("weigth", Json::str("Bolder")),
                    ("size", Json::str("Medium")),
                    ("wrap", Json::Bool(true)),
                    ("style", Json::str("heading")),
                    ("color", Json::str(color)),
                ]),
                Json::obj(vec![
                    ("type", Json::str("TextBlock")),
                    ("text", Json::Str(text)),
                ]),
            ]),
        ),
        ("msteams", Json::obj(vec![("width", Json::str("full"))])),
    ]);
    let body = Json::obj(vec![
        ("type", Json::str("message")),
        (
            "attachments",
            Json::Arr(vec![Json::obj(vec![
                (
                    "contentType",
                    Json::str("application/vnd.microsoft.card.adaptive"),
                ),
                ("contentUrl", Json::Null),
                ("content", content),
            ])]),
        ),
    ]);
    Ok(Outgoing::Http(vec![json_post(
        url,
        body.encode(),
        &c.http_config,
        read_file,
    )?]))
}
