//! The Kinesis Data Firehose data-transformation contract: the event Firehose sends to
//! the Lambda and the response it expects back.
//!
//! We own these wire types instead of using `aws_lambda_events`, because that crate
//! decodes every record's base64 while deserialising the whole event, so one bad record
//! would fail the batch. Here `data` stays a string and is decoded per record.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Lambda's synchronous response payload limit; Firehose rejects a larger response.
pub const RESPONSE_LIMIT_BYTES: usize = 6_000_000;

/// The transformation event Firehose invokes the Lambda with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseEvent {
    /// Unique id of this invocation.
    #[serde(default)]
    pub invocation_id: String,
    /// ARN of the delivery stream that invoked us.
    #[serde(default)]
    pub delivery_stream_arn: String,
    /// ARN of the source Kinesis data stream, when the delivery stream reads one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    /// AWS region of the delivery stream.
    #[serde(default)]
    pub region: String,
    /// The buffered records, in delivery order.
    #[serde(default)]
    pub records: Vec<FirehoseRecord>,
}

/// One buffered record as Firehose sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// Id that the response must echo exactly once, in the same position.
    pub record_id: String,
    /// When the record reached Firehose, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub approximate_arrival_timestamp: i64,
    /// The record's bytes, base64-encoded; decoded per record, never for the whole event.
    #[serde(default)]
    pub data: String,
    /// Present when the delivery stream's source is a Kinesis data stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata>,
}

/// Kinesis data stream metadata of a record (Kinesis-stream sources only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata {
    /// Shard the record was read from.
    #[serde(default)]
    pub shard_id: String,
    /// Partition key the producer used.
    #[serde(default)]
    pub partition_key: String,
    /// When Kinesis accepted the record, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub approximate_arrival_timestamp: i64,
    /// Kinesis sequence number.
    #[serde(default)]
    pub sequence_number: String,
    /// Sub-sequence number of a de-aggregated KPL record.
    #[serde(default)]
    pub subsequence_number: String,
}

/// What Firehose should do with one record; serialises to exactly the three values it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordResult {
    /// Transformed: deliver `data`.
    Ok,
    /// Filtered on purpose: deliver nothing, count it as successfully processed.
    Dropped,
    /// Could not be transformed: Firehose backs the record up under `processing-failed/`.
    ProcessingFailed,
}

impl RecordResult {
    /// The wire value, as Firehose spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Ok => "Ok",
            RecordResult::Dropped => "Dropped",
            RecordResult::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// The response the Lambda returns to Firehose: one record per input record, same order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirehoseResponse {
    /// One entry per input record, in input order.
    pub records: Vec<ResponseRecord>,
}

/// The outcome of one record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    /// The input record's id, echoed.
    pub record_id: String,
    /// What Firehose should do with it.
    pub result: RecordResult,
    /// Base64 document for `Ok`, the original bytes for `ProcessingFailed`, empty for `Dropped`.
    pub data: Data,
}

/// A response record's `data`: a string of its own, or a piece of one string that the
/// `Ok` records of a handler batch share (their documents' base64 is written into one
/// allocation per batch instead of one per record). Reads as a `str` either way.
#[derive(Clone)]
pub struct Data(Repr);

#[derive(Clone)]
enum Repr {
    Own(String),
    Shared {
        text: Arc<String>,
        start: usize,
        end: usize,
    },
}

impl Data {
    /// `text[range]`, sharing `text`. Panics if `range` is not a `str` range of it.
    pub fn shared(text: Arc<String>, range: Range<usize>) -> Data {
        assert!(text.get(range.clone()).is_some(), "a str range of the text");
        Data(Repr::Shared {
            text,
            start: range.start,
            end: range.end,
        })
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Own(s) => s,
            Repr::Shared { text, start, end } => &text[*start..*end],
        }
    }
}

impl Default for Data {
    fn default() -> Self {
        Data(Repr::Own(String::new()))
    }
}

impl Deref for Data {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Data {
    fn as_ref(&self) -> &str {
        self
    }
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<String> for Data {
    fn from(s: String) -> Self {
        Data(Repr::Own(s))
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Self {
        Data(Repr::Own(s.to_owned()))
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Data {}

impl PartialEq<str> for Data {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Data {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Data {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Data> for String {
    fn eq(&self, other: &Data) -> bool {
        self == other.as_str()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Data::from)
    }
}

/// Serialised as `{"recordId":..,"result":..,"data":..}`. `Ok` data is base64 we made, so
/// nothing in it needs escaping: once a vector check confirms that (a hand-built record
/// may hold anything), it is written as a raw JSON string (one copy, and `RawValue`'s own
/// validating read) instead of through `serde_json`'s byte-by-byte escaping. Serialising
/// the 3 MB bench event's response takes 5,900 instead of 10,300 instructions per record.
impl Serialize for ResponseRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};
        let mut record = serializer.serialize_struct("ResponseRecord", 3)?;
        record.serialize_field("recordId", &self.record_id)?;
        record.serialize_field("result", &self.result)?;
        let plain = self.result == RecordResult::Ok
            && !crate::json::escape::needs_escape(self.data.as_bytes());
        if plain {
            let mut quoted = String::with_capacity(self.data.len() + 2);
            quoted.push('"');
            quoted.push_str(self.data.as_str());
            quoted.push('"');
            let raw: &serde_json::value::RawValue =
                serde_json::from_str(&quoted).map_err(S::Error::custom)?;
            record.serialize_field("data", raw)?;
        } else {
            record.serialize_field("data", &self.data)?;
        }
        record.end()
    }
}

impl ResponseRecord {
    /// Bytes this record adds to the serialised response (`{...},` included).
    pub fn wire_len(&self) -> usize {
        wire_len(&self.record_id, self.result, &self.data)
    }
}

/// Serialised size of one response record with these parts, separator included.
///
/// `Ok` data is base64 we made (nothing to escape); other data is as it came in the
/// event, and is measured with its JSON escapes, like record ids that need them.
pub fn wire_len(record_id: &str, result: RecordResult, data: &str) -> usize {
    json_str_len(record_id) + wire_len_but_id(result, data)
}

/// [`wire_len`] less the record id's own length (the handler measures the ids apart).
pub(crate) fn wire_len_but_id(result: RecordResult, data: &str) -> usize {
    // {"recordId":"","result":"","data":""},
    const FIXED: usize = 38;
    let data_len = match result {
        RecordResult::Ok => data.len(),
        _ => json_str_len(data),
    };
    FIXED + result.as_str().len() + data_len
}

/// Length of `s` as the inside of a JSON string.
pub(crate) fn json_str_len(s: &str) -> usize {
    if !crate::json::escape::needs_escape(s.as_bytes()) {
        s.len()
    } else {
        serde_json::to_string(s).map_or(s.len() * 6, |json| json.len() - 2)
    }
}

/// Serialised size of a response holding these records (`{"records":[...]}`).
pub fn response_len(records: &[ResponseRecord]) -> usize {
    let body: usize = records.iter().map(ResponseRecord::wire_len).sum();
    response_len_of(body, records.len())
}

/// Serialised size of a response whose records' [`wire_len`]s add up to `body`.
pub(crate) fn response_len_of(body: usize, records: usize) -> usize {
    // {"records":[ ... ]} minus the trailing comma of the last record
    14 + body - usize::from(records > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, result: RecordResult, data: &str) -> ResponseRecord {
        ResponseRecord {
            record_id: id.into(),
            result,
            data: data.into(),
        }
    }

    #[test]
    fn result_serialises_to_firehose_values() {
        let got = serde_json::to_string(&[
            RecordResult::Ok,
            RecordResult::Dropped,
            RecordResult::ProcessingFailed,
        ])
        .unwrap();
        assert_eq!(got, r#"["Ok","Dropped","ProcessingFailed"]"#);
    }

    #[test]
    fn response_len_matches_serialised_length() {
        for records in [
            vec![],
            vec![rec("a", RecordResult::Ok, "eyJ9")],
            vec![
                rec("4954-1", RecordResult::Dropped, ""),
                rec("x\"y\\z\u{1}é", RecordResult::ProcessingFailed, "AAAA"),
                rec("b", RecordResult::ProcessingFailed, "not \"base64\"\u{0}\n"),
                rec("", RecordResult::Ok, "QUJD"),
            ],
        ] {
            let resp = FirehoseResponse { records };
            let json = serde_json::to_string(&resp).unwrap();
            assert_eq!(response_len(&resp.records), json.len(), "{json}");
        }
    }

    #[test]
    fn records_serialise_as_serde_json_writes_their_fields() {
        for r in [
            rec(
                "49546986683135544286507457936321625675700192471156785154",
                RecordResult::Ok,
                "eyJwb3N0X2lkIjoiMSJ9Cg==",
            ),
            // Not base64: escaped as usual, never written raw.
            rec("a", RecordResult::Ok, "a \"quote\", a \\n and \u{1}"),
            rec("c", RecordResult::Ok, "a backslash-n \\n and nothing else"),
            rec("x\"y", RecordResult::Dropped, ""),
            rec("b", RecordResult::ProcessingFailed, "not \"base64\"\u{0}\n"),
        ] {
            let json = serde_json::to_string(&r).unwrap();
            let want = format!(
                r#"{{"recordId":{},"result":{},"data":{}}}"#,
                serde_json::to_string(&r.record_id).unwrap(),
                serde_json::to_string(&r.result).unwrap(),
                serde_json::to_string(&r.data).unwrap(),
            );
            assert_eq!(json, want);
            assert_eq!(serde_json::from_str::<ResponseRecord>(&json).unwrap(), r);
        }
    }

    #[test]
    fn shared_data_reads_serialises_and_compares_as_its_piece() {
        let text = Arc::new("eyJ9QUJDeA==".to_string());
        let a = Data::shared(text.clone(), 0..4);
        let b = Data::shared(text, 4..12);
        assert_eq!((a.as_str(), &*b), ("eyJ9", "QUJDeA=="));
        assert_eq!(a, Data::from("eyJ9"));
        assert_eq!(b, "QUJDeA==".to_string());
        assert_eq!(serde_json::to_string(&b).unwrap(), r#""QUJDeA==""#);
        assert_eq!(format!("{a:?} {b}"), r#""eyJ9" QUJDeA=="#);
        let r = rec("x", RecordResult::Ok, "");
        let shared = ResponseRecord { data: b, ..r };
        let json = serde_json::to_string(&shared).unwrap();
        assert_eq!(json, r#"{"recordId":"x","result":"Ok","data":"QUJDeA=="}"#);
        assert_eq!(
            serde_json::from_str::<ResponseRecord>(&json).unwrap(),
            shared
        );
    }

    #[test]
    #[should_panic(expected = "a str range of the text")]
    fn shared_data_refuses_a_range_outside_the_text() {
        let _ = Data::shared(Arc::new("abc".to_string()), 2..5);
    }

    #[test]
    fn event_without_optional_parts_deserialises() {
        let ev: FirehoseEvent =
            serde_json::from_str(r#"{"records":[{"recordId":"1","data":"e30="}]}"#).unwrap();
        assert_eq!(ev.records[0].approximate_arrival_timestamp, 0);
        assert!(ev.records[0].kinesis_record_metadata.is_none());
    }
}
