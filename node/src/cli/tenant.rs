//! `cairn tenant`: a tenant's settings on a running cluster.
//!
//! ```text
//!  set-retention T [--raw 7d] [--5m 30d] [--1h 365d] ─► PUT /api/v1/tenants/T/retention
//!  reset-retention T                                 ─► DELETE /api/v1/tenants/T/retention
//!  show T                                            ─► GET /api/v1/tenants/T
//! ```
//! `set-retention` replaces the tenant's override: tiers not given follow the cluster defaults.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::send;

#[derive(Debug, clap::Subcommand)]
pub enum TenantCmd {
    /// Override a tenant's retention per tier (tiers not given follow the cluster defaults; 0s keeps forever).
    SetRetention(SetRetentionArgs),
    /// Drop a tenant's retention override: the cluster defaults again.
    ResetRetention(TenantArgs),
    /// Show a tenant's effective retention and where each value comes from.
    Show(TenantArgs),
}

#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    /// Node to send to.
    #[arg(long, default_value = "http://127.0.0.1:7480", env = "CAIRN_URL")]
    pub url: String,
    pub tenant: String,
}

#[derive(Debug, clap::Args)]
pub struct SetRetentionArgs {
    #[command(flatten)]
    pub target: TenantArgs,
    /// Raw samples, e.g. 7d.
    #[arg(long)]
    pub raw: Option<String>,
    /// 5-minute rollups, e.g. 30d.
    #[arg(long = "5m", value_name = "DURATION")]
    pub rollup_5m: Option<String>,
    /// 1-hour rollups, e.g. 365d.
    #[arg(long = "1h", value_name = "DURATION")]
    pub rollup_1h: Option<String>,
}

pub async fn run(cmd: TenantCmd) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let (target, req) = match &cmd {
        TenantCmd::SetRetention(a) => {
            let mut body = serde_json::Map::new();
            for (name, v) in [
                ("raw", &a.raw),
                ("rollup_5m", &a.rollup_5m),
                ("rollup_1h", &a.rollup_1h),
            ] {
                if let Some(v) = v {
                    body.insert(name.into(), json!(v));
                }
            }
            let url = retention_url(&a.target);
            let req = client
                .put(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(Value::Object(body).to_string());
            (&a.target, req)
        }
        TenantCmd::ResetRetention(a) => (a, client.delete(retention_url(a))),
        TenantCmd::Show(a) => (a, client.get(tenant_url(a))),
    };
    let resp = send(req, None, &target.url).await?;
    let code = resp.status();
    let text = resp.text().await.context("reading the answer")?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !code.is_success() {
        match v["error"].as_str() {
            Some(e) => bail!("{code}: {e}"),
            None => bail!("{code}: {text}"),
        }
    }
    print!("{}", render_tenant(&v["data"]));
    Ok(())
}

fn tenant_url(a: &TenantArgs) -> String {
    format!(
        "{}/api/v1/tenants/{}",
        a.url.trim_end_matches('/'),
        a.tenant
    )
}

fn retention_url(a: &TenantArgs) -> String {
    format!("{}/retention", tenant_url(a))
}

/// `tenant T retention: raw 7d (default) · rollup_5m 30d (tenant) · rollup_1h 365d (default)`
pub fn render_tenant(d: &Value) -> String {
    format!(
        "tenant {} retention: {}\n",
        d["tenant"].as_str().unwrap_or("?"),
        render_retention(&d["retention"], true)
    )
}

/// The tiers on one line; with `sources`, each value says where it comes from.
pub fn render_retention(r: &Value, sources: bool) -> String {
    ["raw", "rollup_5m", "rollup_1h"]
        .iter()
        .map(|tier| {
            let t = &r[*tier];
            let value = t["value"].as_str().unwrap_or("?");
            let value = if value == "0s" { "forever" } else { value };
            if sources {
                format!("{tier} {value} ({})", t["source"].as_str().unwrap_or("?"))
            } else {
                format!("{tier} {value}")
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_renders_on_one_line_with_sources() {
        let d = json!({"tenant": "acme", "retention": {
            "raw": {"value": "14d", "source": "tenant"},
            "rollup_5m": {"value": "30d", "source": "default"},
            "rollup_1h": {"value": "0s", "source": "tenant"},
        }});
        assert_eq!(
            render_tenant(&d),
            "tenant acme retention: raw 14d (tenant) · rollup_5m 30d (default) · rollup_1h forever (tenant)\n"
        );
    }
}
