//! A local delivery stream: what Firehose does for this pipeline, on one machine.
//!
//! It serves Firehose's `PutRecord` / `PutRecordBatch` wire protocol on 127.0.0.1 (so
//! the producer's sink talks to it exactly as to AWS), buffers records for the processor
//! by size and interval hints, invokes the processor per buffer ([`processor`]), checks
//! its response as Firehose does, buffers `Ok` documents for the destination and
//! delivers them ([`destination`]), and writes failures to the backup as Firehose writes
//! them ([`backup`]). Every record that enters is counted as exactly one of: indexed,
//! dropped by the policy, or backed up.

pub mod backup;
pub mod destination;
pub mod processor;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::{info, warn};
use transform::firehose::{FirehoseEvent, FirehoseRecord, RecordResult};
use transform::retry::Backoff;

use backup::{Backup, BackupMode, DocumentFailedRecord, Failure, ProcessingFailedRecord};
use destination::{Destination, Doc, Rotation};
use processor::Processor;

/// Retries of a failed processor invocation (Firehose's default).
pub const INVOKE_RETRIES: u32 = 3;

/// Delays between those retries.
const INVOKE_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Settings of the local delivery stream.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Delivery stream name.
    pub stream: String,
    /// Processor buffer size hint (Firehose: 0.2–3 MB).
    pub processor_buffer_bytes: usize,
    /// Processor buffer interval hint (Firehose: 0–900 s).
    pub processor_interval: Duration,
    /// Destination buffer size hint (Firehose: 1–100 MB).
    pub buffer_bytes: usize,
    /// Destination buffer interval hint (Firehose: 0–900 s).
    pub buffer_interval: Duration,
    /// Index name (before rotation).
    pub index: String,
    /// Index rotation.
    pub rotation: Rotation,
    /// Backup mode.
    pub backup_mode: BackupMode,
}

impl LocalConfig {
    /// Checks the hints against Firehose's ranges.
    pub fn validate(&self) -> Result<(), String> {
        let mb = |b: usize| b as f64 / 1_000_000.0;
        if !(0.2..=3.0).contains(&mb(self.processor_buffer_bytes)) {
            return Err(format!(
                "processor buffer {} MB: expected 0.2 to 3 MB",
                mb(self.processor_buffer_bytes)
            ));
        }
        if !(1.0..=100.0).contains(&mb(self.buffer_bytes)) {
            return Err(format!(
                "destination buffer {} MB: expected 1 to 100 MB",
                mb(self.buffer_bytes)
            ));
        }
        for (name, d) in [
            ("processor", self.processor_interval),
            ("destination", self.buffer_interval),
        ] {
            if d > Duration::from_secs(900) {
                return Err(format!(
                    "{name} buffer interval {} s: expected 0 to 900 s",
                    d.as_secs()
                ));
            }
        }
        Ok(())
    }
}

/// What the local stream did.
#[derive(Debug, Clone, Default)]
pub struct LocalSummary {
    /// Records received through the wire protocol.
    pub received: u64,
    /// Processor invocations.
    pub invocations: u64,
    /// Records the processor returned `Ok`.
    pub ok: u64,
    /// Records the processor dropped, per reason (`dropped` when the processor gives none).
    pub dropped: BTreeMap<String, u64>,
    /// Records backed up under `processing-failed/`, per reason or error code.
    pub processing_failed: BTreeMap<String, u64>,
    /// Documents indexed.
    pub indexed: u64,
    /// Documents backed up under `AmazonOpenSearchService-failed/`, per error code.
    pub delivery_failed: BTreeMap<String, u64>,
    /// Per category: (documents, sum of sentiment scores, documents with a score).
    pub categories: BTreeMap<String, (u64, f64, u64)>,
    /// Backup objects written.
    pub backup_objects: Vec<String>,
    /// Time spent in the processor (the transform, or the Lambda invoke).
    pub processor_busy: Duration,
    /// Time spent delivering to the destination (`_bulk` round trips and retries).
    pub delivery_busy: Duration,
}

impl LocalSummary {
    /// Records accounted for: indexed + dropped + every backed-up record.
    pub fn accounted(&self) -> u64 {
        self.indexed
            + self.dropped.values().sum::<u64>()
            + self.processing_failed.values().sum::<u64>()
            + self.delivery_failed.values().sum::<u64>()
    }

    /// The cats-vs-dogs verdict: the tag (other than `multiple` / `uncategorized`) with the
    /// highest mean sentiment, with every tag's mean.
    pub fn verdict(&self) -> Option<String> {
        let means: Vec<(&String, f64, u64)> = self
            .categories
            .iter()
            .filter(|(k, (_, _, scored))| {
                *scored > 0 && k.as_str() != "multiple" && k.as_str() != "uncategorized"
            })
            .map(|(k, (n, sum, scored))| (k, sum / *scored as f64, *n))
            .collect();
        let best = means.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let parts: Vec<String> = means
            .iter()
            .map(|(k, m, n)| format!("{k} {m:+.3} ({n} posts)"))
            .collect();
        Some(format!("{} win: {}", best.0, parts.join(" vs ")))
    }

    /// The end-of-run table.
    pub fn table(&self) -> String {
        let mut s = String::from("\nlocal delivery stream\n");
        let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<34} {v:>10}\n"));
        row("records in", self.received.to_string());
        row("processor invocations", self.invocations.to_string());
        row("Ok", self.ok.to_string());
        for (k, v) in &self.dropped {
            row(&format!("Dropped: {k}"), v.to_string());
        }
        for (k, v) in &self.processing_failed {
            row(&format!("ProcessingFailed: {k}"), v.to_string());
        }
        row("indexed", self.indexed.to_string());
        for (k, v) in &self.delivery_failed {
            row(&format!("not indexed, backed up: {k}"), v.to_string());
        }
        for (k, (n, sum, scored)) in &self.categories {
            let mean = if *scored > 0 {
                format!("{:+.3}", sum / *scored as f64)
            } else {
                "-".into()
            };
            row(
                &format!("category {k} (mean sentiment)"),
                format!("{n} ({mean})"),
            );
        }
        row("backup objects", self.backup_objects.len().to_string());
        if let Some(v) = self.verdict() {
            s.push_str(&format!("  verdict: {v}\n"));
        }
        s
    }
}

/// Whether an endpoint is on this machine (local servers do not check signatures).
fn on_this_machine(endpoint: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| endpoint.starts_with(p))
}

/// The AWS configuration for a client: the default provider chain and the endpoint when
/// given. For an endpoint on this machine, a region defaults to `us-east-1` and, when the
/// environment has no credentials, static ones are used, so local runs need no account.
pub async fn shared_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
        if on_this_machine(url) {
            let region = aws_config::meta::region::RegionProviderChain::default_provider()
                .or_else(aws_config::Region::new("us-east-1"));
            loader = loader.region(region);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "local-stream",
                ));
            }
        }
    }
    loader.load().await
}

/// An S3 client for the backup (path-style addressing, as S3-compatible servers want).
pub async fn s3_client(endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let shared = shared_config(endpoint).await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A Lambda client for the Invoke API at `endpoint` (`cargo lambda watch`, a real region).
pub async fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&shared_config(Some(endpoint)).await)
}

/// One record as it arrived.
struct Arrived {
    record_id: String,
    arrival_ms: i64,
    data: Vec<u8>,
}

/// A running local delivery stream.
pub struct LocalStream {
    /// `http://127.0.0.1:PORT`: the Firehose endpoint to give the producer.
    pub url: String,
    tx: Option<mpsc::Sender<Arrived>>,
    pipeline: tokio::task::JoinHandle<LocalSummary>,
    stop_server: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LocalStream {
    /// Starts the stream on a free port of 127.0.0.1 (the index template is applied first).
    pub async fn start(
        config: LocalConfig,
        processor: Processor,
        destination: Destination,
        backup: Backup,
    ) -> anyhow::Result<Self> {
        config.validate().map_err(anyhow::Error::msg)?;
        destination.prepare(&config.index).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = mpsc::channel::<Arrived>(100_000);
        let (stop_server, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let server_tx = tx.clone();
        let stream_name = config.stream.clone();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(async move {
            loop {
                let (conn, _) = tokio::select! {
                    _ = &mut stopped => break,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                let tx = server_tx.clone();
                let name = stream_name.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        wire(req, tx.clone(), name.clone(), Arc::clone(&counter))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), service)
                        .await;
                });
            }
        });
        let pipeline = tokio::spawn(run(config, processor, destination, backup, rx));
        info!(%url, "local delivery stream listening");
        Ok(LocalStream {
            url,
            tx: Some(tx),
            pipeline,
            stop_server: Some(stop_server),
        })
    }

    /// Stops accepting, drains every buffer, and returns the summary.
    pub async fn finish(mut self) -> anyhow::Result<LocalSummary> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        drop(self.tx.take());
        // Connections still open hold senders; they close when the producer's client does.
        Ok(self.pipeline.await?)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireRecord {
    data: String,
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

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    json_reply(status, &body)
}

/// Reads an AWS JSON 1.1 request: its `X-Amz-Target` operation and its JSON body
/// (`Null` when the body is not JSON); `None` when the body cannot be read.
pub async fn json_request(req: Request<Incoming>) -> Option<(String, Value)> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req.into_body().collect().await.ok()?.to_bytes();
    Some((target, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// One wire-protocol request.
async fn wire(
    req: Request<Incoming>,
    tx: mpsc::Sender<Arrived>,
    stream: String,
    counter: Arc<std::sync::atomic::AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some((target, request)) = json_request(req).await else {
        return Ok(reply(
            400,
            json!({"__type": "SerializationException", "message": "unreadable body"}),
        ));
    };
    if request["DeliveryStreamName"].as_str() != Some(stream.as_str()) {
        return Ok(reply(
            400,
            json!({"__type": "ResourceNotFoundException", "message": format!("delivery stream {:?} not found; this local stream is {stream:?}", request["DeliveryStreamName"])}),
        ));
    }
    let records: Vec<Value> = match target.as_str() {
        "Firehose_20150804.PutRecordBatch" => {
            request["Records"].as_array().cloned().unwrap_or_default()
        }
        "Firehose_20150804.PutRecord" => vec![request["Record"].clone()],
        _ => {
            return Ok(reply(
                400,
                json!({"__type": "UnknownOperationException", "message": target}),
            ))
        }
    };
    if records.len() > 500 {
        return Ok(reply(
            400,
            json!({"__type": "InvalidArgumentException", "message": "more than 500 records"}),
        ));
    }
    let now = Utc::now().timestamp_millis();
    let mut responses = Vec::with_capacity(records.len());
    let mut failed = 0;
    for r in records {
        let data = serde_json::from_value::<WireRecord>(r)
            .ok()
            .and_then(|w| STANDARD.decode(w.data).ok());
        let Some(data) = data else {
            failed += 1;
            responses.push(json!({"ErrorCode": "InvalidArgumentException", "ErrorMessage": "Data is not base64"}));
            continue;
        };
        if data.len() > 1_000 * 1024 {
            failed += 1;
            responses.push(json!({"ErrorCode": "InvalidArgumentException", "ErrorMessage": "record over 1,000 KiB"}));
            continue;
        }
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record_id = format!(
            "{:056}",
            49_546_986_683_135_544_286_u128 * 1_000_000_000_000 + u128::from(n)
        );
        let arrived = Arrived {
            record_id: record_id.clone(),
            arrival_ms: now,
            data,
        };
        // A full buffer answers like a throttled stream: the producer retries the entry.
        match tx.try_send(arrived) {
            Ok(()) => responses.push(json!({"RecordId": record_id})),
            Err(_) => {
                failed += 1;
                responses.push(json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}));
            }
        }
    }
    if target == "Firehose_20150804.PutRecord" {
        return Ok(match responses.pop() {
            Some(r) if r.get("RecordId").is_some() => {
                reply(200, json!({"RecordId": r["RecordId"], "Encrypted": false}))
            }
            Some(r) => reply(
                400,
                json!({"__type": r["ErrorCode"], "message": r["ErrorMessage"]}),
            ),
            None => reply(400, json!({"__type": "InvalidArgumentException"})),
        });
    }
    Ok(reply(
        200,
        json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": responses}),
    ))
}

/// Fills one buffer, as Firehose buffers: waits for the first item, then takes items
/// until `max_bytes` (by `size`) or until `interval` has passed since the first one.
/// Returns the buffer and whether the input is still open.
async fn fill<T>(
    rx: &mut mpsc::Receiver<T>,
    max_bytes: usize,
    interval: Duration,
    size: impl Fn(&T) -> usize,
) -> (Vec<T>, bool) {
    let mut buf = Vec::new();
    let mut bytes = 0;
    let Some(first) = rx.recv().await else {
        return (buf, false);
    };
    bytes += size(&first);
    buf.push(first);
    let deadline = Instant::now() + interval;
    while bytes < max_bytes {
        match tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            rx.recv(),
        )
        .await
        {
            Ok(Some(item)) => {
                bytes += size(&item);
                buf.push(item);
            }
            Ok(None) => return (buf, false),
            Err(_) => break,
        }
    }
    (buf, true)
}

/// Buffers, processes, delivers, backs up; returns when the input closes and all is done.
async fn run(
    config: LocalConfig,
    processor: Processor,
    destination: Destination,
    backup: Backup,
    mut rx: mpsc::Receiver<Arrived>,
) -> LocalSummary {
    let summary = Arc::new(Mutex::new(LocalSummary::default()));
    let (doc_tx, doc_rx) = mpsc::channel::<Doc>(100_000);
    let backup = Arc::new(backup);
    let delivery = tokio::spawn(deliver(
        config.clone(),
        destination,
        Arc::clone(&backup),
        doc_rx,
        Arc::clone(&summary),
    ));
    let arn = processor.arn();
    let mut open = true;
    while open {
        let (batch, still_open) = fill(
            &mut rx,
            config.processor_buffer_bytes,
            config.processor_interval,
            |a: &Arrived| a.data.len(),
        )
        .await;
        open = still_open;
        if !batch.is_empty() {
            process_batch(&processor, &arn, batch, &doc_tx, &backup, &config, &summary).await;
        }
    }
    drop(doc_tx);
    let _ = delivery.await;
    let out = summary.lock().map(|s| s.clone()).unwrap_or_default();
    out
}

async fn process_batch(
    processor: &Processor,
    arn: &str,
    batch: Vec<Arrived>,
    doc_tx: &mpsc::Sender<Doc>,
    backup: &Backup,
    config: &LocalConfig,
    summary: &Mutex<LocalSummary>,
) {
    let event = FirehoseEvent {
        invocation_id: format!(
            "local-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ),
        delivery_stream_arn: format!(
            "arn:aws:firehose:local:000000000000:deliverystream/{}",
            config.stream
        ),
        source_kinesis_stream_arn: None,
        region: "local".into(),
        records: batch
            .iter()
            .map(|a| FirehoseRecord {
                record_id: a.record_id.clone(),
                approximate_arrival_timestamp: a.arrival_ms,
                data: STANDARD.encode(&a.data),
                kinesis_record_metadata: None,
            })
            .collect(),
    };
    if let Ok(mut s) = summary.lock() {
        s.received += batch.len() as u64;
        s.invocations += 1;
    }
    // Like Firehose: an invocation that fails (not a response that fails the checks) is
    // tried three more times before its records go to processing-failed/.
    let started = Instant::now();
    let mut attempts = 0u32;
    let outcome = loop {
        attempts += 1;
        let outcome = processor.process(&event).await;
        match &outcome {
            Err(e) if e.retryable() && attempts <= INVOKE_RETRIES => {
                warn!(
                    code = e.code,
                    attempt = attempts,
                    "processor invocation failed; retrying"
                );
                tokio::time::sleep(INVOKE_BACKOFF.delay(attempts)).await;
            }
            _ => break outcome,
        }
    };
    if let Ok(mut s) = summary.lock() {
        s.processor_busy += started.elapsed();
    }
    let now = Utc::now().timestamp_millis();
    let failed_record = |a: &Arrived, code: &str, message: &str| ProcessingFailedRecord {
        failure: Failure {
            attempts_made: attempts,
            arrival_timestamp: a.arrival_ms,
            error_code: code.to_string(),
            error_message: message.to_string(),
            attempt_ending_timestamp: now,
            raw_data: backup::raw(&a.data),
        },
        lambda_arn: arn.to_string(),
    };
    let mut failures: Vec<ProcessingFailedRecord> = Vec::new();
    let mut failure_reasons: Vec<String> = Vec::new();
    match outcome {
        Err(err) => {
            warn!(code = err.code, message = %err.message, records = batch.len(), "processor failed the batch");
            for a in &batch {
                failures.push(failed_record(a, err.code, &err.message));
                failure_reasons.push(err.code.to_string());
            }
        }
        Ok((checked, report)) => {
            // The in-process transform says why each record was dropped or failed.
            let reason = |i: usize, fallback: &str| {
                report
                    .as_ref()
                    .and_then(|r| r.reasons.get(i))
                    .filter(|r| !r.is_empty())
                    .map_or_else(|| fallback.to_string(), |r| r.to_string())
            };
            for (i, (a, c)) in batch.iter().zip(checked).enumerate() {
                match c.result {
                    RecordResult::Ok => {
                        let mut json = c.data;
                        while json.last() == Some(&b'\n') {
                            json.pop();
                        }
                        if let Ok(mut s) = summary.lock() {
                            s.ok += 1;
                        }
                        let doc = Doc {
                            id: a.record_id.clone(),
                            arrival_ms: a.arrival_ms,
                            json,
                        };
                        if doc_tx.send(doc).await.is_err() {
                            warn!("destination stopped early");
                        }
                    }
                    RecordResult::Dropped => {
                        let reason = reason(i, "dropped");
                        if let Ok(mut s) = summary.lock() {
                            *s.dropped.entry(reason).or_default() += 1;
                        }
                    }
                    RecordResult::ProcessingFailed => {
                        let reason = reason(i, "Lambda.ProcessingFailed");
                        failures.push(failed_record(a, "Lambda.ProcessingFailed", &reason));
                        failure_reasons.push(reason);
                    }
                }
            }
        }
    }
    if !failures.is_empty() {
        match backup.write(backup::PROCESSING_FAILED, &failures).await {
            Ok(key) => {
                if let Ok(mut s) = summary.lock() {
                    for r in failure_reasons {
                        *s.processing_failed.entry(r).or_default() += 1;
                    }
                    s.backup_objects.push(key);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = failures.len(), "cannot write the processing-failed backup")
            }
        }
    }
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    sentiment: Option<PeekSentiment>,
}

#[derive(Deserialize)]
struct PeekSentiment {
    score: f64,
}

async fn deliver(
    config: LocalConfig,
    destination: Destination,
    backup: Arc<Backup>,
    mut rx: mpsc::Receiver<Doc>,
    summary: Arc<Mutex<LocalSummary>>,
) {
    let mut open = true;
    while open {
        let (buf, still_open) = fill(
            &mut rx,
            config.buffer_bytes,
            config.buffer_interval,
            |d: &Doc| d.json.len(),
        )
        .await;
        open = still_open;
        if buf.is_empty() {
            continue;
        }
        if config.backup_mode == BackupMode::AllDocuments {
            let body: Vec<u8> = buf
                .iter()
                .flat_map(|d| d.json.iter().copied().chain(std::iter::once(b'\n')))
                .collect();
            match backup.put(backup::ALL_DOCUMENTS, body).await {
                Ok(key) => {
                    if let Ok(mut s) = summary.lock() {
                        s.backup_objects.push(key);
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot write the all-documents backup"),
            }
        }
        let peeks: Vec<(String, Option<f64>)> = buf
            .iter()
            .map(|d| {
                let p: Option<Peek> = serde_json::from_slice(&d.json).ok();
                let category = p
                    .as_ref()
                    .and_then(|p| p.category.clone())
                    .unwrap_or_else(|| "unknown".into());
                (category, p.and_then(|p| p.sentiment).map(|s| s.score))
            })
            .collect();
        let ids: Vec<String> = buf.iter().map(|d| d.id.clone()).collect();
        let started = Instant::now();
        let (indexed, failed) = destination
            .deliver(&config.index, config.rotation, buf)
            .await;
        let busy = started.elapsed();
        let failed_ids: std::collections::HashSet<&str> =
            failed.iter().map(|f| f.doc.id.as_str()).collect();
        if let Ok(mut s) = summary.lock() {
            s.delivery_busy += busy;
            s.indexed += indexed;
            for (id, (category, score)) in ids.iter().zip(peeks) {
                if failed_ids.contains(id.as_str()) {
                    continue;
                }
                let e = s.categories.entry(category).or_default();
                e.0 += 1;
                if let Some(score) = score {
                    e.1 += score;
                    e.2 += 1;
                }
            }
        }
        if failed.is_empty() {
            continue;
        }
        let now = Utc::now().timestamp_millis();
        let lines: Vec<DocumentFailedRecord> = failed
            .iter()
            .map(|f| DocumentFailedRecord {
                failure: Failure {
                    attempts_made: f.attempts,
                    arrival_timestamp: f.doc.arrival_ms,
                    error_code: f.code.clone(),
                    error_message: f.message.clone(),
                    attempt_ending_timestamp: now,
                    raw_data: backup::raw(&f.doc.json),
                },
                es_document_id: f.doc.id.clone(),
                es_index_name: f.index.clone(),
                es_type_name: String::new(),
            })
            .collect();
        match backup.write(backup::OPENSEARCH_FAILED, &lines).await {
            Ok(key) => {
                if let Ok(mut s) = summary.lock() {
                    for f in &failed {
                        *s.delivery_failed.entry(f.code.clone()).or_default() += 1;
                    }
                    s.backup_objects.push(key);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, documents = lines.len(), "cannot write the failed-documents backup")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_checked_against_firehose_ranges() {
        let ok = LocalConfig {
            stream: "s".into(),
            processor_buffer_bytes: 1_000_000,
            processor_interval: Duration::from_secs(1),
            buffer_bytes: 5_000_000,
            buffer_interval: Duration::from_secs(1),
            index: "social-posts".into(),
            rotation: Rotation::OneDay,
            backup_mode: BackupMode::FailedDocumentsOnly,
        };
        assert!(ok.validate().is_ok());
        let bad = LocalConfig {
            processor_buffer_bytes: 4_000_000,
            ..ok.clone()
        };
        assert!(bad.validate().unwrap_err().contains("0.2 to 3 MB"));
        let bad = LocalConfig {
            buffer_bytes: 500_000,
            ..ok.clone()
        };
        assert!(bad.validate().unwrap_err().contains("1 to 100 MB"));
        let bad = LocalConfig {
            buffer_interval: Duration::from_secs(901),
            ..ok
        };
        assert!(bad.validate().unwrap_err().contains("0 to 900 s"));
    }

    #[test]
    fn verdict_names_the_happier_tag() {
        let mut s = LocalSummary::default();
        s.categories.insert("cats".into(), (10, 2.0, 10));
        s.categories.insert("dogs".into(), (10, 3.0, 10));
        s.categories.insert("multiple".into(), (1, 1.0, 1));
        let v = s.verdict().unwrap();
        assert!(
            v.starts_with("dogs win: cats +0.200 (10 posts) vs dogs +0.300 (10 posts)"),
            "{v}"
        );
        s.indexed = 20;
        s.dropped.insert("retweet".into(), 2);
        s.processing_failed.insert("invalid_json".into(), 1);
        assert_eq!(s.accounted(), 23);
    }
}
