//! `Lru`: the cache's entries in least-recently-used order, bounded by approximate bytes.

use std::collections::{BTreeMap, HashMap};

use super::plan::Span;
use super::{Key, Notes};
use crate::value::{QueryValue, Series};

/// A stored answer.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Range { span: Span, series: Vec<Series> },
    Instant(QueryValue),
}

pub(super) struct Entry {
    generation: u64,
    pub(super) value: Value,
    pub(super) notes: Notes,
    bytes: usize,
    tick: u64,
}

/// The entries in least-recently-used order, bounded by approximate bytes.
#[derive(Default)]
pub(super) struct Lru {
    entries: HashMap<Key, Entry>,
    order: BTreeMap<u64, Key>,
    tick: u64,
    pub(super) bytes: usize,
}

impl Lru {
    fn touch(&mut self, key: &Key) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.get_mut(key) {
            self.order.remove(&e.tick);
            e.tick = tick;
            self.order.insert(tick, key.clone());
        }
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        self.order.remove(&e.tick);
        self.bytes -= e.bytes;
        Some(e)
    }

    pub(super) fn insert(
        &mut self,
        key: Key,
        generation: u64,
        (value, notes): (Value, Notes),
        bytes: usize,
        max: usize,
    ) {
        self.remove(&key);
        self.tick += 1;
        let tick = self.tick;
        self.order.insert(tick, key.clone());
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                generation,
                value,
                notes,
                bytes,
                tick,
            },
        );
        while self.bytes > max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
    }

    /// The entry under `key` if it was computed at `generation`; an older one is dropped.
    pub(super) fn current(&mut self, key: &Key, generation: u64) -> Option<(&Value, &Notes)> {
        match self.entries.get(key) {
            None => return None,
            Some(e) if e.generation != generation => {
                self.remove(key);
                return None;
            }
            Some(_) => {}
        }
        self.touch(key);
        self.entries.get(key).map(|e| (&e.value, &e.notes))
    }
}
