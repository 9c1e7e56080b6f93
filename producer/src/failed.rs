//! Failed records in the backup, made readable and sendable again.
//!
//! Reads the JSON lines Firehose (or the local delivery stream) writes under
//! `processing-failed/` and `AmazonOpenSearchService-failed/`, from an S3 bucket or a
//! directory laid out like one; lists them per prefix and error code, shows each with its
//! data decoded, and hands `processing-failed/` records (whose `rawData` is exactly what
//! the producer sent) back to the sink for another try.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// Where the backup is.
pub enum Store {
    /// A directory laid out like the bucket.
    Dir(PathBuf),
    /// An S3 bucket.
    S3 {
        /// The client.
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
    },
}

/// One failed record.
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
pub fn parse(key: &str, body: &str) -> Result<Vec<Failed>, String> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let line: Line =
                serde_json::from_str(l).map_err(|e| format!("{key}: line {}: {e}", i + 1))?;
            let data = STANDARD
                .decode(line.raw_data.as_bytes())
                .map_err(|e| format!("{key}: line {}: rawData is not base64: {e}", i + 1))?;
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

impl Store {
    /// Every failed record under `prefix` (e.g. `processing-failed/`), in key order.
    pub async fn read(&self, prefix: &str) -> anyhow::Result<Vec<Failed>> {
        let mut out = Vec::new();
        match self {
            Store::Dir(root) => {
                let mut files = Vec::new();
                walk(&root.join(prefix), &mut files);
                files.sort();
                for f in files {
                    let key = f
                        .strip_prefix(root)
                        .unwrap_or(&f)
                        .to_string_lossy()
                        .replace('\\', "/");
                    let body = std::fs::read_to_string(&f)?;
                    out.extend(parse(&key, &body).map_err(anyhow::Error::msg)?);
                }
            }
            Store::S3 { client, bucket } => {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                let mut keys = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        anyhow::anyhow!(
                            "listing s3://{bucket}/{prefix}: {}",
                            aws_sdk_s3::error::DisplayErrorContext(e)
                        )
                    })?;
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(String::from)),
                    );
                }
                keys.sort();
                for key in keys {
                    let obj = client
                        .get_object()
                        .bucket(bucket)
                        .key(&key)
                        .send()
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!(
                                "reading s3://{bucket}/{key}: {}",
                                aws_sdk_s3::error::DisplayErrorContext(e)
                            )
                        })?;
                    let body = obj.body.collect().await?.into_bytes();
                    out.extend(
                        parse(&key, &String::from_utf8_lossy(&body)).map_err(anyhow::Error::msg)?,
                    );
                }
            }
        }
        Ok(out)
    }
}

/// Counts per (prefix, error code).
pub fn summary(records: &[Failed]) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for r in records {
        let prefix = r.key.split('/').next().unwrap_or_default().to_string();
        *out.entry((prefix, r.error_code.clone())).or_default() += 1;
    }
    out
}

/// A record as one readable JSON line: the data as text when it is UTF-8 (as JSON when
/// it parses), else as base64.
pub fn show(r: &Failed) -> Value {
    let data = match std::str::from_utf8(&r.data) {
        Ok(text) => serde_json::from_str::<Value>(text.trim_end())
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Err(_) => json!({"base64": STANDARD.encode(&r.data), "note": "not UTF-8"}),
    };
    json!({
        "key": r.key,
        "errorCode": r.error_code,
        "errorMessage": r.error_message,
        "arrivalTimestamp": r.arrival_timestamp,
        "esIndexName": r.index,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_lines_are_parsed_and_shown() {
        let body = format!(
            "{}\n{}\n",
            json!({"attemptsMade":1,"arrivalTimestamp":5,"errorCode":"Lambda.ProcessingFailed","errorMessage":"truncated_json","attemptEndingTimestamp":6,"rawData":STANDARD.encode(b"{\"data\":{\"id\":\"1\"\n"),"lambdaArn":"a"}),
            json!({"attemptsMade":1,"arrivalTimestamp":7,"errorCode":"Lambda.ProcessingFailed","errorMessage":"invalid_utf8","attemptEndingTimestamp":8,"rawData":STANDARD.encode(b"caf\xe9\n"),"lambdaArn":"a"}),
        );
        let records = parse("processing-failed/2024/01/01/00/s-1", &body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].data, b"{\"data\":{\"id\":\"1\"\n");
        assert_eq!(show(&records[0])["data"], "{\"data\":{\"id\":\"1\"\n");
        assert_eq!(show(&records[1])["data"]["note"], "not UTF-8");
        let s = summary(&records);
        assert_eq!(
            s[&(
                "processing-failed".to_string(),
                "Lambda.ProcessingFailed".to_string()
            )],
            2
        );
        assert!(parse("k", "{\"rawData\":\"@@\"}")
            .unwrap_err()
            .contains("not base64"));
    }
}
