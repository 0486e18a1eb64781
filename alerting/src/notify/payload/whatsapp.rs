//! `whatsapp_configs` (Cairn's): one text message per recipient through the WhatsApp Cloud
//! API, `POST {api_url}/{phone_number_id}/messages` with the bearer token, the message cut
//! to WhatsApp's 4096 characters as Telegram's is.

use super::ReadFile;
use super::go_json::Json;
use super::http::{json_post, secret, truncate_in_runes};
use super::render::Renderer;
use super::telegram::MAX_MESSAGE_RUNES;
use super::templates::Templates;
use crate::notify::integrations::WhatsAppConfig;
use crate::notify::outgoing::Outgoing;

pub fn build(
    c: &WhatsAppConfig,
    r: &Renderer<'_>,
    templates: &Templates,
    read_file: ReadFile<'_>,
) -> Result<Outgoing, String> {
    let token = secret(&c.token, &c.token_file, read_file, "token")?
        .ok_or_else(|| "token: not set".to_string())?;
    if c.phone_number_id.is_empty() {
        return Err("phone_number_id: not set".to_string());
    }
    let api = if c.api_url.is_empty() {
        templates.global.whatsapp_api_url.as_str()
    } else {
        c.api_url.as_str()
    };
    let (message, _) = truncate_in_runes(&r.text("message", &c.message)?, MAX_MESSAGE_RUNES);
    let url = format!(
        "{}/{}/messages",
        api.trim_end_matches('/'),
        c.phone_number_id
    );
    let mut requests = Vec::new();
    for to in &c.to {
        let body = Json::obj(vec![
            ("messaging_product", Json::str("whatsapp")),
            ("recipient_type", Json::str("individual")),
            ("to", Json::str(to)),
            ("type", Json::str("text")),
            (
                "text",
                Json::obj(vec![
                    ("preview_url", Json::Bool(false)),
                    ("body", Json::str(&message)),
                ]),
            ),
        ]);
        let mut req = json_post(url.clone(), body.encode(), &c.http_config, read_file)?;
        // The token is the request's credential whatever http_config says.
        req.headers.retain(|(k, _)| k != "Authorization");
        req.headers
            .push(("Authorization".to_string(), format!("Bearer {token}")));
        requests.push(req);
    }
    Ok(Outgoing::Http(requests))
}
