//! Client-side subcommands: `cairn write`, `cairn query` (in `cli::query`),
//! `cairn cluster local` (in `cli::cluster`), `cairn cluster status` (`cli::cluster_status`),
//! `cairn cluster remove` (`cli::cluster_remove`), `cairn rules` (in `cli::rules`),
//! `cairn alerts config` (in `cli::alerts`), `cairn tenant` (in `cli::tenant`) and
//! `cairn backup` / `cairn restore` (in `cli::backup`).

pub mod alerts;
pub mod backup;
pub mod cluster;
pub mod cluster_remove;
pub mod cluster_status;
pub mod query;
pub mod rules;
pub mod tenant;

pub use query::{QueryArgs, query};

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// `cairn write`: sends line protocol from a file or stdin to `/write`, in chunks of whole
/// lines, and reports what was written or why not.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Node to write to.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    /// Tenant (sent as X-Scope-OrgID).
    #[arg(long, env = "CAIRN_TENANT")]
    pub tenant: Option<String>,
    /// Timestamp precision of the input: n, u, ms or s.
    #[arg(long, default_value = "n")]
    pub precision: String,
    /// Adds the label db="NAME" to every series (InfluxDB's ?db=).
    #[arg(long)]
    pub db: Option<String>,
    /// Largest request sent at once, in bytes (split at line boundaries).
    #[arg(long, default_value_t = 4 << 20)]
    pub chunk_bytes: usize,
    /// Line-protocol file, or - for standard input.
    #[arg(default_value = "-")]
    pub file: PathBuf,
}

pub async fn write(args: WriteArgs) -> anyhow::Result<()> {
    let mut input = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut input)
            .context("reading standard input")?;
    } else {
        input = std::fs::read(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?;
    }
    let client = reqwest::Client::new();
    let mut url = format!(
        "{}/write?precision={}",
        args.url.trim_end_matches('/'),
        args.precision
    );
    if let Some(db) = &args.db {
        url.push_str("&db=");
        url.extend(form_urlencoded::byte_serialize(db.as_bytes()));
    }
    let mut sent_bytes = 0usize;
    let mut requests = 0usize;
    let mut line_offset = 0usize;
    for chunk in split_lines(&input, args.chunk_bytes.max(1)) {
        let req = client.post(&url).body(chunk.to_vec());
        let resp = send(req, args.tenant.as_deref(), &args.url).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let mut msg = body.clone();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                if let Some(line) = v["line"].as_u64() {
                    // The server numbers lines within this request; renumber within the file.
                    let m = v["message"].as_str().unwrap_or("");
                    let m = m.strip_prefix(&format!("line {line}: ")).unwrap_or(m);
                    msg = format!("line {}: {m}", line as usize + line_offset);
                } else if let Some(m) = v["message"].as_str() {
                    msg = m.to_string();
                }
            }
            bail!("{status}: {msg}");
        }
        line_offset += chunk.iter().filter(|&&b| b == b'\n').count();
        sent_bytes += chunk.len();
        requests += 1;
    }
    eprintln!("wrote {sent_bytes} bytes of line protocol in {requests} request(s)");
    Ok(())
}

/// Splits at newlines into pieces of at most `max` bytes (a longer single line is one piece).
pub fn split_lines(input: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < input.len() {
        let mut end = (start + max).min(input.len());
        if end < input.len() {
            match input[start..end].iter().rposition(|&b| b == b'\n') {
                Some(p) => end = start + p + 1,
                None => {
                    end = input[end..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(input.len(), |p| end + p + 1)
                }
            }
        }
        out.push(&input[start..end]);
        start = end;
    }
    out
}

/// GETs `url` and returns the `data` of its `{"status":"success","data":...}` answer; an
/// error names the URL, and the status and body when it is not a success.
pub(crate) async fn get_data(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<serde_json::Value> {
    let resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("sending to {url}"))?;
    let code = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if !code.is_success() {
        bail!("{url}: {code}: {text}");
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{url}: the answer is not JSON"))?;
    Ok(v["data"].take())
}

/// Sends a request of the CLI, with the tenant header when one is given; errors name the
/// server.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    tenant: Option<&str>,
    url: &str,
) -> anyhow::Result<reqwest::Response> {
    let req = match tenant {
        Some(t) => req.header("X-Scope-OrgID", t),
        None => req,
    };
    req.send()
        .await
        .with_context(|| format!("sending to {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_whole_lines() {
        let input = b"a 1\nbb 2\nccc 3\n";
        let parts = split_lines(input, 6);
        assert_eq!(parts.concat(), input);
        assert!(parts.iter().all(|p| p.ends_with(b"\n")));
        assert_eq!(parts[0], b"a 1\n");
        let long = split_lines(b"xxxxxxxx\ny\n", 3);
        assert_eq!(long, vec![&b"xxxxxxxx\n"[..], &b"y\n"[..]]);
    }
}
