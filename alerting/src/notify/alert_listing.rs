//! Alertmanager API v2's alert listings, `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`:
//! each alert with the receivers its routes lead to and its status (silenced by which
//! silences, inhibited by which alerts), filtered by the API's parameters, in Alertmanager's
//! JSON (`gettableAlert`, `alertGroup`), so `amtool alert query` and Grafana read them.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Value, json};

use super::am_time;
use super::config::AlertmanagerConfig;
use super::dispatch::GroupView;
use super::inhibitor::inhibited_by;
use super::matcher::{Matcher, all_match};
use super::notify_alert::NotifyAlert;
use super::silence::Silence;

/// The API's query parameters (`active`, `silenced`, `inhibited`, `filter`, `receiver`).
#[derive(Debug, Clone)]
pub struct AlertFilter {
    pub active: bool,
    pub silenced: bool,
    pub inhibited: bool,
    pub matchers: Vec<Matcher>,
    /// Anchored, as Alertmanager anchors `receiver=`.
    pub receiver: Option<Regex>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            active: true,
            silenced: true,
            inhibited: true,
            matchers: Vec::new(),
            receiver: None,
        }
    }
}

impl AlertFilter {
    /// `receiver=` as Alertmanager compiles it: `^(?:re)$`.
    pub fn receiver_regex(re: &str) -> Result<Regex, String> {
        Regex::new(&format!("^(?:{re})$")).map_err(|e| format!("receiver: {e}"))
    }
}

/// What the listing needs besides the alerts.
pub struct ListingContext<'a> {
    /// None when the tenant has no notification configuration: alerts then list no receivers.
    pub config: Option<&'a AlertmanagerConfig>,
    pub silences: &'a [Silence],
    /// Every unresolved alert of the tenant (inhibition sources).
    pub all_alerts: &'a [NotifyAlert],
    pub now_ms: i64,
}

/// `GET /api/v2/alerts`: unresolved alerts that pass the filter, by fingerprint as
/// Alertmanager orders them.
pub fn list_alerts(
    alerts: &[NotifyAlert],
    ctx: &ListingContext<'_>,
    filter: &AlertFilter,
) -> Vec<Value> {
    let mut out: Vec<(u64, Value)> = alerts
        .iter()
        .filter(|a| !a.resolved_at(ctx.now_ms))
        .filter_map(|a| {
            let receivers = receivers_of(a, ctx.config);
            gettable(a, &receivers, ctx, filter).map(|v| (a.fingerprint(), v))
        })
        .collect();
    // Fixed-width hex strings sort as their numbers: Alertmanager's order.
    out.sort_by_key(|(fp, _)| *fp);
    out.dedup_by_key(|(fp, _)| *fp);
    out.into_iter().map(|(_, v)| v).collect()
}

/// `GET /api/v2/alerts/groups`: the planner's aggregation groups with their unresolved alerts
/// that pass the filter; groups left empty are not listed, as in Alertmanager.
pub fn list_groups(
    groups: &[GroupView],
    ctx: &ListingContext<'_>,
    filter: &AlertFilter,
) -> Vec<Value> {
    groups
        .iter()
        .filter(|g| {
            filter
                .receiver
                .as_ref()
                .is_none_or(|r| r.is_match(&g.receiver))
        })
        .filter_map(|g| {
            let receivers = vec![g.receiver.clone()];
            let alerts: Vec<Value> = g
                .alerts
                .iter()
                .filter(|a| !a.resolved_at(ctx.now_ms))
                .filter_map(|a| gettable(a, &receivers, ctx, filter))
                .collect();
            (!alerts.is_empty()).then(|| {
                json!({
                    "labels": g.labels,
                    "receiver": {"name": g.receiver},
                    "alerts": alerts,
                })
            })
        })
        .collect()
}

/// The receivers an alert's matching routes name, each once, in route order.
fn receivers_of(alert: &NotifyAlert, config: Option<&AlertmanagerConfig>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(c) = config {
        for r in c.route.match_alert(&alert.labels) {
            if !names.contains(&r.receiver) {
                names.push(r.receiver.clone());
            }
        }
    }
    names
}

/// The alert as `gettableAlert`, or None when the filter drops it.
fn gettable(
    a: &NotifyAlert,
    receivers: &[String],
    ctx: &ListingContext<'_>,
    filter: &AlertFilter,
) -> Option<Value> {
    if !all_match(&filter.matchers, &a.labels) {
        return None;
    }
    if let Some(re) = &filter.receiver
        && !receivers.iter().any(|r| re.is_match(r))
    {
        return None;
    }
    let silenced_by: Vec<String> = ctx
        .silences
        .iter()
        .filter(|s| s.mutes(&a.labels, ctx.now_ms))
        .map(|s| s.id.clone())
        .collect();
    let inhibit_rules = ctx
        .config
        .map(|c| c.inhibit_rules.as_slice())
        .unwrap_or(&[]);
    let inhibited_by: Vec<String> =
        inhibited_by(&a.labels, inhibit_rules, ctx.all_alerts, ctx.now_ms)
            .into_iter()
            .map(|fp| format!("{fp:016x}"))
            .collect();
    let suppressed = !silenced_by.is_empty() || !inhibited_by.is_empty();
    // Alertmanager's filter: `active` keeps unsuppressed alerts, `silenced` and `inhibited`
    // keep the ones suppressed that way.
    let keep = (!suppressed && filter.active)
        || (!silenced_by.is_empty() && filter.silenced)
        || (!inhibited_by.is_empty() && filter.inhibited);
    if !keep {
        return None;
    }
    let labels: BTreeMap<&String, &String> = a.labels.iter().collect();
    Some(json!({
        "annotations": a.annotations,
        "endsAt": am_time::format_ms(a.ends_at_ms),
        "fingerprint": format!("{:016x}", a.fingerprint()),
        "receivers": receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "startsAt": am_time::format_ms(a.starts_at_ms),
        "status": {
            "inhibitedBy": inhibited_by,
            "silencedBy": silenced_by,
            "state": if suppressed { "suppressed" } else { "active" },
        },
        "updatedAt": am_time::format_ms(a.updated_at_ms),
        "generatorURL": a.generator_url,
        "labels": labels,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::matcher::MatchOp;

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::from([("summary".to_string(), "s".to_string())]),
            starts_at_ms: 1_000,
            ends_at_ms: 100_000,
            generator_url: "http://g".to_string(),
            updated_at_ms: 2_000,
        }
    }

    fn config() -> AlertmanagerConfig {
        AlertmanagerConfig::parse(
            r#"
route:
  receiver: default
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
    - matchers: [team="db"]
      receiver: db
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [host]
receivers:
  - name: default
  - name: pager
  - name: db
"#,
            BTreeMap::new(),
        )
        .unwrap()
    }

    fn silence(name: &str, value: &str) -> Silence {
        Silence {
            id: format!("sil-{value}"),
            matchers: vec![Matcher::new(name, MatchOp::Equal, value).unwrap()],
            starts_at_ms: 0,
            ends_at_ms: 50_000,
            updated_at_ms: 0,
            created_by: "me".to_string(),
            comment: "c".to_string(),
        }
    }

    #[test]
    fn alerts_carry_receivers_and_suppression() {
        let cfg = config();
        let critical = alert(&[
            ("alertname", "A"),
            ("severity", "critical"),
            ("team", "db"),
            ("host", "h"),
        ]);
        let warning = alert(&[("alertname", "B"), ("severity", "warning"), ("host", "h")]);
        let silenced = alert(&[("alertname", "C"), ("host", "x")]);
        let all = vec![critical.clone(), warning.clone(), silenced.clone()];
        let silences = vec![silence("alertname", "C")];
        let ctx = ListingContext {
            config: Some(&cfg),
            silences: &silences,
            all_alerts: &all,
            now_ms: 10_000,
        };
        let listed = list_alerts(&all, &ctx, &AlertFilter::default());
        assert_eq!(listed.len(), 3);
        let by_name = |n: &str| {
            listed
                .iter()
                .find(|v| v["labels"]["alertname"] == n)
                .unwrap()
                .clone()
        };
        let a = by_name("A");
        assert_eq!(a["receivers"], json!([{"name": "pager"}, {"name": "db"}]));
        assert_eq!(a["status"]["state"], "active");
        assert_eq!(a["startsAt"], "1970-01-01T00:00:01.000Z");
        let b = by_name("B");
        assert_eq!(b["status"]["state"], "suppressed");
        assert_eq!(
            b["status"]["inhibitedBy"],
            json!([format!("{:016x}", critical.fingerprint())])
        );
        assert_eq!(b["receivers"], json!([{"name": "default"}]));
        let c = by_name("C");
        assert_eq!(c["status"]["silencedBy"], json!(["sil-C"]));
        // Ordered by fingerprint, as Alertmanager orders them.
        let fps: Vec<&str> = listed
            .iter()
            .map(|v| v["fingerprint"].as_str().unwrap())
            .collect();
        let mut sorted = fps.clone();
        sorted.sort();
        assert_eq!(fps, sorted);

        // active=false keeps only suppressed ones; silenced=false drops C; a receiver filter.
        let only_suppressed = AlertFilter {
            active: false,
            ..Default::default()
        };
        assert_eq!(list_alerts(&all, &ctx, &only_suppressed).len(), 2);
        let no_silenced = AlertFilter {
            silenced: false,
            ..Default::default()
        };
        assert!(
            list_alerts(&all, &ctx, &no_silenced)
                .iter()
                .all(|v| v["labels"]["alertname"] != "C")
        );
        let pager = AlertFilter {
            receiver: Some(AlertFilter::receiver_regex("pag.*").unwrap()),
            ..Default::default()
        };
        let l = list_alerts(&all, &ctx, &pager);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0]["labels"]["alertname"], "A");
        let m = AlertFilter {
            matchers: vec![Matcher::new("host", MatchOp::Equal, "x").unwrap()],
            ..Default::default()
        };
        assert_eq!(list_alerts(&all, &ctx, &m).len(), 1);

        // Resolved alerts are not listed; once the silence ends, C is active.
        let later = ListingContext {
            now_ms: 60_000,
            ..ctx
        };
        assert_eq!(
            by_state(&list_alerts(&all, &later, &AlertFilter::default()), "C"),
            "active"
        );
        let resolved = ListingContext {
            now_ms: 100_000,
            ..later
        };
        assert!(list_alerts(&all, &resolved, &AlertFilter::default()).is_empty());
    }

    fn by_state(listed: &[Value], name: &str) -> String {
        listed
            .iter()
            .find(|v| v["labels"]["alertname"] == name)
            .unwrap()["status"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn groups_list_their_unresolved_alerts() {
        let a = alert(&[("alertname", "A")]);
        let mut gone = alert(&[("alertname", "Z")]);
        gone.ends_at_ms = 5_000;
        let groups = vec![
            GroupView {
                route_id: "{}".to_string(),
                group_key: "{}:{alertname=\"A\"}".to_string(),
                receiver: "default".to_string(),
                labels: BTreeMap::from([("alertname".to_string(), "A".to_string())]),
                alerts: vec![a.clone()],
            },
            GroupView {
                route_id: "{}".to_string(),
                group_key: "{}:{alertname=\"Z\"}".to_string(),
                receiver: "default".to_string(),
                labels: BTreeMap::from([("alertname".to_string(), "Z".to_string())]),
                alerts: vec![gone],
            },
        ];
        let all = vec![a];
        let ctx = ListingContext {
            config: None,
            silences: &[],
            all_alerts: &all,
            now_ms: 10_000,
        };
        let listed = list_groups(&groups, &ctx, &AlertFilter::default());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["receiver"]["name"], "default");
        assert_eq!(listed[0]["labels"]["alertname"], "A");
        assert_eq!(
            listed[0]["alerts"][0]["receivers"],
            json!([{"name": "default"}])
        );
    }
}
