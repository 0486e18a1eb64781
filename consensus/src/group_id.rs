//! Raft group ids: the one place that maps shards to groups. Group 0 is the meta group; shard
//! `s` is group `s + 1`. Group ids are on disk (every `raft_log` and `raft_state` key) and on
//! the wire (every Raft RPC): never change the mapping.

/// The meta group's id.
pub const META_GROUP: u64 = 0;

/// The Raft group of shard `shard`.
pub fn group_of_shard(shard: u32) -> u64 {
    u64::from(shard) + 1
}

/// The shard whose group is `group`, or `None` for the meta group (and ids beyond any shard).
pub fn shard_of_group(group: u64) -> Option<u32> {
    u32::try_from(group.checked_sub(1)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_groups_map_both_ways() {
        assert_eq!(group_of_shard(0), 1);
        assert_eq!(group_of_shard(u32::MAX), u64::from(u32::MAX) + 1);
        assert_eq!(shard_of_group(META_GROUP), None);
        for shard in [0, 1, 15, u32::MAX] {
            assert_eq!(shard_of_group(group_of_shard(shard)), Some(shard));
        }
        assert_eq!(shard_of_group(u64::from(u32::MAX) + 2), None);
    }
}
