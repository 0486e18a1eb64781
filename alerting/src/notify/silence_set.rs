//! Creating, updating and expiring a silence, as Alertmanager's `Silences.Set` and `Expire`
//! (and the checks of its `POST /api/v2/silences` handler) decide, as pure functions of the
//! stored silence, the posted one and the time. The node writes what they return in one
//! meta-group command.
//!
//! ```text
//!  posted ─► start ≥ end? end in the past? ─► validate (matchers, times) ─► 400
//!         ─► id given but unknown ─► 404
//!         ─► same matchers, and the change keeps history (active: same start, end not past;
//!            pending: start not past) ─► updated in place (same id)
//!         ─► otherwise a new id; the old one, unless expired, is expired beside it
//! ```

use super::gettable_silence::state_of;
use super::matcher::{MatchOp, Matcher};
use super::notify_keys::{StoredMatcher, StoredSilence};
use super::silence::SilenceState;

/// Why a posted silence is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceError {
    /// 400, with Alertmanager's message.
    Invalid(String),
    /// 404: the posted id names no silence.
    NotFound,
}

impl std::fmt::Display for SilenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SilenceError::Invalid(m) => f.write_str(m),
            SilenceError::NotFound => f.write_str("silence not found"),
        }
    }
}

/// What a post writes: the silences to store (the new or updated one first, then the expired
/// old one, if any) and the id to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceSet {
    pub id: String,
    pub puts: Vec<StoredSilence>,
}

/// Plans `POST /api/v2/silences`. `posted` is the decoded body (`id` empty for a new
/// silence); `posted_start` is `None` when the body's start was Go's zero time; `prev` the
/// stored silence of `posted.id`; `new_id` the id a new silence gets (a fresh UUID v4).
pub fn plan_set(
    prev: Option<&StoredSilence>,
    mut posted: StoredSilence,
    posted_start: Option<i64>,
    now_ms: i64,
    new_id: String,
) -> Result<SilenceSet, SilenceError> {
    let invalid = |m: &str| SilenceError::Invalid(m.to_string());
    // The handler's own checks come first, with its messages.
    let start = posted_start.unwrap_or(now_ms);
    if start >= posted.ends_at_ms {
        return Err(invalid(
            "Failed to create silence: start time must be before end time",
        ));
    }
    if posted.ends_at_ms < now_ms {
        return Err(invalid(
            "Failed to create silence: end time can't be in the past",
        ));
    }
    posted.starts_at_ms = start;
    validate(&posted).map_err(|e| SilenceError::Invalid(format!("invalid silence: {e}")))?;
    if !posted.id.is_empty() && prev.is_none() {
        return Err(SilenceError::NotFound);
    }
    if let Some(prev) = prev
        && can_update(prev, &posted, now_ms)
    {
        posted.updated_at_ms = now_ms;
        return Ok(SilenceSet {
            id: posted.id.clone(),
            puts: vec![posted],
        });
    }
    posted.id = new_id;
    posted.starts_at_ms = posted.starts_at_ms.max(now_ms);
    posted.updated_at_ms = now_ms;
    let mut puts = vec![posted];
    // The old silence stays, expired, as the record of what was silenced until now.
    if let Some(old) = prev.and_then(|p| expire(p, now_ms)) {
        puts.push(old);
    }
    Ok(SilenceSet {
        id: puts[0].id.clone(),
        puts,
    })
}

/// `DELETE /api/v2/silence/{id}`: the silence expired now (a pending one gets start = end =
/// now), or `None` if it has expired already (nothing to write; still a success).
pub fn expire(s: &StoredSilence, now_ms: i64) -> Option<StoredSilence> {
    let mut s = s.clone();
    match state_of(&s, now_ms) {
        SilenceState::Expired => return None,
        SilenceState::Active => s.ends_at_ms = now_ms,
        SilenceState::Pending => {
            s.starts_at_ms = now_ms;
            s.ends_at_ms = now_ms;
        }
    }
    s.updated_at_ms = now_ms;
    Some(s)
}

/// Alertmanager's `validateSilence`, with its messages.
pub fn validate(s: &StoredSilence) -> Result<(), String> {
    if s.matchers.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut all_match_empty = true;
    for (i, m) in s.matchers.iter().enumerate() {
        let matcher = compile(m).map_err(|e| format!("invalid label matcher {i}: {e}"))?;
        // Only `=` and `=~` can match a missing label.
        all_match_empty &=
            matches!(matcher.op, MatchOp::Equal | MatchOp::Regex) && matcher.matches_value("");
    }
    if all_match_empty {
        return Err("at least one matcher must not match the empty string".into());
    }
    if s.ends_at_ms < s.starts_at_ms {
        return Err("end time must not be before start time".into());
    }
    Ok(())
}

/// A stored matcher as a [`Matcher`], refusing what Alertmanager's `validateMatcher` refuses.
fn compile(m: &StoredMatcher) -> Result<Matcher, String> {
    if !is_label_name(&m.name) {
        return Err(format!("invalid label name {:?}", m.name));
    }
    let op = match m.op.as_str() {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regex,
        "!~" => MatchOp::NotRegex,
        other => return Err(format!("unknown matcher type {other:?}")),
    };
    if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
        // The message shows the pattern as given, not the anchored form `Matcher` compiles.
        regex::Regex::new(&m.value)
            .map_err(|e| format!("invalid regular expression {:?}: {e}", m.value))?;
    }
    Matcher::new(&m.name, op, &m.value)
}

/// Prometheus' classic label name: `[a-zA-Z_][a-zA-Z0-9_]*` (what Alertmanager 0.25 checks).
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Alertmanager's `canUpdate`: whether `b` may replace `a` in place without rewriting what was
/// silenced in the past.
fn can_update(a: &StoredSilence, b: &StoredSilence, now_ms: i64) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match state_of(a, now_ms) {
        // Alertmanager compares the starts in whole seconds.
        SilenceState::Active => {
            a.starts_at_ms.div_euclid(1000) == b.starts_at_ms.div_euclid(1000)
                && b.ends_at_ms >= now_ms
        }
        SilenceState::Pending => b.starts_at_ms >= now_ms,
        SilenceState::Expired => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn m(name: &str, op: &str, value: &str) -> StoredMatcher {
        StoredMatcher {
            name: name.into(),
            op: op.into(),
            value: value.into(),
        }
    }

    fn silence(id: &str, starts: i64, ends: i64) -> StoredSilence {
        StoredSilence {
            id: id.into(),
            matchers: vec![m("alertname", "=", "Foo")],
            starts_at_ms: starts,
            ends_at_ms: ends,
            updated_at_ms: 0,
            created_by: "ops".into(),
            comment: "c".into(),
        }
    }

    fn invalid(r: Result<SilenceSet, SilenceError>) -> String {
        match r {
            Err(SilenceError::Invalid(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_new_silence_gets_the_new_id_and_starts_no_earlier_than_now() {
        let posted = silence("", NOW - HOUR, NOW + HOUR);
        let set = plan_set(None, posted, Some(NOW - HOUR), NOW, "new".into()).unwrap();
        assert_eq!(set.id, "new");
        assert_eq!(set.puts.len(), 1);
        assert_eq!(set.puts[0].starts_at_ms, NOW);
        assert_eq!(set.puts[0].updated_at_ms, NOW);
        // A zero start means now.
        let set = plan_set(None, silence("", 0, NOW + HOUR), None, NOW, "n".into()).unwrap();
        assert_eq!(set.puts[0].starts_at_ms, NOW);
    }

    #[test]
    fn refusals_carry_alertmanagers_messages() {
        let bad = |s: StoredSilence| {
            invalid(plan_set(
                None,
                s.clone(),
                Some(s.starts_at_ms),
                NOW,
                "x".into(),
            ))
        };
        assert_eq!(
            bad(silence("", NOW + HOUR, NOW)),
            "Failed to create silence: start time must be before end time"
        );
        assert_eq!(
            bad(silence("", NOW - 2 * HOUR, NOW - HOUR)),
            "Failed to create silence: end time can't be in the past"
        );
        let mut s = silence("", NOW, NOW + HOUR);
        s.matchers.clear();
        assert_eq!(
            bad(s.clone()),
            "invalid silence: at least one matcher required"
        );
        s.matchers = vec![m("", "=", "x")];
        assert_eq!(
            bad(s.clone()),
            "invalid silence: invalid label matcher 0: invalid label name \"\""
        );
        s.matchers = vec![m("job", "=", "a"), m("instance", "=~", "(")];
        assert!(bad(s.clone()).starts_with(
            "invalid silence: invalid label matcher 1: invalid regular expression \"(\""
        ));
        s.matchers = vec![m("job", "=", ""), m("instance", "=~", ".*")];
        assert_eq!(
            bad(s.clone()),
            "invalid silence: at least one matcher must not match the empty string"
        );
        // A negative matcher never matches the empty string on its own terms.
        s.matchers = vec![m("job", "!=", "")];
        assert!(plan_set(None, s, Some(NOW), NOW, "x".into()).is_ok());
    }

    #[test]
    fn an_unknown_id_is_not_found() {
        let posted = silence("nope", NOW, NOW + HOUR);
        assert_eq!(
            plan_set(None, posted, Some(NOW), NOW, "x".into()),
            Err(SilenceError::NotFound)
        );
    }

    #[test]
    fn an_active_silence_is_extended_in_place() {
        let prev = silence("a", NOW - HOUR, NOW + HOUR);
        let posted = silence("a", NOW - HOUR + 300, NOW + 2 * HOUR);
        let set = plan_set(Some(&prev), posted, Some(NOW - HOUR + 300), NOW, "x".into()).unwrap();
        assert_eq!(set.id, "a");
        assert_eq!(set.puts.len(), 1);
        assert_eq!(set.puts[0].ends_at_ms, NOW + 2 * HOUR);
        assert_eq!(set.puts[0].updated_at_ms, NOW);
    }

    #[test]
    fn changing_matchers_or_an_active_start_expires_the_old_and_creates_a_new_one() {
        let prev = silence("a", NOW - HOUR, NOW + HOUR);
        let mut posted = silence("a", NOW - HOUR, NOW + HOUR);
        posted.matchers = vec![m("alertname", "=", "Bar")];
        let set = plan_set(Some(&prev), posted, Some(NOW - HOUR), NOW, "b".into()).unwrap();
        assert_eq!(set.id, "b");
        assert_eq!(set.puts[0].id, "b");
        assert_eq!(set.puts[0].starts_at_ms, NOW);
        assert_eq!(set.puts[1].id, "a");
        assert_eq!(set.puts[1].ends_at_ms, NOW);
        // A moved start of an active silence rewrites history too.
        let posted = silence("a", NOW - 2 * HOUR, NOW + HOUR);
        let set = plan_set(Some(&prev), posted, Some(NOW - 2 * HOUR), NOW, "c".into()).unwrap();
        assert_eq!(set.id, "c");
        assert_eq!(set.puts.len(), 2);
    }

    #[test]
    fn a_pending_silence_may_move_its_start_but_not_into_the_past() {
        let prev = silence("p", NOW + HOUR, NOW + 2 * HOUR);
        let posted = silence("p", NOW + 30 * 60_000, NOW + 2 * HOUR);
        let set = plan_set(
            Some(&prev),
            posted,
            Some(NOW + 30 * 60_000),
            NOW,
            "x".into(),
        )
        .unwrap();
        assert_eq!((set.id.as_str(), set.puts.len()), ("p", 1));
        let posted = silence("p", NOW - 60_000, NOW + 2 * HOUR);
        let set = plan_set(Some(&prev), posted, Some(NOW - 60_000), NOW, "x".into()).unwrap();
        assert_eq!(set.id, "x");
        // The pending one is expired with start = end = now.
        assert_eq!(
            (set.puts[1].starts_at_ms, set.puts[1].ends_at_ms),
            (NOW, NOW)
        );
    }

    #[test]
    fn updating_an_expired_silence_creates_a_new_one_and_leaves_the_old() {
        let prev = silence("e", NOW - 2 * HOUR, NOW - HOUR);
        let posted = silence("e", NOW, NOW + HOUR);
        let set = plan_set(Some(&prev), posted, Some(NOW), NOW, "n".into()).unwrap();
        assert_eq!(set.id, "n");
        assert_eq!(set.puts.len(), 1);
    }

    #[test]
    fn expiring_ends_an_active_silence_now_and_leaves_an_expired_one() {
        let active = silence("a", NOW - HOUR, NOW + HOUR);
        let e = expire(&active, NOW).unwrap();
        assert_eq!(
            (e.starts_at_ms, e.ends_at_ms, e.updated_at_ms),
            (NOW - HOUR, NOW, NOW)
        );
        assert_eq!(state_of(&e, NOW), SilenceState::Expired);
        let pending = silence("p", NOW + HOUR, NOW + 2 * HOUR);
        let e = expire(&pending, NOW).unwrap();
        assert_eq!((e.starts_at_ms, e.ends_at_ms), (NOW, NOW));
        assert_eq!(expire(&e, NOW + 1), None);
    }
}
