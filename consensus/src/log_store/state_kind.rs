//! `StateKind`: what the consensus layer keeps per group in the `raft_state` column family,
//! beside the log (the storage layer stores the records as opaque bytes under this byte).

/// The kind byte of a `raft_state` key. The values are on disk: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StateKind {
    /// The last vote this node cast or saw (must be durable before it is acted on).
    Vote = 1,
    /// The last committed position, saved lazily (a hint for restart, not a promise).
    Committed = 2,
    /// The position of the last purged entry, written together with the purge itself.
    Purged = 3,
    /// The last applied membership, for the state machine's own records.
    Membership = 4,
    /// A state machine's whole state, when it is small enough to keep here (the meta group).
    StateMachine = 5,
    /// Not a record: the prefix of the meta group's key-value entries, one RocksDB key per KV
    /// key (`group · 6 · key bytes`), so an apply rewrites only the keys it changed.
    KvEntries = 6,
}

impl StateKind {
    /// The byte under which records of this kind are stored.
    pub fn byte(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            StateKind::Vote => "vote",
            StateKind::Committed => "committed",
            StateKind::Purged => "purged",
            StateKind::Membership => "membership",
            StateKind::StateMachine => "state machine",
            StateKind::KvEntries => "kv entries",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StateKind;

    #[test]
    fn kind_bytes_are_pinned() {
        let kinds = [
            StateKind::Vote,
            StateKind::Committed,
            StateKind::Purged,
            StateKind::Membership,
            StateKind::StateMachine,
            StateKind::KvEntries,
        ];
        let bytes: Vec<u8> = kinds.iter().map(|k| k.byte()).collect();
        assert_eq!(bytes, [1, 2, 3, 4, 5, 6]);
    }
}
