//! `ParsedScan`: the records under one meta-KV prefix, parsed once. The notification driver
//! reads a tenant's external alerts, silences and log entries on every pass (every second and
//! after every KV change); with thousands of them, parsing every JSON value each time was
//! most of a pass. Values that did not change since the last pass keep their parsed form.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

pub struct ParsedScan<T> {
    /// key → (the raw value it was parsed from, the parsed value; None if it did not parse).
    parsed: HashMap<String, (String, Option<T>)>,
}

impl<T> Default for ParsedScan<T> {
    fn default() -> Self {
        ParsedScan {
            parsed: HashMap::new(),
        }
    }
}

impl<T: DeserializeOwned + Clone> ParsedScan<T> {
    /// The parsed values of `scan` (a `kv_scan` result, in key order); records that do not
    /// parse are skipped (logged once, at debug, naming `what`).
    pub fn refresh(&mut self, scan: Vec<(String, String)>, what: &str) -> Vec<T> {
        let mut next = HashMap::with_capacity(scan.len());
        let mut out = Vec::with_capacity(scan.len());
        for (key, raw) in scan {
            let entry = match self.parsed.remove(&key) {
                Some((old_raw, parsed)) if old_raw == raw => (old_raw, parsed),
                _ => {
                    let parsed = serde_json::from_str(&raw)
                        .map_err(|e| tracing::debug!(key = %key, error = %e, "unreadable {what} skipped"))
                        .ok();
                    (raw, parsed)
                }
            };
            if let Some(v) = &entry.1 {
                out.push(v.clone());
            }
            next.insert(key, entry);
        }
        self.parsed = next;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_follow_the_scan_and_bad_ones_are_skipped() {
        let mut p = ParsedScan::<u32>::default();
        assert_eq!(
            p.refresh(scan(&[("a", "1"), ("b", "x"), ("c", "3")]), "n"),
            vec![1, 3]
        );
        // Changed, unchanged, gone, new.
        assert_eq!(
            p.refresh(scan(&[("a", "7"), ("c", "3"), ("d", "4")]), "n"),
            vec![7, 3, 4]
        );
        assert_eq!(p.parsed.len(), 3);
        assert!(p.refresh(Vec::new(), "n").is_empty());
        assert!(p.parsed.is_empty());
    }
}
