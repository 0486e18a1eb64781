//! `route:`, the routing tree: read as Alertmanager's `config.Route` (group_by, matchers in
//! all three spellings, timings), then resolved as `dispatch.NewRoute` does (each child
//! inherits receiver, grouping and timings; keys and ids).

use super::fields::{Fields, join};
use super::scalars::is_label_name;
use super::sink::Sink;
use crate::notify::matcher::{MatchOp, Matcher, matchers_string};
use crate::notify::matcher_parse::parse_matchers;
use crate::notify::route::Route;
use crate::yaml::Node;

const ROUTE_KEYS: [&str; 12] = [
    "receiver",
    "group_by",
    "match",
    "match_re",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "continue",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
];

/// Cairn's defaults: Alertmanager's, except `repeat_interval` (15m, not 4h: FlexMON's
/// deduplication window; docs/decisions.md).
const DEFAULT_GROUP_WAIT_MS: i64 = 30_000;
const DEFAULT_GROUP_INTERVAL_MS: i64 = 5 * 60_000;
const DEFAULT_REPEAT_INTERVAL_MS: i64 = 15 * 60_000;

/// A name in the file and where it is (for reference errors).
pub(crate) struct NameRef<'n> {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) node: &'n Node,
}

/// A route as written.
pub(crate) struct RawRoute<'n> {
    pub(crate) receiver: Option<NameRef<'n>>,
    /// Some when `group_by` names labels (it then replaces the parent's).
    group_by: Option<Vec<String>>,
    group_by_all: bool,
    /// `match`, `match_re` and `matchers`, in Alertmanager's order.
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) continue_matching: bool,
    group_wait_ms: Option<i64>,
    group_interval_ms: Option<i64>,
    repeat_interval_ms: Option<i64>,
    pub(crate) mute_time_intervals: Vec<NameRef<'n>>,
    pub(crate) active_time_intervals: Vec<NameRef<'n>>,
    pub(crate) routes: Vec<RawRoute<'n>>,
}

/// The root route, with the root's own rules checked; None when there is none.
pub(crate) fn route<'n>(sink: &mut Sink, top: &Fields<'n>) -> Option<RawRoute<'n>> {
    let node = top
        .get("route")
        .filter(|n| n.kind != crate::yaml::NodeKind::Null);
    let Some(node) = node else {
        sink.nowhere("route", "no route provided in config");
        return None;
    };
    let root = decode_route(sink, node, "route")?;
    // The root is the fallback for every alert.
    if root.receiver.is_none() {
        sink.at(
            "route.receiver",
            node,
            "root route must specify a default receiver",
        );
    }
    if !root.matchers.is_empty() {
        sink.at(
            "route.matchers",
            node,
            "root route must not have any matchers",
        );
    }
    if !root.mute_time_intervals.is_empty() {
        sink.at(
            "route.mute_time_intervals",
            node,
            "root route must not have any mute time intervals",
        );
    }
    if !root.active_time_intervals.is_empty() {
        sink.at(
            "route.active_time_intervals",
            node,
            "root route must not have any active time intervals",
        );
    }
    if root.continue_matching {
        sink.at("route.continue", node, "cannot have continue in root route");
    }
    Some(root)
}

fn decode_route<'n>(sink: &mut Sink, node: &'n Node, path: &str) -> Option<RawRoute<'n>> {
    let f = Fields::read(sink, node, path, "a route", &ROUTE_KEYS)?;
    let receiver = f.nonempty(sink, "receiver").map(|name| NameRef {
        name,
        path: f.path_of("receiver"),
        node: f.get("receiver").unwrap_or(node),
    });

    let mut group_by = Vec::new();
    let mut group_by_all = false;
    let mut group_by_ok = true;
    for (i, (name, n)) in f
        .strings(sink, "group_by")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let p = format!("{}[{i}]", f.path_of("group_by"));
        if name == "..." {
            group_by_all = true;
        } else if !is_label_name(&name) {
            sink.at(
                &p,
                n,
                format!("invalid label name {name:?} in group_by list"),
            );
            group_by_ok = false;
        } else if group_by.contains(&name) {
            sink.at(&p, n, format!("duplicated label {name:?} in group_by"));
            group_by_ok = false;
        } else {
            group_by.push(name);
        }
    }
    if group_by_all && !group_by.is_empty() && group_by_ok {
        f.report(
            sink,
            "group_by",
            "cannot have wildcard group_by (`...`) and other labels at the same time",
        );
    }

    let mut matchers = Vec::new();
    for (name, value, key) in f.string_map(sink, "match") {
        let p = join(&f.path_of("match"), &name);
        if !is_label_name(&name) {
            sink.at(&p, key, format!("invalid label name {name:?}"));
            continue;
        }
        if let Ok(m) = Matcher::new(&name, MatchOp::Equal, &value) {
            matchers.push(m);
        }
    }
    matchers.extend(match_re(sink, &f, "match_re"));
    matchers.extend(matchers_list(sink, &f, "matchers"));
    matchers.sort_by(Matcher::am_cmp);

    let group_wait_ms = f.duration(sink, "group_wait");
    let group_interval_ms = f.duration(sink, "group_interval");
    let repeat_interval_ms = f.duration(sink, "repeat_interval");
    if group_interval_ms == Some(0) {
        f.report(sink, "group_interval", "group_interval cannot be zero");
    }
    if repeat_interval_ms == Some(0) {
        f.report(sink, "repeat_interval", "repeat_interval cannot be zero");
    }
    // A repeat_interval shorter than group_interval only draws a warning in Alertmanager
    // (the repeat then waits for the next group_interval tick); accepted here too.

    let names = |sink: &mut Sink, key: &str| -> Vec<NameRef<'n>> {
        let p = f.path_of(key);
        f.strings(sink, key)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (name, node))| NameRef {
                name,
                path: format!("{p}[{i}]"),
                node,
            })
            .collect()
    };
    let mute_time_intervals = names(sink, "mute_time_intervals");
    let active_time_intervals = names(sink, "active_time_intervals");
    let continue_matching = f.boolean(sink, "continue").unwrap_or(false);
    let mut routes = Vec::new();
    for (p, n) in f.list(sink, "routes") {
        if let Some(r) = decode_route(sink, n, &p) {
            routes.push(r);
        }
    }
    Some(RawRoute {
        receiver,
        group_by: (!group_by.is_empty()).then_some(group_by),
        group_by_all,
        matchers,
        continue_matching,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        mute_time_intervals,
        active_time_intervals,
        routes,
    })
}

/// A `match_re` (or `source_match_re`…) map: label name to regex. Alertmanager turns each
/// into a matcher whose value is the anchored source, `^(?:value)$`, and so prints it.
pub(crate) fn match_re(sink: &mut Sink, f: &Fields<'_>, key: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (name, value, key_node) in f.string_map(sink, key) {
        let p = join(&f.path_of(key), &name);
        if !is_label_name(&name) {
            sink.at(&p, key_node, format!("invalid label name {name:?}"));
            continue;
        }
        match Matcher::new(&name, MatchOp::Regex, &format!("^(?:{value})$")) {
            Ok(m) => out.push(m),
            Err(e) => sink.at(&p, key_node, e),
        }
    }
    out
}

/// A `matchers` list (or `source_matchers`…): each entry in Alertmanager's matcher syntax,
/// possibly several separated by commas.
pub(crate) fn matchers_list(sink: &mut Sink, f: &Fields<'_>, key: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (i, (text, node)) in f
        .strings(sink, key)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match parse_matchers(&text) {
            Ok(ms) => out.extend(ms),
            Err(e) => sink.at(&format!("{}[{i}]", f.path_of(key)), node, e),
        }
    }
    out
}

impl RawRoute<'_> {
    /// The resolved tree (call once the file has no errors).
    pub(crate) fn resolve(&self) -> Route {
        self.resolve_under(None, 0)
    }

    fn resolve_under(&self, parent: Option<&Route>, index: usize) -> Route {
        let matchers_text = matchers_string(&self.matchers);
        let (mut group_by, mut group_by_all) = parent.map_or((Vec::new(), false), |p| {
            (p.group_by.clone(), p.group_by_all)
        });
        if let Some(g) = &self.group_by {
            group_by = g.clone();
            group_by_all = false;
        } else if self.group_by_all {
            group_by_all = true;
        }
        let mut route = Route {
            receiver: match (&self.receiver, parent) {
                (Some(r), _) => r.name.clone(),
                (None, Some(p)) => p.receiver.clone(),
                (None, None) => String::new(),
            },
            group_by,
            group_by_all,
            matchers: self.matchers.clone(),
            continue_matching: self.continue_matching,
            group_wait_ms: self
                .group_wait_ms
                .unwrap_or(parent.map_or(DEFAULT_GROUP_WAIT_MS, |p| p.group_wait_ms)),
            group_interval_ms: self
                .group_interval_ms
                .unwrap_or(parent.map_or(DEFAULT_GROUP_INTERVAL_MS, |p| p.group_interval_ms)),
            repeat_interval_ms: self
                .repeat_interval_ms
                .unwrap_or(parent.map_or(DEFAULT_REPEAT_INTERVAL_MS, |p| p.repeat_interval_ms)),
            // Not inherited: Alertmanager takes each route's own lists.
            mute_time_intervals: self
                .mute_time_intervals
                .iter()
                .map(|n| n.name.clone())
                .collect(),
            active_time_intervals: self
                .active_time_intervals
                .iter()
                .map(|n| n.name.clone())
                .collect(),
            routes: Vec::new(),
            key: match parent {
                Some(p) => format!("{}/{matchers_text}", p.key),
                None => matchers_text.clone(),
            },
            id: match parent {
                Some(p) => format!("{}/{matchers_text}/{index}", p.id),
                None => matchers_text,
            },
        };
        let children: Vec<Route> = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| r.resolve_under(Some(&route), i))
            .collect();
        route.routes = children;
        route
    }

    /// Every route of the tree, depth first.
    pub(crate) fn walk(&self) -> Vec<&RawRoute<'_>> {
        let mut out = vec![self];
        for r in &self.routes {
            out.extend(r.walk());
        }
        out
    }
}
