//! Silences in Alertmanager API v2's JSON: `GettableSilence` (what `GET /api/v2/silences`
//! answers) and `PostableSilence` (the body of `POST /api/v2/silences`), converted to and from
//! the stored form. The shapes are Alertmanager's OpenAPI spec (`api/v2/openapi.yaml`), so
//! `amtool` and Grafana read them unchanged.

use serde::{Deserialize, Serialize};

use super::am_time;
use super::notify_keys::{StoredMatcher, StoredSilence};
use super::silence::SilenceState;

/// `matcher` of the spec: `isEqual` false is a negative matcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    pub is_equal: bool,
    pub is_regex: bool,
    pub name: String,
    pub value: String,
}

impl ApiMatcher {
    pub fn from_stored(m: &StoredMatcher) -> ApiMatcher {
        ApiMatcher {
            is_equal: !m.op.starts_with('!'),
            is_regex: m.op.ends_with('~'),
            name: m.name.clone(),
            value: m.value.clone(),
        }
    }
}

/// The operator of a matcher given as `isEqual`/`isRegex` (Alertmanager's
/// `PostableSilenceToProto`: `isEqual` defaults to true).
pub fn op_of(is_equal: bool, is_regex: bool) -> &'static str {
    match (is_equal, is_regex) {
        (true, false) => "=",
        (false, false) => "!=",
        (true, true) => "=~",
        (false, true) => "!~",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceStatus {
    /// `active`, `pending` or `expired`.
    pub state: String,
}

/// `gettableSilence`, fields in the order Alertmanager writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub comment: String,
    pub created_by: String,
    pub ends_at: String,
    pub matchers: Vec<ApiMatcher>,
    pub starts_at: String,
}

impl GettableSilence {
    pub fn from_stored(s: &StoredSilence, now_ms: i64) -> GettableSilence {
        GettableSilence {
            id: s.id.clone(),
            status: SilenceStatus {
                state: state_of(s, now_ms).as_str().to_string(),
            },
            updated_at: am_time::format_ms(s.updated_at_ms),
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
            ends_at: am_time::format_ms(s.ends_at_ms),
            matchers: s.matchers.iter().map(ApiMatcher::from_stored).collect(),
            starts_at: am_time::format_ms(s.starts_at_ms),
        }
    }
}

/// A stored silence's state at `now_ms` (the same rule as [`super::Silence::state`]).
pub fn state_of(s: &StoredSilence, now_ms: i64) -> SilenceState {
    if now_ms < s.starts_at_ms {
        SilenceState::Pending
    } else if now_ms < s.ends_at_ms {
        SilenceState::Active
    } else {
        SilenceState::Expired
    }
}

/// A matcher of a posted silence: every field optional here so that a missing one gets
/// go-swagger's message rather than serde's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableMatcher {
    pub name: Option<String>,
    pub value: Option<String>,
    pub is_regex: Option<bool>,
    pub is_equal: Option<bool>,
}

/// `postableSilence`: an `id` updates that silence.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default)]
    pub id: Option<String>,
    pub matchers: Option<Vec<PostableMatcher>>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
}

impl PostableSilence {
    /// The silence as stored (`updated_at_ms` 0, `id` empty for a new one), or the message
    /// go-swagger gives for a missing required field or a bad time. A start at Go's zero time
    /// is `None` (Alertmanager then starts the silence now).
    pub fn decode(self) -> Result<(StoredSilence, Option<i64>), String> {
        fn required<T>(v: Option<T>, what: &str) -> Result<T, String> {
            v.ok_or_else(|| format!("{what} in body is required"))
        }
        let matchers = required(self.matchers, "matchers")?
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let name = required(m.name, &format!("matchers.{i}.name"))?;
                let value = required(m.value, &format!("matchers.{i}.value"))?;
                let is_regex = required(m.is_regex, &format!("matchers.{i}.isRegex"))?;
                Ok(StoredMatcher {
                    name,
                    op: op_of(m.is_equal.unwrap_or(true), is_regex).to_string(),
                    value,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let time = |v: Option<String>, what: &str| -> Result<Option<i64>, String> {
            let v = required(v, what)?;
            am_time::parse_ms(&v)
                .map_err(|e| format!("{what} in body must be of type date-time: {e}"))
        };
        let starts = time(self.starts_at, "startsAt")?;
        let ends = time(self.ends_at, "endsAt")?
            .ok_or_else(|| "invalid silence: invalid zero end timestamp".to_string())?;
        let s = StoredSilence {
            id: self.id.unwrap_or_default(),
            matchers,
            starts_at_ms: starts.unwrap_or(0),
            ends_at_ms: ends,
            updated_at_ms: 0,
            created_by: required(self.created_by, "createdBy")?,
            comment: required(self.comment, "comment")?,
        };
        Ok((s, starts))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> StoredSilence {
        StoredSilence {
            id: "8b7e6f1a-1111-4222-8333-944445555666".into(),
            matchers: vec![
                StoredMatcher {
                    name: "alertname".into(),
                    op: "=".into(),
                    value: "Foo".into(),
                },
                StoredMatcher {
                    name: "env".into(),
                    op: "!~".into(),
                    value: "dev|test".into(),
                },
            ],
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: 1_700_003_600_000,
            updated_at_ms: 1_700_000_000_250,
            created_by: "ops".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn gettable_json_is_alertmanagers() {
        let g = GettableSilence::from_stored(&stored(), 1_700_000_100_000);
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!({
                "id": "8b7e6f1a-1111-4222-8333-944445555666",
                "status": {"state": "active"},
                "updatedAt": "2023-11-14T22:13:20.250Z",
                "comment": "maintenance",
                "createdBy": "ops",
                "endsAt": "2023-11-14T23:13:20.000Z",
                "matchers": [
                    {"isEqual": true, "isRegex": false, "name": "alertname", "value": "Foo"},
                    {"isEqual": false, "isRegex": true, "name": "env", "value": "dev|test"},
                ],
                "startsAt": "2023-11-14T22:13:20.000Z",
            })
        );
        assert_eq!(
            state_of(&stored(), 1_699_999_999_999),
            SilenceState::Pending
        );
        assert_eq!(
            state_of(&stored(), 1_700_003_600_000),
            SilenceState::Expired
        );
    }

    #[test]
    fn postable_decodes_with_is_equal_defaulting_to_true() {
        let p: PostableSilence = serde_json::from_value(json!({
            "matchers": [
                {"name": "alertname", "value": "Foo", "isRegex": false},
                {"name": "env", "value": "dev|test", "isRegex": true, "isEqual": false},
            ],
            "startsAt": "2023-11-14T22:13:20Z",
            "endsAt": "2023-11-14T23:13:20Z",
            "createdBy": "ops",
            "comment": "maintenance",
        }))
        .unwrap();
        let (s, starts) = p.decode().unwrap();
        assert_eq!(starts, Some(1_700_000_000_000));
        let mut want = stored();
        want.id = String::new();
        want.updated_at_ms = 0;
        assert_eq!(s, want);
    }

    #[test]
    fn postable_names_the_missing_field() {
        let p: PostableSilence = serde_json::from_value(json!({
            "matchers": [{"name": "a", "value": "b"}],
            "startsAt": "2023-11-14T22:13:20Z", "endsAt": "2023-11-14T23:13:20Z",
            "createdBy": "ops", "comment": "c",
        }))
        .unwrap();
        assert_eq!(
            p.decode().unwrap_err(),
            "matchers.0.isRegex in body is required"
        );
        let p: PostableSilence = serde_json::from_value(json!({"matchers": []})).unwrap();
        assert_eq!(p.decode().unwrap_err(), "startsAt in body is required");
        let p: PostableSilence = serde_json::from_value(json!({
            "matchers": [], "startsAt": "soon", "endsAt": "2023-11-14T23:13:20Z",
        }))
        .unwrap();
        assert!(
            p.decode()
                .unwrap_err()
                .starts_with("startsAt in body must be of type date-time")
        );
    }
}
