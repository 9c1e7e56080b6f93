//! Test and demo tooling: builds Firehose events from readable NDJSON, and decodes
//! Firehose responses back into readable documents.
//!
//! An NDJSON source line is either a post payload, sent byte for byte (plus the
//! newline the producer adds), or a directive `{"_fixture": {...}}` for records that
//! cannot be written as a post:
//! - `"base64": "..."`: the record's `data` verbatim (e.g. invalid base64);
//! - `"hex": "ff fe ..."`: raw payload bytes (e.g. non-UTF-8);
//! - `"raw": "..."`: a payload text that is not a post (e.g. truncated JSON);
//! - `"post": {...}, "pad_to_bytes": N`: the post with a `padding` field that brings the
//!   payload to N bytes (records near Firehose's 1,000 KiB limit);
//! - `"record_id": "..."`: an explicit record id (e.g. a duplicated one).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use transform::{
    FirehoseEvent, FirehoseRecord, FirehoseResponse, KinesisRecordMetadata, RecordResult,
};

/// Options for [`build_event`].
#[derive(Debug, Clone)]
pub struct EventOptions {
    /// `approximateArrivalTimestamp` of the first record (ms); each next one is 250 ms later.
    pub first_arrival_ms: i64,
    /// The delivery stream ARN.
    pub delivery_stream_arn: String,
    /// When set, the event is from a Kinesis-stream source and records carry metadata.
    pub kinesis_stream_arn: Option<String>,
    /// The invocation id.
    pub invocation_id: String,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            first_arrival_ms: 1_678_806_566_000,
            delivery_stream_arn:
                "arn:aws:firehose:us-east-1:123456789012:deliverystream/social-sentiment".into(),
            kinesis_stream_arn: None,
            invocation_id: "00000000-0000-4000-8000-000000000000".into(),
        }
    }
}

/// A source line that cannot become a record.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SourceError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Directive {
    #[serde(default)]
    base64: Option<String>,
    #[serde(default)]
    hex: Option<String>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    post: Option<Value>,
    #[serde(default)]
    pad_to_bytes: Option<usize>,
    #[serde(default)]
    record_id: Option<String>,
}

/// Builds an event with one record per non-empty NDJSON line.
pub fn build_event(ndjson: &str, options: &EventOptions) -> Result<FirehoseEvent, SourceError> {
    let mut records = Vec::new();
    for (n, line) in ndjson.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let index = records.len() as i64;
        let err = |message: String| SourceError {
            line: n + 1,
            message,
        };
        let (data, record_id) = record_data(line).map_err(err)?;
        let arrival = options.first_arrival_ms + index * 250;
        let record_id = record_id.unwrap_or_else(|| {
            format!("49546986683135544286507457936321625675700192471156{index:06}")
        });
        let kinesis_record_metadata =
            options
                .kinesis_stream_arn
                .as_ref()
                .map(|_| KinesisRecordMetadata {
                    shard_id: "shardId-000000000000".into(),
                    partition_key: format!("pk-{index}"),
                    approximate_arrival_timestamp: arrival - 40,
                    sequence_number: format!(
                        "49590338271490256608559692538361571095921575989136{index:06}"
                    ),
                    subsequence_number: String::new(),
                });
        records.push(FirehoseRecord {
            record_id,
            approximate_arrival_timestamp: arrival,
            data,
            kinesis_record_metadata,
        });
    }
    Ok(FirehoseEvent {
        invocation_id: options.invocation_id.clone(),
        delivery_stream_arn: options.delivery_stream_arn.clone(),
        source_kinesis_stream_arn: options.kinesis_stream_arn.clone(),
        region: "us-east-1".into(),
        records,
    })
}

/// The base64 `data` (and explicit record id) of one source line.
fn record_data(line: &str) -> Result<(String, Option<String>), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let Some(spec) = value.get("_fixture") else {
        let mut payload = line.trim_end().as_bytes().to_vec();
        payload.push(b'\n');
        return Ok((STANDARD.encode(payload), None));
    };
    let d: Directive =
        serde_json::from_value(spec.clone()).map_err(|e| format!("bad _fixture: {e}"))?;
    let data = match (d.base64, d.hex, d.raw, d.post) {
        (Some(b64), None, None, None) => b64,
        (None, Some(hex), None, None) => STANDARD.encode(parse_hex(&hex)?),
        (None, None, Some(raw), None) => STANDARD.encode(raw),
        (None, None, None, Some(post)) => STANDARD.encode(padded(post, d.pad_to_bytes)?),
        _ => return Err("_fixture needs exactly one of base64, hex, raw, post".into()),
    };
    Ok((data, d.record_id))
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("hex has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("not hex: {}", String::from_utf8_lossy(pair)))
        })
        .collect()
}

fn padded(mut post: Value, pad_to: Option<usize>) -> Result<Vec<u8>, String> {
    let plain = serde_json::to_vec(&post).map_err(|e| e.to_string())?;
    let Some(target) = pad_to else {
        let mut out = plain;
        out.push(b'\n');
        return Ok(out);
    };
    // `,"padding":""` adds 13 bytes; the newline one more.
    let fill = target
        .checked_sub(plain.len() + 14)
        .ok_or_else(|| format!("post is already {} bytes, over pad_to_bytes", plain.len()))?;
    let obj = post.as_object_mut().ok_or("post must be a JSON object")?;
    obj.insert("padding".into(), Value::String("x".repeat(fill)));
    let mut out = serde_json::to_vec(&post).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

/// One response record, made readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedRecord {
    /// The record id.
    #[serde(rename = "recordId")]
    pub record_id: String,
    /// The result.
    pub result: RecordResult,
    /// The document, for `Ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
    /// The returned bytes as text, for `ProcessingFailed` records whose bytes are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_text: Option<String>,
    /// The returned data as it came, for `ProcessingFailed` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_base64: Option<String>,
}

/// Decodes a response: `Ok` data into its JSON document, `ProcessingFailed` data into
/// the original bytes (as text when they are UTF-8).
pub fn decode_response(response: &FirehoseResponse) -> Vec<DecodedRecord> {
    response
        .records
        .iter()
        .map(|r| {
            let bytes = STANDARD.decode(&r.data).ok();
            let mut out = DecodedRecord {
                record_id: r.record_id.clone(),
                result: r.result,
                document: None,
                original_text: None,
                original_base64: None,
            };
            match r.result {
                RecordResult::Ok => {
                    out.document = bytes.and_then(|b| serde_json::from_slice(&b).ok());
                }
                RecordResult::ProcessingFailed => {
                    out.original_text = bytes.and_then(|b| String::from_utf8(b).ok());
                    out.original_base64 = Some(r.data.to_string());
                }
                RecordResult::Dropped => {}
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_records_byte_for_byte() {
        let src = "{\"data\":{\"id\":\"1\",\"text\":\"caf\\u00e9\"}}\n\n{\"_fixture\":{\"hex\":\"ff 00\",\"record_id\":\"x\"}}\n{\"_fixture\":{\"base64\":\"@@\"}}\n";
        let ev = build_event(src, &EventOptions::default()).unwrap();
        assert_eq!(ev.records.len(), 3);
        assert_eq!(
            STANDARD.decode(&ev.records[0].data).unwrap(),
            b"{\"data\":{\"id\":\"1\",\"text\":\"caf\\u00e9\"}}\n"
        );
        assert_eq!(ev.records[1].record_id, "x");
        assert_eq!(STANDARD.decode(&ev.records[1].data).unwrap(), [0xff, 0]);
        assert_eq!(ev.records[2].data, "@@");
        assert_eq!(
            ev.records[2].approximate_arrival_timestamp
                - ev.records[0].approximate_arrival_timestamp,
            500
        );
        assert_eq!(ev.records[0].record_id.len(), 56);
    }

    #[test]
    fn padding_reaches_the_requested_size() {
        let src = r#"{"_fixture":{"post":{"data":{"id":"1","text":"big"}},"pad_to_bytes":5000}}"#;
        let ev = build_event(src, &EventOptions::default()).unwrap();
        assert_eq!(STANDARD.decode(&ev.records[0].data).unwrap().len(), 5000);
    }

    #[test]
    fn bad_directives_name_the_line() {
        let err = build_event("{}\n{\"_fixture\":{}}", &EventOptions::default()).unwrap_err();
        assert_eq!(err.line, 2);
        let err = build_event("nope", &EventOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("line 1: not a JSON object"));
    }

    #[test]
    fn kinesis_events_carry_metadata() {
        let opts = EventOptions {
            kinesis_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/posts".into()),
            ..EventOptions::default()
        };
        let ev = build_event("{}", &opts).unwrap();
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            json["sourceKinesisStreamArn"],
            "arn:aws:kinesis:us-east-1:123456789012:stream/posts"
        );
        assert_eq!(
            json["records"][0]["kinesisRecordMetadata"]["shardId"],
            "shardId-000000000000"
        );
    }
}
