//! Firehose's `PutRecord` / `PutRecordBatch` wire protocol (AWS JSON 1.1), served on
//! 127.0.0.1, as strict as Firehose: a body that is not JSON or has the wrong types is a
//! `SerializationException`; 0 or more than 500 records a `ValidationException`; more
//! than 4 MiB of data an `InvalidArgumentException`, and a body too large for that is
//! refused before it is read whole; an unknown stream a `ResourceNotFoundException`.
//! A record is acknowledged (its `RecordId` returned) only once it is in the journal; a
//! full buffer or a failed journal write answers the entry `ServiceUnavailableException`,
//! which the producer retries.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::warn;

use crate::journal::{Entry, Journal, Segment};

/// Most records in one `PutRecordBatch` call.
pub const MAX_RECORDS: usize = 500;
/// Most bytes of data (decoded) in one call.
pub const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;
/// Largest record (decoded).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// Largest body read: 4 MiB of data in base64 plus the JSON around 500 records.
pub const MAX_BODY_BYTES: usize = MAX_CALL_BYTES / 3 * 4 + 256 * 1024;

/// One record as it arrived, on its way to the processor.
#[derive(Debug, Clone)]
pub struct Arrived {
    /// The record id returned.
    pub record_id: String,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: i64,
    /// The record's bytes.
    pub data: Vec<u8>,
    /// Where it is in the journal.
    pub segment: Segment,
}

/// Record ids unique across runs: a random number per process, then a counter (56 digits,
/// like Firehose's).
pub struct RecordIds {
    run: u64,
    next: AtomicU64,
}

impl RecordIds {
    /// Ids for this process.
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        RecordIds {
            run: h.finish() % 10u64.pow(19),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        format!(
            "{:020}{:036}",
            self.run,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Default for RecordIds {
    fn default() -> Self {
        RecordIds::new()
    }
}

/// What the server needs to take a call.
pub struct Wire {
    /// The stream's name.
    pub stream: String,
    /// Where records are kept before they are acknowledged.
    pub journal: Journal,
    /// The processor's queue (`None` once the stream is stopping).
    pub queue: Mutex<Option<mpsc::Sender<Arrived>>>,
    /// Record ids.
    pub ids: RecordIds,
    /// The live counters (records acknowledged among them).
    pub live: Arc<crate::live::Live>,
}

/// An AWS JSON 1.1 answer (`application/x-amz-json-1.1`) with this status and body.
pub fn json_reply(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

fn error(status: u16, kind: &str, message: impl Into<String>) -> Response<Full<Bytes>> {
    json_reply(status, &json!({"__type": kind, "message": message.into()}))
}

fn serialization(message: impl Into<String>) -> Response<Full<Bytes>> {
    error(400, "SerializationException", message)
}

/// One wire-protocol request.
pub async fn handle(
    req: Request<Incoming>,
    wire: Arc<Wire>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Ok(error(
            413,
            "InvalidArgumentException",
            format!(
                "request body of {} bytes: a call carries at most {MAX_CALL_BYTES} bytes of data",
                declared.unwrap_or_default()
            ),
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(error(
                413,
                "InvalidArgumentException",
                format!("request body over {MAX_BODY_BYTES} bytes, or unreadable: {e}"),
            ))
        }
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return Ok(serialization("the request body is not JSON"));
    };
    let Some(name) = request.get("DeliveryStreamName").and_then(Value::as_str) else {
        return Ok(serialization("DeliveryStreamName must be a string"));
    };
    if name != wire.stream {
        return Ok(error(
            400,
            "ResourceNotFoundException",
            format!(
                "Firehose {name} under account 000000000000 not found (this local stream is {})",
                wire.stream
            ),
        ));
    }
    let single = match target.as_str() {
        "Firehose_20150804.PutRecordBatch" => false,
        "Firehose_20150804.PutRecord" => true,
        "" => return Ok(error(400, "UnknownOperationException", "no X-Amz-Target")),
        other => {
            return Ok(error(
                400,
                "UnknownOperationException",
                format!("{other} is not served here"),
            ))
        }
    };
    let records: Vec<&Value> = if single {
        match request.get("Record") {
            Some(r) if r.is_object() => vec![r],
            _ => return Ok(serialization("Record must be an object with Data")),
        }
    } else {
        match request.get("Records").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => return Ok(serialization("Records must be a list")),
        }
    };
    if records.is_empty() || records.len() > MAX_RECORDS {
        return Ok(error(400, "ValidationException", format!(
            "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and {MAX_RECORDS} (got {})",
            records.len()
        )));
    }
    let mut decoded = Vec::with_capacity(records.len());
    for r in &records {
        let Some(data) = r.get("Data").and_then(Value::as_str) else {
            return Ok(serialization("each record's Data must be a base64 string"));
        };
        match STANDARD.decode(data) {
            Ok(bytes) => decoded.push(bytes),
            Err(_) => return Ok(serialization("a record's Data is not valid base64")),
        }
    }
    let total: usize = decoded.iter().map(Vec::len).sum();
    if total > MAX_CALL_BYTES {
        return Ok(error(
            400,
            "InvalidArgumentException",
            format!("records of {total} bytes in one call: at most {MAX_CALL_BYTES}"),
        ));
    }
    let queue = wire
        .queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let Some(queue) = queue else {
        return Ok(error(
            503,
            "ServiceUnavailableException",
            "the local stream is stopping",
        ));
    };
    let responses = accept(&wire, &queue, decoded).await;
    if single {
        let r = &responses[0];
        return Ok(match r.get("RecordId") {
            Some(id) => json_reply(200, &json!({"RecordId": id, "Encrypted": false})),
            None => error(
                400,
                r["ErrorCode"]
                    .as_str()
                    .unwrap_or("ServiceUnavailableException"),
                r["ErrorMessage"].as_str().unwrap_or(""),
            ),
        });
    }
    let failed = responses
        .iter()
        .filter(|r| r.get("ErrorCode").is_some())
        .count();
    Ok(json_reply(
        200,
        &json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": responses}),
    ))
}

/// Journals and queues the records it can take; one response per record, in order.
async fn accept(wire: &Wire, queue: &mpsc::Sender<Arrived>, decoded: Vec<Vec<u8>>) -> Vec<Value> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut responses: Vec<Value> = vec![Value::Null; decoded.len()];
    let mut entries = Vec::new();
    let mut at = Vec::new();
    for (i, data) in decoded.into_iter().enumerate() {
        if data.len() > MAX_RECORD_BYTES {
            responses[i] = json!({"ErrorCode": "InvalidArgumentException", "ErrorMessage": format!("record of {} bytes is over the 1,000 KiB limit", data.len())});
            continue;
        }
        entries.push(Entry {
            record_id: wire.ids.next(),
            arrival_ms: now,
            data,
        });
        at.push(i);
    }
    let unavailable =
        |why: &str| json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": why});
    if entries.is_empty() {
        return responses;
    }
    // Room in the processor's buffer first: what cannot be taken is not acknowledged.
    let permits = match queue.try_reserve_many(entries.len()) {
        Ok(p) => p,
        Err(_) => {
            for i in at {
                responses[i] = unavailable("Slow down.");
            }
            return responses;
        }
    };
    match wire.journal.append(entries.clone()).await {
        Ok(segment) => {
            for ((i, e), permit) in at.into_iter().zip(entries).zip(permits) {
                responses[i] = json!({"RecordId": e.record_id});
                permit.send(Arrived {
                    record_id: e.record_id,
                    arrival_ms: e.arrival_ms,
                    data: e.data,
                    segment,
                });
                wire.live.received.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => {
            warn!(error = %e, records = at.len(), "cannot write the journal: records not acknowledged");
            for i in at {
                responses[i] = unavailable(&format!("the stream cannot keep the record: {e}"));
            }
        }
    }
    responses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_56_digits_and_unique_across_runs() {
        let a = RecordIds::new();
        let b = RecordIds::new();
        let (x, y) = (a.next(), a.next());
        assert_eq!(x.len(), 56);
        assert!(x.bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(x, y);
        assert_ne!(x, b.next(), "two runs start from different numbers");
    }
}
