//! A small Amazon Kinesis Data Firehose server on 127.0.0.1 for tests and benchmarks: it
//! speaks the JSON 1.1 protocol of `PutRecordBatch` and `PutRecord`
//! (`X-Amz-Target: Firehose_20150804.*`) well enough for the real `aws-sdk-firehose`
//! client, keeps every accepted record's bytes in order, and can fail chosen entries
//! (for now or for good), throttle calls, answer garbage, never answer, or be unavailable.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::http::{json_reply, json_request, serve, Server};

/// How the server behaves; change it at any time with [`FirehoseServer::set`].
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Entries whose data contains this marker fail (`ServiceUnavailableException`)...
    pub fail_marker: Option<String>,
    /// ...this many times each, then succeed.
    pub fail_times: u32,
    /// Answer this many next calls with `ServiceUnavailableException` (HTTP 503).
    pub throttle_next: u32,
    /// Answer every call with HTTP 503.
    pub unavailable: bool,
    /// Count accepted records without keeping their bytes (benchmarks).
    pub discard: bool,
    /// Answer this many next calls with HTTP 200 and a body that is not an answer.
    pub malformed_next: u32,
    /// Entries whose data contains this marker are refused for good
    /// (`InvalidArgumentException`).
    pub invalid_marker: Option<String>,
    /// Accept calls and never answer them.
    pub hang: bool,
}

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Calls received (all of them).
    pub calls: u64,
    /// Calls answered with an error.
    pub failed_calls: u64,
    /// Entries received in all calls, failed calls included.
    pub entries_received: u64,
    /// Entries answered with an error code.
    pub failed_entries: u64,
    /// Accepted record bytes, in order of acceptance (empty with `discard`).
    pub accepted: Vec<Vec<u8>>,
    /// Accepted records.
    pub accepted_count: u64,
    /// Largest number of records in one call.
    pub max_batch_records: usize,
    /// Largest number of data bytes in one call.
    pub max_batch_bytes: usize,
    /// Delivery stream names used.
    pub streams: Vec<String>,
}

#[derive(Default)]
struct State {
    behaviour: Behaviour,
    seen: Seen,
    failures: std::collections::HashMap<Vec<u8>, u32>,
}

/// A running server; stops when dropped.
pub struct FirehoseServer {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FirehoseServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start(behaviour: Behaviour) -> Self {
        let state = Arc::new(Mutex::new(State {
            behaviour,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = serve(move |req| handle(Arc::clone(&shared), req));
        FirehoseServer { server, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Changes the behaviour from now on.
    pub fn set(&self, behaviour: Behaviour) {
        self.state.lock().expect("state").behaviour = behaviour;
    }

    /// A copy of what the server has seen so far.
    pub fn seen(&self) -> Seen {
        self.state.lock().expect("state").seen.clone()
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    json_reply(status, &body)
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some((target, request)) = json_request(req).await else {
        return Ok(reply(400, json!({"__type": "SerializationException"})));
    };
    let records: Vec<Value> = match target.as_str() {
        "Firehose_20150804.PutRecordBatch" => {
            request["Records"].as_array().cloned().unwrap_or_default()
        }
        "Firehose_20150804.PutRecord" => vec![request["Record"].clone()],
        _ => return Ok(reply(400, json!({"__type": "UnknownOperationException"}))),
    };
    let hang = {
        let mut st = state.lock().expect("state");
        st.seen.calls += 1;
        st.seen.entries_received += records.len() as u64;
        st.behaviour.hang
    };
    if hang {
        std::future::pending::<()>().await;
    }
    let mut st = state.lock().expect("state");
    if st.behaviour.malformed_next > 0 {
        st.behaviour.malformed_next -= 1;
        st.seen.failed_calls += 1;
        let mut resp = Response::new(Full::new(Bytes::from_static(
            b"{\"RequestResponses\": [{\"Record",
        )));
        resp.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        return Ok(resp);
    }
    if st.behaviour.unavailable || st.behaviour.throttle_next > 0 {
        st.behaviour.throttle_next = st.behaviour.throttle_next.saturating_sub(1);
        st.seen.failed_calls += 1;
        return Ok(reply(
            503,
            json!({"__type": "ServiceUnavailableException", "message": "Slow down."}),
        ));
    }
    if let Some(name) = request["DeliveryStreamName"].as_str() {
        st.seen.streams.push(name.to_string());
    }
    let mut responses = Vec::new();
    let mut failed = 0;
    let mut bytes = 0;
    for r in &records {
        let data = STANDARD
            .decode(r["Data"].as_str().unwrap_or_default())
            .unwrap_or_default();
        bytes += data.len();
        let marked = st
            .behaviour
            .fail_marker
            .as_ref()
            .is_some_and(|m| String::from_utf8_lossy(&data).contains(m.as_str()));
        let invalid = st
            .behaviour
            .invalid_marker
            .as_ref()
            .is_some_and(|m| String::from_utf8_lossy(&data).contains(m.as_str()));
        let times = st.behaviour.fail_times;
        let count = st.failures.entry(data.clone()).or_default();
        if invalid {
            failed += 1;
            responses.push(json!({"ErrorCode": "InvalidArgumentException", "ErrorMessage": "the record is not valid for this stream"}));
        } else if marked && *count < times {
            *count += 1;
            failed += 1;
            responses.push(
                json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}),
            );
        } else {
            let n = st.seen.accepted_count;
            st.seen.accepted_count += 1;
            if !st.behaviour.discard {
                st.seen.accepted.push(data);
            }
            responses.push(json!({"RecordId": format!("rec-{n}")}));
        }
    }
    st.seen.failed_entries += failed;
    st.seen.max_batch_records = st.seen.max_batch_records.max(records.len());
    st.seen.max_batch_bytes = st.seen.max_batch_bytes.max(bytes);
    if target == "Firehose_20150804.PutRecord" {
        return Ok(match responses.pop() {
            Some(r) if r.get("RecordId").is_some() => {
                reply(200, json!({"RecordId": r["RecordId"], "Encrypted": false}))
            }
            _ => reply(
                503,
                json!({"__type": "ServiceUnavailableException", "message": "Slow down."}),
            ),
        });
    }
    Ok(reply(
        200,
        json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": responses}),
    ))
}
