//! What flows from a source to the sink: [`Record`]s (one post payload each,
//! newline-terminated, in the transform's post shape), and the live [`Stats`] the sources,
//! the sink and the progress line share (atomic counters; nothing waits on a lock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One record on its way to Firehose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The payload, newline-terminated.
    pub data: Vec<u8>,
    /// Source position to confirm once settled (Jetstream's `time_us`).
    pub cursor: Option<u64>,
    /// The post's rule tags, for the summary.
    pub tags: Vec<String>,
    /// The backup object it came from (`failed replay`), to mark once settled.
    pub origin: Option<Arc<str>>,
    /// When the source read it (wall clock, ms): freshness is measured from here.
    pub read_ms: i64,
}

impl Record {
    /// A record for this payload; adds the trailing newline when missing.
    pub fn new(mut data: Vec<u8>) -> Self {
        if data.last() != Some(&b'\n') {
            data.push(b'\n');
        }
        Record {
            data,
            cursor: None,
            tags: Vec::new(),
            origin: None,
            read_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// Live counters shared by the sources, the sink and the progress line.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records the sources produced.
    pub received: AtomicU64,
    /// Records Firehose accepted.
    pub delivered: AtomicU64,
    /// Entries sent again after a failure.
    pub retried: AtomicU64,
    /// Records written to the rejects file (Firehose will never take them).
    pub rejected: AtomicU64,
    /// Records written to the spill file.
    pub spilled: AtomicU64,
    /// Records neither delivered nor written anywhere (reported, and the exit is non-zero).
    pub lost: AtomicU64,
    /// `PutRecordBatch` calls made.
    pub calls: AtomicU64,
    /// Calls that failed as a whole.
    pub failed_calls: AtomicU64,
    /// Records in the batch being sent.
    pub in_flight: AtomicU64,
    /// Source-specific: posts seen but not forwarded (no rule matched, not a post).
    pub skipped: AtomicU64,
    /// Source-specific: reconnects.
    pub reconnects: AtomicU64,
    /// Source-specific: posts read back after a gap (Mastodon's REST timeline), included
    /// in `received`.
    pub backfilled: AtomicU64,
    /// Source-specific: second copies of a post, not forwarded (Mastodon: a post on two
    /// hashtag streams).
    pub duplicates: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes `n` from a counter.
    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The rule tags of a payload, for the summary (empty when it has none or is not JSON).
pub fn tags(payload: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        matching_rules: Vec<Tag>,
    }
    #[derive(serde::Deserialize)]
    struct Tag {
        #[serde(default)]
        tag: Option<String>,
    }
    serde_json::from_slice::<Peek>(payload)
        .map(|p| p.matching_rules.into_iter().filter_map(|t| t.tag).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_newline_terminated_once() {
        assert_eq!(Record::new(b"{}".to_vec()).data, b"{}\n");
        assert_eq!(Record::new(b"{}\n".to_vec()).data, b"{}\n");
    }

    #[test]
    fn tags_come_from_matching_rules() {
        assert_eq!(
            tags(br#"{"data":{},"matching_rules":[{"tag":"cats"},{"id":"2"}]}"#),
            ["cats"]
        );
        assert!(tags(b"nope").is_empty());
    }
}
