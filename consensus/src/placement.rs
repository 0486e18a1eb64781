//! Shuffle sharding: which `K` of the cluster's `S` shards a tenant owns.
//!
//! Rendezvous (highest-random-weight) hashing: every shard gets a score
//! `hash(tenant, shard)`, the tenant owns the `K` best. Changing `K` for one tenant moves only
//! that tenant's series; two tenants rarely share all their shards, so one tenant's overload
//! or outage touches few others (docs/design.md, "Sharding and replication").

use xxhash_rust::xxh3::xxh3_64;

/// The shards tenant `tenant` owns, best score first. `k` is clamped to `1..=shards`.
pub fn tenant_shards(tenant: &str, shards: u32, k: u32) -> Vec<u32> {
    let k = k.clamp(1, shards.max(1)) as usize;
    let mut buf = Vec::with_capacity(tenant.len() + 5);
    let mut scored: Vec<(u64, u32)> = (0..shards)
        .map(|s| {
            buf.clear();
            buf.extend_from_slice(tenant.as_bytes());
            buf.push(0);
            buf.extend_from_slice(&s.to_be_bytes());
            (xxh3_64(&buf), s)
        })
        .collect();
    // Highest score first; ties (practically impossible) broken by shard id.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_k_distinct_shards_stably() {
        let a = tenant_shards("acme", 16, 4);
        assert_eq!(a.len(), 4);
        let mut d = a.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 4);
        assert!(a.iter().all(|&s| s < 16));
        assert_eq!(a, tenant_shards("acme", 16, 4));
    }

    #[test]
    fn growing_k_keeps_the_existing_shards() {
        let four = tenant_shards("acme", 16, 4);
        let six = tenant_shards("acme", 16, 6);
        assert_eq!(&six[..4], &four[..]);
    }

    #[test]
    fn k_is_clamped_and_tenants_spread() {
        assert_eq!(tenant_shards("x", 3, 10).len(), 3);
        assert_eq!(tenant_shards("x", 16, 0).len(), 1);
        let mut used = std::collections::HashSet::new();
        for t in 0..100 {
            used.extend(tenant_shards(&format!("tenant-{t}"), 16, 4));
        }
        assert_eq!(used.len(), 16, "100 tenants use every shard");
    }
}
