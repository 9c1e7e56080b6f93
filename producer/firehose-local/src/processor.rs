//! The local delivery stream's record processor: the transform in-process, or any
//! Lambda through the Invoke API at an endpoint (`cargo lambda watch`, a deployed
//! function). Its response is checked as Firehose checks it: a response that is not
//! JSON, has a bad `result`, misses or duplicates a record id, or is over 6,000,000 bytes
//! fails the whole batch with Firehose's error code. Invoking is one attempt; the stream
//! retries failed invocations through the retry helper.

use std::collections::HashSet;

use aws_sdk_lambda::primitives::Blob;
use chrono::Utc;
use serde::Deserialize;
use transform::{Backend, Report, Transformer};
use transform::{FirehoseEvent, RecordResult, RESPONSE_LIMIT_BYTES};

/// Client timeouts for the Invoke API: a function answers only when it is done.
pub const LAMBDA_TIMEOUTS: retry::Timeouts = retry::Timeouts {
    connect: std::time::Duration::from_secs(5),
    read: std::time::Duration::from_secs(150),
    attempt: std::time::Duration::from_secs(150),
};

/// A Lambda client for the Invoke API at `endpoint` (`cargo lambda watch`, a real region),
/// with [`LAMBDA_TIMEOUTS`].
pub async fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&retry::aws::config(Some(endpoint), &LAMBDA_TIMEOUTS).await)
}

/// How records are processed.
pub enum Processor {
    /// The transform, in this process.
    InProcess(Box<Transformer<Backend>>),
    /// A Lambda function through the Invoke API.
    Lambda {
        /// The client (endpoint overridable).
        client: aws_sdk_lambda::Client,
        /// Function name.
        function: String,
    },
}

/// The outcome of one record, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The result.
    pub result: RecordResult,
    /// Decoded data (document for `Ok`).
    pub data: Vec<u8>,
}

/// Why a whole batch failed, with Firehose's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// `Lambda.FunctionError`, `Lambda.JsonProcessingException`, `Lambda.MissingRecordId`,
    /// `Lambda.DuplicatedRecordId`, `Lambda.ResponseSizeExceeded`, `Lambda.InvokeFailed`.
    pub code: &'static str,
    /// Details.
    pub message: String,
}

impl BatchError {
    /// Whether the invocation itself failed (retried, as Firehose retries it), rather
    /// than its response failing the checks.
    pub fn retryable(&self) -> bool {
        matches!(self.code, "Lambda.InvokeFailed" | "Lambda.FunctionError")
    }
}

#[derive(Deserialize)]
struct WireResponse {
    records: Vec<WireRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: String,
}

/// Checks a processor's response bytes against the event, as Firehose does.
pub fn check(event: &FirehoseEvent, bytes: &[u8]) -> Result<Vec<Checked>, BatchError> {
    if bytes.len() > RESPONSE_LIMIT_BYTES {
        return Err(BatchError {
            code: "Lambda.ResponseSizeExceeded",
            message: format!(
                "response of {} bytes is over {RESPONSE_LIMIT_BYTES}",
                bytes.len()
            ),
        });
    }
    let resp: WireResponse = serde_json::from_slice(bytes).map_err(|e| BatchError {
        code: "Lambda.JsonProcessingException",
        message: format!("response is not a Firehose response: {e}"),
    })?;
    let mut seen = HashSet::new();
    let mut by_id = std::collections::HashMap::new();
    for r in &resp.records {
        if !seen.insert(r.record_id.as_str()) {
            return Err(BatchError {
                code: "Lambda.DuplicatedRecordId",
                message: format!("record id {} returned more than once", r.record_id),
            });
        }
        by_id.insert(r.record_id.as_str(), r);
    }
    let mut out = Vec::with_capacity(event.records.len());
    for input in &event.records {
        let r = by_id
            .get(input.record_id.as_str())
            .ok_or_else(|| BatchError {
                code: "Lambda.MissingRecordId",
                message: format!("record id {} missing from the response", input.record_id),
            })?;
        let result = match r.result.as_str() {
            "Ok" => RecordResult::Ok,
            "Dropped" => RecordResult::Dropped,
            "ProcessingFailed" => RecordResult::ProcessingFailed,
            other => {
                return Err(BatchError {
                    code: "Lambda.JsonProcessingException",
                    message: format!(
                        "record {}: result {other:?} is not Ok, Dropped or ProcessingFailed",
                        r.record_id
                    ),
                })
            }
        };
        let data = if result == RecordResult::Ok {
            base64_simd::STANDARD
                .decode_to_vec(r.data.as_bytes())
                .map_err(|_| BatchError {
                    code: "Lambda.JsonProcessingException",
                    message: format!("record {}: data is not base64", r.record_id),
                })?
        } else {
            Vec::new()
        };
        out.push(Checked { result, data });
    }
    if resp.records.len() != event.records.len() {
        return Err(BatchError {
            code: "Lambda.MissingRecordId",
            message: format!(
                "{} records returned for {} sent",
                resp.records.len(),
                event.records.len()
            ),
        });
    }
    Ok(out)
}

impl Processor {
    /// A name for `lambdaArn` in backups.
    pub fn arn(&self) -> String {
        match self {
            Processor::InProcess(_) => {
                "arn:aws:lambda:local:000000000000:function:transform-in-process".into()
            }
            Processor::Lambda { function, .. } => {
                format!("arn:aws:lambda:local:000000000000:function:{function}")
            }
        }
    }

    /// Time allowed for one invocation (a Lambda may run for up to 15 minutes; ours for 2).
    pub fn invoke_timeout(&self) -> std::time::Duration {
        match self {
            Processor::InProcess(_) => std::time::Duration::from_secs(600),
            Processor::Lambda { .. } => LAMBDA_TIMEOUTS.attempt,
        }
    }

    /// Processes one event: the checked outcomes (and the transform's report when in
    /// process), or why the whole batch failed.
    pub async fn process(
        &self,
        event: &FirehoseEvent,
    ) -> Result<(Vec<Checked>, Option<Report>), BatchError> {
        match self {
            Processor::InProcess(t) => {
                let (resp, report) =
                    t.transform(event, Utc::now())
                        .await
                        .map_err(|e| BatchError {
                            code: "Lambda.FunctionError",
                            message: e.to_string(),
                        })?;
                let bytes = serde_json::to_vec(&resp).map_err(|e| BatchError {
                    code: "Lambda.JsonProcessingException",
                    message: e.to_string(),
                })?;
                Ok((check(event, &bytes)?, Some(report)))
            }
            Processor::Lambda { client, function } => {
                let payload = serde_json::to_vec(event).map_err(|e| BatchError {
                    code: "Lambda.InvokeFailed",
                    message: e.to_string(),
                })?;
                let out = client
                    .invoke()
                    .function_name(function)
                    .payload(Blob::new(payload))
                    .send()
                    .await
                    .map_err(|e| BatchError {
                        code: "Lambda.InvokeFailed",
                        message: aws_sdk_lambda::error::DisplayErrorContext(e).to_string(),
                    })?;
                let bytes = out
                    .payload()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default();
                if let Some(kind) = out.function_error() {
                    return Err(BatchError {
                        code: "Lambda.FunctionError",
                        message: format!("{kind}: {}", String::from_utf8_lossy(&bytes)),
                    });
                }
                Ok((check(event, &bytes)?, None))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transform::FirehoseRecord;

    fn event(ids: &[&str]) -> FirehoseEvent {
        FirehoseEvent {
            records: ids
                .iter()
                .map(|id| FirehoseRecord {
                    record_id: id.to_string(),
                    ..FirehoseRecord::default()
                })
                .collect(),
            ..FirehoseEvent::default()
        }
    }

    #[test]
    fn responses_are_checked_as_firehose_does() {
        let ev = event(&["a", "b"]);
        let ok = br#"{"records":[{"recordId":"b","result":"Dropped","data":""},{"recordId":"a","result":"Ok","data":"e30K"}]}"#;
        let checked = check(&ev, ok).unwrap();
        assert_eq!(
            checked[0],
            Checked {
                result: RecordResult::Ok,
                data: b"{}\n".to_vec()
            }
        );
        assert_eq!(checked[1].result, RecordResult::Dropped);
        let code = |b: &[u8]| check(&ev, b).unwrap_err().code;
        assert_eq!(code(b"not json"), "Lambda.JsonProcessingException");
        assert_eq!(
            code(br#"{"records":[{"recordId":"a","result":"Ok","data":"e30K"}]}"#),
            "Lambda.MissingRecordId"
        );
        assert_eq!(
            code(br#"{"records":[{"recordId":"a","result":"Ok","data":""},{"recordId":"a","result":"Ok","data":""}]}"#),
            "Lambda.DuplicatedRecordId"
        );
        assert_eq!(
            code(br#"{"records":[{"recordId":"a","result":"Success","data":""},{"recordId":"b","result":"Ok","data":""}]}"#),
            "Lambda.JsonProcessingException"
        );
        assert_eq!(
            code(br#"{"records":[{"recordId":"a","result":"Ok","data":""},{"recordId":"b","result":"Ok","data":""},{"recordId":"c","result":"Ok","data":""}]}"#),
            "Lambda.MissingRecordId"
        );
        let big = format!(
            r#"{{"records":[{{"recordId":"a","result":"Ok","data":"{}"}}]}}"#,
            "A".repeat(6_000_000)
        );
        assert_eq!(code(big.as_bytes()), "Lambda.ResponseSizeExceeded");
    }
}
