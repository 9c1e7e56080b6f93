//! The Firehose sink: records in from a bounded queue, `PutRecordBatch` calls out,
//! nothing lost without a word.
//!
//! Batches hold at most 500 records and 4 MiB. A record over 1,000 KiB is refused by
//! Firehose, so it goes to the rejects file instead. Every call goes through the retry
//! helper, bounded (connect, read and attempt timeouts on the client) and classified:
//! throttling, `ServiceUnavailableException`, 5xx, transport errors and malformed answers
//! retry the call; an entry answered with an error code is sent again alone, except
//! `InvalidArgumentException` (it will never succeed: the rejects file, with the reason);
//! a call refused as a whole (an unknown stream, no access) spills its records and ends
//! the run with an error. A batch still failing after `spill_after` is written to the
//! spill file, and later batches are tried once each and spilled at once until Firehose
//! answers again. When the spill file reaches its cap, the sink keeps trying instead, so a
//! full file slows the source rather than growing. The `grace` stop (the end of a
//! shutdown's grace period, or a second signal) ends the retries: what is still in flight
//! or queued is spilled. Each record ends delivered, spilled, rejected, or counted lost
//! (only when nothing could be written), and [`SinkReport`] says which.

pub mod files;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record as FirehoseRecord;
use aws_sdk_firehose::Client;
use retry::{GaveUp, Policy, Schedule, Stop, Timeouts, Verdict};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::record::{Record, Stats};
use files::{AppendError, LineFile};

/// Most records in one `PutRecordBatch` call.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Most bytes of data in one `PutRecordBatch` call.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest record Firehose accepts (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// Timeouts of the Firehose client: 5 s to connect, 30 s of silence, 60 s per call.
pub const TIMEOUTS: Timeouts = Timeouts::DEFAULT;

/// Settings of the sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Delivery stream name.
    pub stream: String,
    /// Send a partial batch after waiting this long for more records.
    pub linger: Duration,
    /// Waits between retries (doubling, full jitter).
    pub backoff: Schedule,
    /// Spill a batch that could not be delivered for this long.
    pub spill_after: Duration,
    /// Where undeliverable records go (NDJSON; `producer replay` sends them).
    pub spill_path: PathBuf,
    /// The spill file's cap in bytes.
    pub spill_max_bytes: u64,
    /// Where records Firehose will never take go.
    pub rejects_path: PathBuf,
    /// How long a failed write to those files is retried.
    pub write_retry: Duration,
    /// Told each accepted record's id and when it was read (the local stream measures
    /// freshness from there).
    pub on_accepted: Option<OnAccepted>,
}

/// What the hook is told: `(record id, read ms)`.
pub type AcceptedFn = dyn Fn(&str, i64) + Send + Sync;

/// A hook told `(record id, read ms)` for every record Firehose accepts.
#[derive(Clone)]
pub struct OnAccepted(pub Arc<AcceptedFn>);

impl std::fmt::Debug for OnAccepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnAccepted(..)")
    }
}

impl SinkConfig {
    /// Defaults for a stream: 200 ms linger, 100 ms–10 s backoff, spill after 5 minutes
    /// into a spill file of at most 1 GiB, writes retried for 30 s.
    pub fn new(stream: impl Into<String>) -> Self {
        SinkConfig {
            stream: stream.into(),
            linger: Duration::from_millis(200),
            backoff: Schedule::new(Duration::from_millis(100), Duration::from_secs(10)),
            spill_after: Duration::from_secs(300),
            spill_path: PathBuf::from("producer-spill.ndjson"),
            spill_max_bytes: 1 << 30,
            rejects_path: PathBuf::from("producer-rejects.ndjson"),
            write_retry: Duration::from_secs(30),
            on_accepted: None,
        }
    }
}

/// Where a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Firehose accepted it.
    Delivered,
    /// In the spill file.
    Spilled,
    /// In the rejects file.
    Rejected,
    /// Nowhere: counted in [`SinkReport::lost`].
    Lost,
}

/// What the sink did, beyond the live [`Stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Records delivered per rule tag.
    pub delivered_per_tag: BTreeMap<String, u64>,
    /// Records lost, per cause.
    pub lost: BTreeMap<String, u64>,
    /// A failure that ends the run (the stream refused the calls as a whole).
    pub fatal: Option<String>,
}

/// Whether a failed `PutRecordBatch` is worth retrying: throttling, server-side errors,
/// transport errors and malformed answers.
fn transient(code: Option<&str>, status: Option<u16>) -> bool {
    const CODES: [&str; 5] = [
        "ServiceUnavailableException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "InternalServerError",
    ];
    retry::classify::transient_aws(code, status, &CODES)
}

/// Why one call failed.
#[derive(Debug, Clone)]
struct CallError(String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sink task.
pub struct Sink {
    client: Client,
    config: SinkConfig,
    stats: Arc<Stats>,
    spill: LineFile,
    rejects: LineFile,
    /// Firehose failed a whole batch for `spill_after`: try once, then spill.
    spilling: bool,
    report: SinkReport,
}

impl Sink {
    /// A sink writing to `config.stream` through `client`.
    pub fn new(client: Client, config: SinkConfig, stats: Arc<Stats>) -> Self {
        Sink {
            client,
            spill: LineFile::new(
                config.spill_path.clone(),
                Some(config.spill_max_bytes),
                config.write_retry,
            ),
            rejects: LineFile::new(config.rejects_path.clone(), None, config.write_retry),
            config,
            stats,
            spilling: false,
            report: SinkReport::default(),
        }
    }

    /// Runs until the queue is closed and drained; after each batch, calls `settled`
    /// with its records and where they ended. `grace` ends retries (a shutdown).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Record>,
        grace: Stop,
        mut settled: impl FnMut(&[&Record], Fate),
    ) -> SinkReport {
        let mut buf: Vec<Record> = Vec::with_capacity(MAX_BATCH_RECORDS);
        let mut bytes = 0usize;
        let mut open = true;
        while open || !buf.is_empty() {
            // Fill a batch: until full, the linger time passes, or the queue closes.
            let linger_end = Instant::now() + self.config.linger;
            while open && buf.len() < MAX_BATCH_RECORDS {
                let wait = linger_end.saturating_duration_since(Instant::now());
                let next = if buf.is_empty() {
                    rx.recv().await
                } else {
                    match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => break,
                    }
                };
                let Some(record) = next else {
                    open = false;
                    break;
                };
                if record.data.len() > MAX_RECORD_BYTES {
                    let reason = format!(
                        "record of {} bytes is over Firehose's {MAX_RECORD_BYTES}-byte limit",
                        record.data.len()
                    );
                    self.reject(&[(&record, reason)], &mut settled).await;
                    continue;
                }
                if bytes + record.data.len() > MAX_BATCH_BYTES {
                    self.send(&buf, &grace, &mut settled).await;
                    buf.clear();
                    bytes = 0;
                }
                bytes += record.data.len();
                buf.push(record);
            }
            if !buf.is_empty() {
                self.send(&buf, &grace, &mut settled).await;
                buf.clear();
                bytes = 0;
            }
        }
        self.report
    }

    fn lose(
        &mut self,
        records: &[&Record],
        cause: String,
        settled: &mut impl FnMut(&[&Record], Fate),
    ) {
        error!(records = records.len(), cause = %cause, "records lost: neither delivered nor written anywhere");
        Stats::add(&self.stats.lost, records.len() as u64);
        *self.report.lost.entry(cause).or_default() += records.len() as u64;
        settled(records, Fate::Lost);
    }

    async fn reject(
        &mut self,
        records: &[(&Record, String)],
        settled: &mut impl FnMut(&[&Record], Fate),
    ) {
        let lines: Vec<Vec<u8>> = records
            .iter()
            .map(|(r, reason)| {
                let data = match std::str::from_utf8(&r.data) {
                    Ok(text) => json!({"reason": reason, "bytes": r.data.len(), "data": text.trim_end_matches('\n')}),
                    Err(_) => json!({"reason": reason, "bytes": r.data.len(), "data_base64": firehose_backup::records::raw(&r.data)}),
                };
                let mut line = data.to_string().into_bytes();
                line.push(b'\n');
                line
            })
            .collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let plain: Vec<&Record> = records.iter().map(|(r, _)| *r).collect();
        match self.rejects.append(&refs, &Stop::never()).await {
            Ok(()) => {
                warn!(
                    records = records.len(),
                    reason = %records[0].1,
                    file = %self.config.rejects_path.display(),
                    "Firehose will never take these records: written to the rejects file"
                );
                Stats::add(&self.stats.rejected, records.len() as u64);
                settled(&plain, Fate::Rejected);
            }
            Err(e) => {
                warn!(error = %e, "cannot write the rejects file; spilling instead");
                self.spill(&plain, "rejected", &Stop::never(), settled)
                    .await;
            }
        }
    }

    /// Writes records to the spill file; `false` when it is full (nothing written).
    async fn spill(
        &mut self,
        records: &[&Record],
        why: &str,
        stop: &Stop,
        settled: &mut impl FnMut(&[&Record], Fate),
    ) -> bool {
        let lines: Vec<&[u8]> = records.iter().map(|r| r.data.as_slice()).collect();
        match self.spill.append(&lines, stop).await {
            Ok(()) => {
                Stats::add(&self.stats.spilled, records.len() as u64);
                warn!(
                    records = records.len(),
                    why,
                    file = %self.config.spill_path.display(),
                    "records spilled; send them later with `producer replay`"
                );
                settled(records, Fate::Spilled);
                true
            }
            Err(e @ AppendError::Full { .. }) => {
                warn!(error = %e, "spill file full: holding the records and trying Firehose again");
                false
            }
            Err(e) => {
                self.lose(records, format!("spill write failed: {e}"), settled);
                true
            }
        }
    }

    /// Delivers one batch: retries failed entries until accepted, or spills them.
    async fn send(
        &mut self,
        batch: &[Record],
        grace: &Stop,
        settled: &mut impl FnMut(&[&Record], Fate),
    ) {
        Stats::add(&self.stats.in_flight, batch.len() as u64);
        let pending: Mutex<Vec<usize>> = Mutex::new((0..batch.len()).collect());
        let invalid: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
        let mut delivered: Vec<usize> = Vec::new();
        loop {
            let policy = match self.spilling || self.report.fatal.is_some() {
                true => Policy::attempts(self.config.backoff, 1, TIMEOUTS.attempt),
                false => Policy::for_duration(
                    self.config.backoff,
                    self.config.spill_after,
                    TIMEOUTS.attempt,
                ),
            };
            let accepted: Mutex<Vec<usize>> = Mutex::new(Vec::new());
            let outcome = match self.report.fatal.is_some() {
                // The stream refused calls as a whole: send nothing more.
                true => Err(None),
                false => {
                    self.attempt_all(batch, &pending, &accepted, &invalid, policy, grace)
                        .await
                }
            };
            delivered.extend(take(&accepted).drain(..));
            let bad: Vec<(usize, String)> = take(&invalid).drain(..).collect();
            if !bad.is_empty() {
                let records: Vec<(&Record, String)> = bad
                    .iter()
                    .map(|(i, why)| (&batch[*i], why.clone()))
                    .collect();
                self.reject(&records, settled).await;
            }
            let left: Vec<usize> = take(&pending).clone();
            match outcome {
                Ok(()) => {
                    self.spilling = false;
                    break;
                }
                _ if left.is_empty() => break,
                Err(why) => {
                    if let Some(GaveUp::OutOfTime) = why {
                        self.spilling = true;
                    }
                    let why_text = match why {
                        Some(GaveUp::Stopped) => "stopping",
                        Some(GaveUp::Rejected) | None => "firehose refused the calls",
                        Some(_) => "firehose unreachable",
                    };
                    let records: Vec<&Record> = left.iter().map(|&i| &batch[i]).collect();
                    let stopping = grace.stopped();
                    if self
                        .spill(&records, why_text, &Stop::never(), settled)
                        .await
                    {
                        take(&pending).clear();
                        break;
                    }
                    if stopping {
                        self.lose(&records, "the spill file is full".into(), settled);
                        take(&pending).clear();
                        break;
                    }
                    // The spill file is full: keep the records and try again (this slows
                    // the source to Firehose's pace instead of growing the file).
                    self.spilling = false;
                }
            }
        }
        Stats::sub(&self.stats.in_flight, batch.len() as u64);
        let records: Vec<&Record> = delivered.iter().map(|&i| &batch[i]).collect();
        for r in &records {
            for t in &r.tags {
                *self.report.delivered_per_tag.entry(t.clone()).or_default() += 1;
            }
        }
        settled(&records, Fate::Delivered);
    }

    /// Calls `PutRecordBatch` for the pending entries until all are accepted or given up:
    /// `Ok` when nothing is pending, else why it stopped (`None`: refused as a whole).
    async fn attempt_all(
        &mut self,
        batch: &[Record],
        pending: &Mutex<Vec<usize>>,
        accepted: &Mutex<Vec<usize>>,
        invalid: &Mutex<Vec<(usize, String)>>,
        policy: Policy,
        grace: &Stop,
    ) -> Result<(), Option<GaveUp>> {
        let stats = Arc::clone(&self.stats);
        let client = &self.client;
        let stream = self.config.stream.as_str();
        let on_accepted = self.config.on_accepted.clone();
        let result = retry::run(policy, "firehose PutRecordBatch", grace, |attempt| {
            let on_accepted = on_accepted.clone();
            let now: Vec<usize> = take(pending).clone();
            Stats::add(&stats.calls, 1);
            if attempt > 1 {
                Stats::add(&stats.retried, now.len() as u64);
            }
            let entries: Vec<FirehoseRecord> = now
                .iter()
                .filter_map(|&i| {
                    FirehoseRecord::builder()
                        .data(Blob::new(batch[i].data.clone()))
                        .build()
                        .ok()
                })
                .collect();
            let call = client
                .put_record_batch()
                .delivery_stream_name(stream)
                .set_records(Some(entries))
                .send();
            let stats = Arc::clone(&stats);
            async move {
                match call.await {
                    Ok(out) => {
                        let answers = out.request_responses();
                        let mut again = Vec::new();
                        let mut ok = 0u64;
                        for (pos, &i) in now.iter().enumerate() {
                            match answers
                                .get(pos)
                                .map(|r| (r.error_code(), r.error_message()))
                            {
                                Some((None, _)) => {
                                    ok += 1;
                                    if let (Some(hook), Some(id)) =
                                        (&on_accepted, answers[pos].record_id())
                                    {
                                        (hook.0)(id, batch[i].read_ms);
                                    }
                                    take(accepted).push(i)
                                }
                                Some((Some("InvalidArgumentException"), message)) => take(invalid)
                                    .push((
                                        i,
                                        format!(
                                            "InvalidArgumentException: {}",
                                            message.unwrap_or("refused")
                                        ),
                                    )),
                                // Refused for now, or not confirmed (a short answer).
                                _ => again.push(i),
                            }
                        }
                        Stats::add(&stats.delivered, ok);
                        let left = again.len();
                        *take(pending) = again;
                        match left {
                            0 => Verdict::Done(()),
                            n => {
                                debug!(failed = n, "put_record_batch: some entries failed");
                                Verdict::Retry(CallError(format!("{n} entries refused for now")))
                            }
                        }
                    }
                    Err(err) => {
                        Stats::add(&stats.failed_calls, 1);
                        let status = err.raw_response().map(|r| r.status().as_u16());
                        let code = err.code().map(str::to_string);
                        let what = format!(
                            "{}{}: {}",
                            code.as_deref().unwrap_or(if status.is_some() {
                                "malformed answer"
                            } else {
                                "transport error"
                            }),
                            status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
                            aws_sdk_firehose::error::DisplayErrorContext(&err)
                        );
                        warn!(error = %what, attempt, "put_record_batch failed");
                        match transient(code.as_deref(), status) {
                            true => Verdict::Retry(CallError(what)),
                            false => Verdict::Reject(CallError(what)),
                        }
                    }
                }
            }
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(f) => {
                if f.gave_up == GaveUp::Rejected {
                    let why = f.last.map(|e| e.0).unwrap_or_default();
                    error!(error = %why, "firehose refused the call as a whole: spilling, and the run will end with an error");
                    self.report.fatal = Some(why);
                    Err(None)
                } else {
                    info!(gave_up = ?f.gave_up, attempts = f.attempts, "delivery given up for now: {f}");
                    Err(Some(f.gave_up))
                }
            }
        }
    }
}

/// The state an attempt changes (never contended: attempts run one at a time).
fn take<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The Firehose client: the default provider chain (static credentials for an endpoint on
/// this machine), the SDK's retries off (the sink retries per entry), and [`TIMEOUTS`].
pub async fn client(endpoint_url: Option<&str>) -> Client {
    let shared = retry::aws::config(endpoint_url, &TIMEOUTS).await;
    info!(
        endpoint = endpoint_url.unwrap_or("aws"),
        "firehose client ready"
    );
    Client::new(&shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_selection() {
        assert!(transient(Some("ServiceUnavailableException"), Some(400)));
        assert!(transient(None, Some(503)));
        assert!(transient(None, None), "a transport error");
        assert!(transient(None, Some(200)), "a malformed answer");
        assert!(!transient(Some("ResourceNotFoundException"), Some(400)));
        assert!(!transient(Some("InvalidArgumentException"), Some(400)));
    }
}
