//! The JSON lines of a backup object, as Firehose writes them: the fields of every
//! failure ([`Failure`]), plus `lambdaArn` under `processing-failed/`
//! ([`ProcessingFailedRecord`]) or the document's id and index under
//! `AmazonOpenSearchService-failed/` ([`DocumentFailedRecord`]); and one line read back
//! ([`Failed`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::BackupError;

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

/// One failed record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// The object it was read from.
    pub key: String,
    /// Firehose's `errorCode`.
    pub error_code: String,
    /// Firehose's `errorMessage`.
    pub error_message: String,
    /// When the record arrived, ms since the epoch.
    pub arrival_timestamp: i64,
    /// The decoded `rawData`: the original record, or the refused document.
    pub data: Vec<u8>,
    /// `esIndexName`, for documents OpenSearch refused.
    pub index: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_message: String,
    #[serde(default)]
    arrival_timestamp: i64,
    raw_data: String,
    #[serde(default)]
    es_index_name: Option<String>,
}

/// Parses one backup object's JSON lines.
pub fn parse(key: &str, body: &str) -> Result<Vec<Failed>, BackupError> {
    let bad = |line: usize, reason: String| BackupError::Parse {
        key: key.to_string(),
        line,
        reason,
    };
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let line: Line = serde_json::from_str(l).map_err(|e| bad(i + 1, e.to_string()))?;
            let data = STANDARD
                .decode(line.raw_data.as_bytes())
                .map_err(|e| bad(i + 1, format!("rawData is not base64: {e}")))?;
            Ok(Failed {
                key: key.to_string(),
                error_code: line.error_code,
                error_message: line.error_message,
                arrival_timestamp: line.arrival_timestamp,
                data,
                index: line.es_index_name,
            })
        })
        .collect()
}

/// Counts per (prefix, error code).
pub fn summary(records: &[Failed]) -> std::collections::BTreeMap<(String, String), u64> {
    let mut out = std::collections::BTreeMap::new();
    for r in records {
        let prefix = r.key.split('/').next().unwrap_or_default().to_string();
        *out.entry((prefix, r.error_code.clone())).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn backup_lines_are_parsed() {
        let body = format!(
            "{}\n{}\n",
            json!({"attemptsMade":1,"arrivalTimestamp":5,"errorCode":"Lambda.ProcessingFailed","errorMessage":"truncated_json","attemptEndingTimestamp":6,"rawData":STANDARD.encode(b"{\"data\":{\"id\":\"1\"\n"),"lambdaArn":"a"}),
            json!({"attemptsMade":1,"arrivalTimestamp":7,"errorCode":"Lambda.ProcessingFailed","errorMessage":"invalid_utf8","attemptEndingTimestamp":8,"rawData":STANDARD.encode(b"caf\xe9\n"),"lambdaArn":"a"}),
        );
        let records = parse("processing-failed/2024/01/01/00/s-1", &body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].data, b"{\"data\":{\"id\":\"1\"\n");
        assert_eq!(records[1].data, b"caf\xe9\n");
        assert_eq!(records[1].arrival_timestamp, 7);
        let counts = summary(&records);
        assert_eq!(
            counts[&(
                "processing-failed".to_string(),
                "Lambda.ProcessingFailed".to_string()
            )],
            2
        );
        let e = parse("k", "{\"rawData\":\"@@\"}").unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");
    }
}
