//! Where backup objects go, as Firehose names them:
//! `PREFIX/YYYY/MM/DD/HH/STREAM-VERSION-YYYY-MM-DD-HH-MM-SS-RANDOM`, the random part a
//! UUID, so no two writes (in one run, across runs, across processes) share a name.

use chrono::{TimeZone, Utc};

/// Prefix of records the processor could not transform.
pub const PROCESSING_FAILED: &str = "processing-failed/";
/// Prefix of documents OpenSearch did not index.
pub const OPENSEARCH_FAILED: &str = "AmazonOpenSearchService-failed/";
/// Prefix of every document, with Firehose's `AllDocuments` backup mode.
pub const ALL_DOCUMENTS: &str = "all-documents/";

/// The delivery stream version in object names (Firehose counts configuration changes;
/// the local stream is always version 1).
pub const STREAM_VERSION: u32 = 1;

/// The key of an object written at `now_ms` under `prefix` for `stream`.
pub fn key(prefix: &str, stream: &str, now_ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or_default();
    format!(
        "{prefix}{}/{stream}-{STREAM_VERSION}-{}-{}",
        t.format("%Y/%m/%d/%H"),
        t.format("%Y-%m-%d-%H-%M-%S"),
        uuid::Uuid::new_v4()
    )
}

/// The prefix a key is under (`processing-failed/`, ...), if it is one of Firehose's.
pub fn prefix_of(key: &str) -> Option<&'static str> {
    [PROCESSING_FAILED, OPENSEARCH_FAILED, ALL_DOCUMENTS]
        .into_iter()
        .find(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_firehose_layout_and_never_repeat() {
        let k = key(PROCESSING_FAILED, "social-posts", 1_678_806_566_000);
        let (head, random) =
            k.split_at("processing-failed/2023/03/14/15/social-posts-1-2023-03-14-15-09-26-".len());
        assert_eq!(
            head,
            "processing-failed/2023/03/14/15/social-posts-1-2023-03-14-15-09-26-"
        );
        assert!(uuid::Uuid::parse_str(random).is_ok(), "{random}");
        let keys: std::collections::HashSet<String> = (0..1000)
            .map(|_| key(OPENSEARCH_FAILED, "s", 1_678_806_566_000))
            .collect();
        assert_eq!(keys.len(), 1000);
        assert_eq!(prefix_of(&k), Some(PROCESSING_FAILED));
        assert_eq!(prefix_of("producer-replayed/x"), None);
    }
}
