//! The two stages behind the wire server, each on its own task, each counting what it
//! did and returning its counts: processing (buffer, invoke the processor with Firehose's
//! retries, check its answer, back up what failed) and delivery (buffer, index, back up
//! what was refused). A record leaves the journal when its fate is final; a record whose
//! backup could not be written stays in it, for the next start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use firehose_backup::records::raw;
use firehose_backup::{
    DocumentFailedRecord, Failure, ProcessingFailedRecord, Writer, ALL_DOCUMENTS,
    OPENSEARCH_FAILED, PROCESSING_FAILED,
};
use retry::{Policy, Schedule, Stop, Verdict};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::{error, warn};
use transform::{FirehoseEvent, FirehoseRecord, RecordResult};

use crate::buffer::fill;
use crate::config::{BackupMode, LocalConfig};
use crate::destination::{Destination, Doc};
use crate::journal::{Journal, Segment};
use crate::live::Live;
use crate::processor::{BatchError, Checked, Processor};
use crate::summary::{Delivered, Processed};
use crate::wire::Arrived;

/// Retries of a failed processor invocation (Firehose's default).
pub const INVOKE_RETRIES: u32 = 3;

/// Waits between those retries.
const INVOKE_SCHEDULE: Schedule = Schedule::new(Duration::from_millis(200), Duration::from_secs(5));

/// The stops the stages obey: `grace` ends retries of invocations and deliveries (what
/// is still failing is backed up); `abort` also ends backup writes (what is not backed
/// up stays in the journal).
#[derive(Clone)]
pub struct Stops {
    /// The grace period is over.
    pub grace: Stop,
    /// Stop everything now.
    pub abort: Stop,
}

/// Says that these records' fate is final, grouped by journal segment.
fn done<'a>(journal: &Journal, records: impl IntoIterator<Item = (Segment, &'a str)>) {
    let mut by_segment: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (segment, id) in records {
        by_segment
            .entry(segment.0)
            .or_default()
            .push(id.to_string());
    }
    for (segment, ids) in by_segment {
        journal.done(Segment(segment), ids);
    }
}

/// The processing stage: first the records the journal kept from before a stop, then the
/// live input until it closes and every buffer is processed.
#[allow(clippy::too_many_arguments)] // the stage's parts
pub async fn process(
    config: LocalConfig,
    processor: Processor,
    recovered: Vec<Arrived>,
    mut rx: mpsc::Receiver<Arrived>,
    docs: mpsc::Sender<Vec<Doc>>,
    backup: Arc<Writer>,
    journal: Journal,
    stops: Stops,
    live: Arc<Live>,
) -> Processed {
    let mut counts = Processed::default();
    let arn = processor.arn();
    let mut recovered = recovered.into_iter().peekable();
    while recovered.peek().is_some() {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(a) = recovered
            .next_if(|a| batch.is_empty() || bytes + a.data.len() <= config.processor_buffer_bytes)
        {
            bytes += a.data.len();
            batch.push(a);
        }
        let started = Instant::now();
        process_batch(
            &config,
            &processor,
            &arn,
            batch,
            &docs,
            &backup,
            &journal,
            &stops,
            &live,
            &mut counts,
        )
        .await;
        counts.busy += started.elapsed();
    }
    loop {
        let (batch, open) = fill(
            &mut rx,
            config.processor_buffer_bytes,
            config.processor_interval,
            |a: &Arrived| a.data.len(),
        )
        .await;
        if !batch.is_empty() {
            let started = Instant::now();
            process_batch(
                &config,
                &processor,
                &arn,
                batch,
                &docs,
                &backup,
                &journal,
                &stops,
                &live,
                &mut counts,
            )
            .await;
            counts.busy += started.elapsed();
        }
        if !open {
            return counts;
        }
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[allow(clippy::too_many_arguments)] // one batch and the stage's parts
async fn process_batch(
    config: &LocalConfig,
    processor: &Processor,
    arn: &str,
    batch: Vec<Arrived>,
    docs: &mpsc::Sender<Vec<Doc>>,
    backup: &Writer,
    journal: &Journal,
    stops: &Stops,
    live: &Live,
    counts: &mut Processed,
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
    counts.records += batch.len() as u64;
    counts.invocations += 1;
    // Like Firehose: an invocation that fails (not an answer that fails the checks) is
    // tried three more times before its records go to processing-failed/.
    let policy = Policy::attempts(
        INVOKE_SCHEDULE,
        1 + INVOKE_RETRIES,
        processor.invoke_timeout(),
    );
    let outcome = retry::run(policy, "invoke the processor", &stops.grace, |n| {
        let call = processor.process(&event);
        async move {
            match call.await {
                Ok(v) => Verdict::Done(v),
                Err(e) if e.retryable() => {
                    warn!(
                        code = e.code,
                        attempt = n,
                        "processor invocation failed; retrying"
                    );
                    Verdict::Retry(e)
                }
                Err(e) => Verdict::Reject(e),
            }
        }
    })
    .await;
    let (attempts, outcome) = match outcome {
        Ok(s) => (s.attempts, Ok(s.value)),
        Err(f) => (
            f.attempts.max(1),
            Err(f.last.clone().unwrap_or_else(|| BatchError {
                code: "Lambda.InvokeFailed",
                message: format!("no answer: {f}"),
            })),
        ),
    };
    let now = Utc::now().timestamp_millis();
    let failed_record = |a: &Arrived, code: &str, message: &str| ProcessingFailedRecord {
        failure: Failure {
            attempts_made: attempts,
            arrival_timestamp: a.arrival_ms,
            error_code: code.to_string(),
            error_message: message.to_string(),
            attempt_ending_timestamp: now,
            raw_data: raw(&a.data),
        },
        lambda_arn: arn.to_string(),
    };
    let mut failures: Vec<(usize, ProcessingFailedRecord, String)> = Vec::new();
    let mut dropped: Vec<usize> = Vec::new();
    // A batch's documents go to the destination together.
    let mut ok_docs: Vec<Doc> = Vec::new();
    match outcome {
        Err(err) => {
            warn!(code = err.code, message = %err.message, records = batch.len(), "processor failed the batch");
            for (i, a) in batch.iter().enumerate() {
                failures.push((
                    i,
                    failed_record(a, err.code, &err.message),
                    err.code.to_string(),
                ));
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
            for (i, (a, Checked { result, mut data })) in batch.iter().zip(checked).enumerate() {
                match result {
                    RecordResult::Ok => {
                        while data.last() == Some(&b'\n') {
                            data.pop();
                        }
                        counts.ok += 1;
                        let doc = Doc {
                            id: a.record_id.clone(),
                            arrival_ms: a.arrival_ms,
                            json: data,
                            segment: a.segment,
                        };
                        ok_docs.push(doc);
                    }
                    RecordResult::Dropped => {
                        *counts.dropped.entry(reason(i, "dropped")).or_default() += 1;
                        dropped.push(i);
                    }
                    RecordResult::ProcessingFailed => {
                        let why = reason(i, "Lambda.ProcessingFailed");
                        failures.push((i, failed_record(a, "Lambda.ProcessingFailed", &why), why));
                    }
                }
            }
        }
    }
    if !ok_docs.is_empty() && docs.send(ok_docs).await.is_err() {
        error!("the delivery stage stopped early");
    }
    done(
        journal,
        dropped
            .iter()
            .map(|&i| (batch[i].segment, batch[i].record_id.as_str())),
    );
    Live::add(&live.dropped, dropped.len() as u64);
    live.forget(
        dropped
            .iter()
            .chain(failures.iter().map(|(i, _, _)| i))
            .map(|&i| batch[i].record_id.as_str()),
    );
    if failures.is_empty() {
        return;
    }
    let lines: Vec<&ProcessingFailedRecord> = failures.iter().map(|(_, r, _)| r).collect();
    match backup.write(PROCESSING_FAILED, &lines, &stops.abort).await {
        Ok(key) => {
            for (_, _, why) in &failures {
                *counts.failed.entry(why.clone()).or_default() += 1;
            }
            counts.backup_objects.push(key);
            Live::add(&live.processing_failed, failures.len() as u64);
            done(
                journal,
                failures
                    .iter()
                    .map(|(i, _, _)| (batch[*i].segment, batch[*i].record_id.as_str())),
            );
        }
        Err(e) => {
            error!(error = %e, records = failures.len(), "cannot write the processing-failed backup: the records stay in the journal");
            *counts.kept.entry("Backup.WriteFailed".into()).or_default() += failures.len() as u64;
            Live::add(&live.kept, failures.len() as u64);
        }
    }
}

#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    sentiment: Option<PeekSentiment>,
}

#[derive(Deserialize)]
struct PeekSentiment {
    score: f64,
}

/// The delivery stage: runs until its input closes and every buffer is delivered.
pub async fn deliver(
    config: LocalConfig,
    destination: Destination,
    backup: Arc<Writer>,
    mut rx: mpsc::Receiver<Vec<Doc>>,
    journal: Journal,
    stops: Stops,
    live: Arc<Live>,
) -> Delivered {
    let mut counts = Delivered::default();
    loop {
        let (batches, open) = fill(
            &mut rx,
            config.buffer_bytes,
            config.buffer_interval,
            |docs: &Vec<Doc>| docs.iter().map(|d| d.json.len()).sum(),
        )
        .await;
        let buf: Vec<Doc> = batches.into_iter().flatten().collect();
        if !buf.is_empty() {
            let started = Instant::now();
            deliver_buffer(
                &config,
                &destination,
                &backup,
                buf,
                &journal,
                &stops,
                &live,
                &mut counts,
            )
            .await;
            counts.busy += started.elapsed();
        }
        if !open {
            return counts;
        }
    }
}

#[allow(clippy::too_many_arguments)] // one buffer and the stage's parts
async fn deliver_buffer(
    config: &LocalConfig,
    destination: &Destination,
    backup: &Writer,
    buf: Vec<Doc>,
    journal: &Journal,
    stops: &Stops,
    live: &Live,
    counts: &mut Delivered,
) {
    if config.backup_mode == BackupMode::AllDocuments {
        let body: Vec<u8> = buf
            .iter()
            .flat_map(|d| d.json.iter().copied().chain(std::iter::once(b'\n')))
            .collect();
        match backup.put(ALL_DOCUMENTS, body, &stops.abort).await {
            Ok(key) => counts.backup_objects.push(key),
            Err(e) => {
                error!(error = %e, documents = buf.len(), "cannot write the all-documents copy (the documents are still delivered)")
            }
        }
    }
    let (indexed, failed) = destination
        .deliver(&config.index, config.rotation, buf, &stops.grace)
        .await;
    counts.indexed += indexed.len() as u64;
    live.searchable(
        indexed.iter().map(|d| (d.id.as_str(), d.arrival_ms)),
        Utc::now().timestamp_millis(),
    );
    Live::add(&live.indexed, indexed.len() as u64);
    for d in &indexed {
        let peek: Option<Peek> = serde_json::from_slice(&d.json).ok();
        let score = peek
            .as_ref()
            .and_then(|p| p.sentiment.as_ref())
            .map(|s| s.score);
        let created = peek
            .as_ref()
            .and_then(|p| p.created_at.as_deref())
            .and_then(search_store::parse_date);
        // Each tag counts a post, as on the dashboard's per-tag panels.
        for tag in peek.map(|p| p.categories).unwrap_or_default() {
            if let Some(ms) = created {
                live.posted(&tag, ms);
            }
            counts.categories.entry(tag).or_default().add(score);
        }
    }
    done(journal, indexed.iter().map(|d| (d.segment, d.id.as_str())));
    if failed.is_empty() {
        return;
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
                raw_data: raw(&f.doc.json),
            },
            es_document_id: f.doc.id.clone(),
            es_index_name: f.index.clone(),
            es_type_name: String::new(),
        })
        .collect();
    match backup.write(OPENSEARCH_FAILED, &lines, &stops.abort).await {
        Ok(key) => {
            for f in &failed {
                *counts.failed.entry(f.code.clone()).or_default() += 1;
            }
            counts.backup_objects.push(key);
            Live::add(&live.not_indexed, failed.len() as u64);
            done(
                journal,
                failed.iter().map(|f| (f.doc.segment, f.doc.id.as_str())),
            );
        }
        Err(e) => {
            error!(error = %e, documents = lines.len(), "cannot write the failed-documents backup: the records stay in the journal");
            for f in &failed {
                *counts.kept.entry(f.code.clone()).or_default() += 1;
            }
            Live::add(&live.kept, failed.len() as u64);
        }
    }
}
