//! The inverted index: postings lists in the `postings` column family, one key per
//! (tenant, label name, label value, series id), and the set algebra that turns matchers into
//! series ids.
//!
//! ```text
//!  {job="api", instance=~"a|b", env!="dev"}
//!     job="api"          ──► postings(job, api)                      ┐
//!     instance=~"a|b"    ──► postings(instance, a) ∪ postings(...b)  ├─ ∩ ──► − postings(env, dev) ──► ids
//!     (no positive one)  ──► postings("", "")  = every series        ┘
//! ```
//! Every series also has an entry under the empty name and value, so "all series of a
//! tenant" is one prefix scan. A matcher that matches the empty string (`env!="dev"`,
//! `x=~".*"`, `x=""`) selects series *without* the label too, so it is applied by subtracting
//! the values it rejects, as Prometheus does.
//!
//! Exact label matches are read first and the metric name's postings after them; once the
//! candidates are few (`CHECK_ON_LABELS_BELOW`), the remaining matchers are left to the caller
//! to check on the candidates' labels, so `cpu{host="h7"}` does not read a postings key for
//! every series of `cpu`.
//!
//! It owns reading postings and the set algebra; it must not write them (the engine's
//! `engine/write.rs` does, in the same RocksDB write as the series record) and knows nothing
//! of samples or chunks.

use rocksdb::{DB, ReadOptions};

use crate::error::Result;
use crate::keys::{
    CF_POSTINGS, parse_postings_key, postings_name_prefix, postings_tenant_prefix,
    postings_value_prefix, prefix_successor,
};
use cairn_model::{MatchOp, Matcher};

/// The label name of the "every series" postings list.
pub const ALL_POSTINGS_NAME: &str = "";

fn cf(db: &DB) -> &rocksdb::ColumnFamily {
    db.cf_handle(CF_POSTINGS)
        .expect("postings column family is created at open")
}

fn bounded(prefix: &[u8]) -> ReadOptions {
    let mut ro = ReadOptions::default();
    if let Some(end) = prefix_successor(prefix) {
        ro.set_iterate_upper_bound(end);
    }
    ro
}

/// The sorted series ids of `name="value"`.
pub fn postings(db: &DB, shard: u32, tenant: &str, name: &str, value: &str) -> Result<Vec<u64>> {
    let prefix = postings_value_prefix(shard, tenant, name, value);
    let mut it = db.raw_iterator_cf_opt(cf(db), bounded(&prefix));
    it.seek(&prefix);
    let mut out = Vec::new();
    while let Some(k) = it.key() {
        if k.len() == prefix.len() + 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&k[prefix.len()..]);
            out.push(u64::from_be_bytes(b));
        }
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// Every series id of a tenant in a shard.
pub fn all_postings(db: &DB, shard: u32, tenant: &str) -> Result<Vec<u64>> {
    postings(db, shard, tenant, ALL_POSTINGS_NAME, "")
}

/// The distinct values of label `name` (sorted). Skips over each value's postings with one
/// seek, so the cost is one seek per value rather than one step per series.
pub fn label_values(db: &DB, shard: u32, tenant: &str, name: &str) -> Result<Vec<String>> {
    let prefix = postings_name_prefix(shard, tenant, name);
    let tp = postings_tenant_prefix(shard, tenant).len();
    let mut it = db.raw_iterator_cf_opt(cf(db), bounded(&prefix));
    it.seek(&prefix);
    let mut out = Vec::new();
    while let Some(k) = it.key() {
        let (n, v, _) = parse_postings_key(k, tp)?;
        debug_assert_eq!(n, name);
        let vp = postings_value_prefix(shard, tenant, name, v);
        out.push(v.to_string());
        match prefix_successor(&vp) {
            Some(next) => it.seek(&next),
            None => break,
        }
    }
    it.status()?;
    Ok(out)
}

/// The tenants with series in a shard, sorted: one seek per tenant, skipping each one's
/// postings (every postings key starts `shard · tlen · tenant`).
pub fn tenants(db: &DB, shard: u32) -> Result<Vec<String>> {
    let prefix = (shard as u16).to_be_bytes();
    let mut it = db.raw_iterator_cf_opt(cf(db), bounded(&prefix));
    it.seek(prefix);
    let mut out = Vec::new();
    while let Some(k) = it.key() {
        let tl = *k.get(2).unwrap_or(&0) as usize;
        let Some(t) = k.get(3..3 + tl) else {
            break;
        };
        let tenant = String::from_utf8_lossy(t).into_owned();
        let tp = postings_tenant_prefix(shard, &tenant);
        out.push(tenant);
        match prefix_successor(&tp) {
            Some(next) => it.seek(&next),
            None => break,
        }
    }
    it.status()?;
    // Key order is by length first; callers want names in order.
    out.sort();
    Ok(out)
}

/// The distinct label names of a tenant's series in a shard (sorted, without the internal one).
pub fn label_names(db: &DB, shard: u32, tenant: &str) -> Result<Vec<String>> {
    let prefix = postings_tenant_prefix(shard, tenant);
    let mut it = db.raw_iterator_cf_opt(cf(db), bounded(&prefix));
    it.seek(&prefix);
    let mut out = Vec::new();
    while let Some(k) = it.key() {
        let (n, _, _) = parse_postings_key(k, prefix.len())?;
        if n != ALL_POSTINGS_NAME {
            out.push(n.to_string());
        }
        let np = postings_name_prefix(shard, tenant, n);
        match prefix_successor(&np) {
            Some(next) => it.seek(&next),
            None => break,
        }
    }
    it.status()?;
    Ok(out)
}

/// Union of the postings of every value of `name` that `keep` accepts.
fn postings_where(
    db: &DB,
    shard: u32,
    tenant: &str,
    m: &Matcher,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<u64>> {
    if let Some(values) = m
        .literal_alternatives()
        .filter(|_| m.op == MatchOp::RegexMatch)
    {
        let lists = values
            .iter()
            .filter(|v| keep(v))
            .map(|v| postings(db, shard, tenant, &m.name, v))
            .collect::<Result<Vec<_>>>()?;
        return Ok(union_many(lists));
    }
    let prefix = postings_name_prefix(shard, tenant, &m.name);
    let tp = postings_tenant_prefix(shard, tenant).len();
    let mut it = db.raw_iterator_cf_opt(cf(db), bounded(&prefix));
    it.seek(&prefix);
    let mut lists = Vec::new();
    let mut current: Vec<u64> = Vec::new();
    let mut current_value: Option<String> = None;
    while let Some(k) = it.key() {
        let (_, v, sid) = parse_postings_key(k, tp)?;
        if current_value.as_deref() != Some(v) {
            if !current.is_empty() {
                lists.push(std::mem::take(&mut current));
            }
            if keep(v) {
                current_value = Some(v.to_string());
            } else {
                // Skip this value's whole postings list.
                let vp = postings_value_prefix(shard, tenant, &m.name, v);
                current_value = None;
                match prefix_successor(&vp) {
                    Some(next) => {
                        it.seek(&next);
                        continue;
                    }
                    None => break,
                }
            }
        }
        current.push(sid);
        it.next();
    }
    it.status()?;
    if !current.is_empty() {
        lists.push(current);
    }
    Ok(union_many(lists))
}

/// The sorted ids of a tenant's series in a shard that satisfy every matcher.
/// Once the candidates are this few, the remaining matchers are checked against the
/// candidates' labels instead of by reading their postings: a metric name's postings hold a
/// key per series of the metric (10,000 for a metric over 10,000 hosts), while the labels of
/// a few candidates are a few point reads the caller makes anyway.
pub const CHECK_ON_LABELS_BELOW: usize = 64;

/// The series ids matching `matchers`, and the matchers left for the caller to check on the
/// series' labels (those not applied here because the candidates were already few).
pub fn select<'m>(
    db: &DB,
    shard: u32,
    tenant: &str,
    matchers: &'m [Matcher],
) -> Result<(Vec<u64>, Vec<&'m Matcher>)> {
    let mut positive: Option<Vec<u64>> = None;
    let mut negative: Vec<Vec<u64>> = Vec::new();
    let mut deferred = Vec::new();
    // Cheapest first: exact matches on labels (usually few series: a host), then on the
    // metric name (every series of the metric), then regexes, then the rest.
    let mut order: Vec<&Matcher> = matchers.iter().collect();
    order.sort_by_key(|m| match m.op {
        MatchOp::Equal if m.name != cairn_model::METRIC_NAME => 0,
        MatchOp::Equal => 1,
        MatchOp::RegexMatch => 2,
        _ => 3,
    });
    for m in order {
        if let Some(p) = &positive {
            if p.is_empty() {
                return Ok((Vec::new(), Vec::new()));
            }
            if p.len() < CHECK_ON_LABELS_BELOW {
                deferred.push(m);
                continue;
            }
        }
        if m.matches_empty() {
            // Series without the label match; subtract those whose value fails the matcher.
            negative.push(postings_where(db, shard, tenant, m, |v| !m.matches(v))?);
        } else {
            let list = if m.op == MatchOp::Equal {
                postings(db, shard, tenant, &m.name, &m.value)?
            } else {
                postings_where(db, shard, tenant, m, |v| m.matches(v))?
            };
            positive = Some(match positive {
                None => list,
                Some(p) => intersect(&p, &list),
            });
        }
    }
    let mut ids = match positive {
        Some(p) => p,
        None => all_postings(db, shard, tenant)?,
    };
    for n in &negative {
        ids = subtract(&ids, n);
    }
    Ok((ids, deferred))
}

/// Intersection of two sorted lists (galloping when one is much shorter).
pub fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        let mut lo = 0usize;
        for &x in small {
            match large[lo..].binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    lo += i + 1;
                }
                Err(i) => lo += i,
            }
            if lo >= large.len() {
                break;
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a` minus `b`, both sorted.
pub fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

/// Union of sorted lists: pairwise linear merges, smallest lists first.
pub fn union_many(mut lists: Vec<Vec<u64>>) -> Vec<u64> {
    lists.sort_by_key(|l| std::cmp::Reverse(l.len()));
    let Some(mut acc) = lists.pop() else {
        return Vec::new();
    };
    while let Some(next) = lists.pop() {
        acc = merge(&acc, &next);
    }
    acc
}

/// Merges two sorted lists, dropping duplicates.
fn merge(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra_on_sorted_lists() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5, 8]), [3, 5]);
        let large: Vec<u64> = (0..1000).collect();
        assert_eq!(intersect(&[5, 500, 2000], &large), [5, 500]);
        assert_eq!(intersect(&large, &[999]), [999]);
        assert_eq!(subtract(&[1, 2, 3, 4], &[2, 4, 9]), [1, 3]);
        assert_eq!(
            union_many(vec![vec![1, 4], vec![2, 4], vec![9]]),
            [1, 2, 4, 9]
        );
        assert!(union_many(vec![]).is_empty());
    }
}
