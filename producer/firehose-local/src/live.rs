//! What the stream has done so far, while it runs (for the dashboard page's counts), and
//! freshness: how long from a post read by the producer to that post being searchable.
//!
//! The producer, when it runs the stream in-process, says when it read each record that
//! Firehose accepted ([`Live::note_read`], keyed by the record id the `PutRecordBatch`
//! answer gave it); the delivery stage measures each document when its commit returns
//! (the embedded store: searchable from then on; OpenSearch: indexed, searchable after
//! its refresh interval; NDJSON: written). A record the producer did not note (a
//! standalone stream, a record recovered from the journal) is measured from its arrival.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::spikes::{Spike, Spikes};

/// Read times kept at most (records in flight); past it the oldest half is forgotten and
/// those records are measured from their arrival.
const MAX_PENDING: usize = 1_000_000;

/// Samples kept at most for the percentiles (a uniform sample beyond it).
const MAX_SAMPLES: usize = 1_000_000;

/// Freshness percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Freshness {
    /// Documents measured.
    pub count: u64,
    /// Of which measured from the producer's read (the rest from their arrival).
    pub from_read: u64,
    /// Median, ms.
    pub p50_ms: u64,
    /// 95th percentile, ms.
    pub p95_ms: u64,
    /// Largest, ms.
    pub max_ms: u64,
}

/// Live counters and freshness.
#[derive(Debug, Default)]
pub struct Live {
    /// Records acknowledged.
    pub received: AtomicU64,
    /// Documents searchable (indexed).
    pub indexed: AtomicU64,
    /// Records dropped by the policy.
    pub dropped: AtomicU64,
    /// Records backed up under `processing-failed/`.
    pub processing_failed: AtomicU64,
    /// Documents backed up under `AmazonOpenSearchService-failed/`.
    pub not_indexed: AtomicU64,
    /// Records neither delivered nor backed up (in the journal).
    pub kept: AtomicU64,
    /// The stream is still taking records.
    pub running: AtomicBool,
    read: Mutex<HashMap<String, i64>>,
    samples: Mutex<Samples>,
    spikes: Mutex<Spikes>,
}

#[derive(Debug, Default)]
struct Samples {
    ms: Vec<u32>,
    seen: u64,
    from_read: u64,
    max: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The producer read the record Firehose accepted as `record_id` at `read_ms`
    /// (wall-clock ms).
    pub fn note_read(&self, record_id: &str, read_ms: i64) {
        let mut read = lock(&self.read);
        if read.len() >= MAX_PENDING {
            let mut by_age: Vec<(i64, String)> = read.drain().map(|(k, v)| (v, k)).collect();
            by_age.sort_unstable();
            read.extend(
                by_age
                    .split_off(by_age.len() / 2)
                    .into_iter()
                    .map(|(v, k)| (k, v)),
            );
        }
        read.insert(record_id.to_string(), read_ms);
    }

    /// These records will never be searchable (dropped, failed): forget their read times.
    pub fn forget<'a>(&self, record_ids: impl IntoIterator<Item = &'a str>) {
        let mut read = lock(&self.read);
        for id in record_ids {
            read.remove(id);
        }
    }

    /// These documents `(record id, arrival ms)` became searchable at `now_ms`.
    pub fn searchable<'a>(&self, docs: impl IntoIterator<Item = (&'a str, i64)>, now_ms: i64) {
        let mut read = lock(&self.read);
        let mut samples = lock(&self.samples);
        for (id, arrival_ms) in docs {
            let since = match read.remove(id) {
                Some(read_ms) => {
                    samples.from_read += 1;
                    read_ms
                }
                None => arrival_ms,
            };
            let ms = (now_ms - since).max(0) as u64;
            samples.max = samples.max.max(ms);
            samples.seen += 1;
            let seen = samples.seen;
            let value = ms.min(u32::MAX as u64) as u32;
            if samples.ms.len() < MAX_SAMPLES {
                samples.ms.push(value);
            } else {
                // Reservoir sampling keeps a uniform sample of every measurement.
                let slot = (seen.wrapping_mul(0x9E37_79B9_7F4A_7C15) % seen) as usize;
                if slot < MAX_SAMPLES {
                    samples.ms[slot] = value;
                }
            }
        }
    }

    /// Counts a searchable post of `tag` written at `created_ms`, for the spike rule.
    pub fn posted(&self, tag: &str, created_ms: i64) {
        lock(&self.spikes).add(tag, created_ms);
    }

    /// The topic spikes so far.
    pub fn spikes(&self) -> Vec<Spike> {
        lock(&self.spikes).spikes()
    }

    /// Freshness so far; `None` before the first document.
    pub fn freshness(&self) -> Option<Freshness> {
        let samples = lock(&self.samples);
        if samples.ms.is_empty() {
            return None;
        }
        let mut sorted = samples.ms.clone();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize] as u64;
        Some(Freshness {
            count: samples.seen,
            from_read: samples.from_read,
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            max_ms: samples.max,
        })
    }

    /// The counts as the dashboard page shows them.
    pub fn status(&self) -> Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut facts = serde_json::Map::new();
        if let Some(f) = self.freshness() {
            facts.insert(
                "freshness p50".into(),
                json!(format!("{:.1} s", f.p50_ms as f64 / 1000.0)),
            );
            facts.insert(
                "freshness p95".into(),
                json!(format!("{:.1} s", f.p95_ms as f64 / 1000.0)),
            );
        }
        let spikes: Vec<String> = self.spikes().iter().map(|s| s.to_string()).collect();
        json!({
            "live": self.running.load(Ordering::Relaxed),
            "spikes": spikes,
            "outcomes": [
                ["received", get(&self.received)],
                ["indexed", get(&self.indexed)],
                ["dropped by the policy", get(&self.dropped)],
                ["processing failed (backed up)", get(&self.processing_failed)],
                ["not indexed (backed up)", get(&self.not_indexed)],
                ["in the journal", get(&self.kept)],
            ],
            "facts": facts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_counts_from_the_read_when_known_and_from_arrival_otherwise() {
        let live = Live::default();
        live.note_read("a", 1_000);
        live.note_read("gone", 1_000);
        live.forget(["gone"]);
        live.searchable([("a", 1_500), ("b", 2_000)], 3_000);
        let f = live.freshness().expect("measured");
        assert_eq!((f.count, f.from_read, f.max_ms), (2, 1, 2_000));
        assert_eq!((f.p50_ms, f.p95_ms), (2_000, 2_000));
        live.searchable((0..98).map(|_| ("c", 2_900)), 3_000);
        let f = live.freshness().expect("measured");
        assert_eq!((f.p50_ms, f.p95_ms), (100, 100));
        assert!(lock(&live.read).is_empty(), "nothing left behind");
    }
}
