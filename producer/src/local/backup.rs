//! The S3 backup of the local delivery stream, written as Firehose writes it: JSON lines
//! with Firehose's fields, under `processing-failed/` (records the processor failed) and
//! `AmazonOpenSearchService-failed/` (documents OpenSearch refused), each followed by
//! Firehose's `YYYY/MM/DD/HH/` layout. The target is an S3 bucket (any S3-compatible
//! endpoint) or a local directory laid out like the bucket.

use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{TimeZone, Utc};
use serde::Serialize;

/// Prefix of records the processor could not transform.
pub const PROCESSING_FAILED: &str = "processing-failed/";
/// Prefix of documents OpenSearch did not index.
pub const OPENSEARCH_FAILED: &str = "AmazonOpenSearchService-failed/";
/// Prefix of every document, with `BackupMode::AllDocuments`.
pub const ALL_DOCUMENTS: &str = "all-documents/";

/// Which documents are backed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupMode {
    /// Only what failed (Firehose's `FailedDocumentsOnly`).
    FailedDocumentsOnly,
    /// Also every delivered document (Firehose's `AllDocuments`).
    AllDocuments,
}

/// The fields Firehose writes for every failure, whatever the prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// Attempts made.
    pub attempts_made: u32,
    /// When the record arrived, ms since the epoch.
    pub arrival_timestamp: i64,
    /// `Lambda.ProcessingFailed`, `Lambda.MissingRecordId`, `mapper_parsing_exception`,
    /// `OS.ConnectionFailed`, ...
    pub error_code: String,
    /// What happened.
    pub error_message: String,
    /// When the last attempt ended, ms since the epoch.
    pub attempt_ending_timestamp: i64,
    /// The original record (or the refused document), base64.
    pub raw_data: String,
}

/// One failed record, as Firehose writes it to `processing-failed/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingFailedRecord {
    /// What failed.
    #[serde(flatten)]
    pub failure: Failure,
    /// The processor's ARN (or the local name).
    pub lambda_arn: String,
}

/// One failed document, as Firehose writes it to `AmazonOpenSearchService-failed/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentFailedRecord {
    /// What failed.
    #[serde(flatten)]
    pub failure: Failure,
    /// The document id used.
    pub es_document_id: String,
    /// The index it was meant for.
    pub es_index_name: String,
    /// Always empty (OpenSearch has no types).
    pub es_type_name: String,
}

/// Base64 of raw bytes (for `rawData`).
pub fn raw(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Where backups go.
pub enum Target {
    /// A directory laid out like the bucket.
    Dir(PathBuf),
    /// An S3 bucket.
    S3 {
        /// The client (endpoint overridable).
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
    },
}

/// The backup writer.
pub struct Backup {
    target: Target,
    stream: String,
    sequence: std::sync::atomic::AtomicU64,
}

impl Backup {
    /// A backup for the delivery stream `stream`.
    pub fn new(target: Target, stream: &str) -> Self {
        Backup {
            target,
            stream: stream.to_string(),
            sequence: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The object key for a write at `now_ms` under `prefix`:
    /// `prefix/YYYY/MM/DD/HH/stream-1-YYYY-MM-DD-HH-MM-SS-N`.
    pub fn key(&self, prefix: &str, now_ms: i64) -> String {
        let t = Utc
            .timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or_default();
        let n = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!(
            "{prefix}{}/{}-1-{}-{n:08}",
            t.format("%Y/%m/%d/%H"),
            self.stream,
            t.format("%Y-%m-%d-%H-%M-%S")
        )
    }

    /// Writes JSON lines under `prefix`; returns the key.
    pub async fn write<T: Serialize>(&self, prefix: &str, lines: &[T]) -> anyhow::Result<String> {
        let mut body = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut body, l)?;
            body.push(b'\n');
        }
        self.put(prefix, body).await
    }

    /// Writes raw NDJSON bytes under `prefix`; returns the key.
    pub async fn put(&self, prefix: &str, body: Vec<u8>) -> anyhow::Result<String> {
        let key = self.key(prefix, Utc::now().timestamp_millis());
        match &self.target {
            Target::Dir(dir) => {
                let path = dir.join(&key);
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::write(&path, body).await?;
            }
            Target::S3 { client, bucket } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "S3 put_object {bucket}/{key}: {}",
                            aws_sdk_s3::error::DisplayErrorContext(e)
                        )
                    })?;
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_firehose_layout() {
        let b = Backup::new(Target::Dir(PathBuf::from("/tmp")), "social-posts");
        let k = b.key(PROCESSING_FAILED, 1_678_806_566_000);
        assert_eq!(
            k,
            "processing-failed/2023/03/14/15/social-posts-1-2023-03-14-15-09-26-00000000"
        );
        let k = b.key(OPENSEARCH_FAILED, 1_678_806_566_000);
        assert!(k.starts_with("AmazonOpenSearchService-failed/2023/03/14/15/"));
        assert!(k.ends_with("-00000001"));
    }

    #[test]
    fn records_serialise_with_firehose_field_names() {
        let failure = |code: &str, data: &[u8]| Failure {
            attempts_made: 1,
            arrival_timestamp: 1,
            error_code: code.into(),
            error_message: "m".into(),
            attempt_ending_timestamp: 2,
            raw_data: raw(data),
        };
        let r = ProcessingFailedRecord {
            failure: failure("Lambda.ProcessingFailed", b"x"),
            lambda_arn: "arn".into(),
        };
        let v = serde_json::to_value(&r).unwrap();
        for f in [
            "attemptsMade",
            "arrivalTimestamp",
            "errorCode",
            "errorMessage",
            "attemptEndingTimestamp",
            "rawData",
            "lambdaArn",
        ] {
            assert!(v.get(f).is_some(), "{f}");
        }
        let d = serde_json::to_value(DocumentFailedRecord {
            failure: failure("mapper_parsing_exception", b"{}"),
            es_document_id: "id".into(),
            es_index_name: "social-posts".into(),
            es_type_name: String::new(),
        })
        .unwrap();
        assert_eq!(d["esIndexName"], "social-posts");
        assert_eq!(d["rawData"], "e30=");
    }
}
