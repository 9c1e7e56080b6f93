//! The Firehose sink: records in from a bounded queue, `PutRecordBatch` calls out,
//! nothing lost.
//!
//! Batches hold at most 500 records and 4 MiB. A record over 1,000 KiB is refused by
//! Firehose, so it goes to the rejects file with a warning instead. When a call
//! partly fails, only the entries whose response carries an error code are sent again;
//! throttling, `ServiceUnavailableException`, 5xx and transport errors retry the whole
//! call; both with capped exponential backoff and full jitter. A batch that cannot be
//! delivered for `spill_after` is written to the spill file (NDJSON, the format
//! `producer replay` reads), and later batches are tried once each and spilled at once
//! until Firehose answers again. The queue's bound makes a slow sink slow the source.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record as FirehoseRecord;
use aws_sdk_firehose::Client;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use transform::retry::Backoff;

/// Most records in one `PutRecordBatch` call.
pub const MAX_BATCH_RECORDS: usize = 500;
/// Most bytes of data in one `PutRecordBatch` call.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest record Firehose accepts (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;

/// One record on its way to Firehose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The payload, newline-terminated.
    pub data: Vec<u8>,
    /// Source position to confirm once delivered (Jetstream's `time_us`).
    pub cursor: Option<u64>,
    /// The post's rule tags, for the summary.
    pub tags: Vec<String>,
}

impl Record {
    /// A record for this payload; adds the trailing newline when missing.
    pub fn new(mut data: Vec<u8>) -> Self {
        if data.last() != Some(&b'\n') {
            data.push(b'\n');
        }
        Record {
            data,
            cursor: None,
            tags: Vec::new(),
        }
    }
}

/// Settings of the sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Delivery stream name.
    pub stream: String,
    /// Send a partial batch after waiting this long for more records.
    pub linger: Duration,
    /// Retry delays (doubling, full jitter).
    pub backoff: Backoff,
    /// Spill a batch that could not be delivered for this long.
    pub spill_after: Duration,
    /// Where undeliverable records go (NDJSON; `producer replay` sends them).
    pub spill_path: PathBuf,
    /// Where records over 1,000 KiB go (NDJSON).
    pub rejects_path: PathBuf,
}

impl SinkConfig {
    /// Defaults for a stream: 200 ms linger, 100 ms–10 s backoff, spill after 5 minutes.
    pub fn new(stream: impl Into<String>) -> Self {
        SinkConfig {
            stream: stream.into(),
            linger: Duration::from_millis(200),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            spill_after: Duration::from_secs(300),
            spill_path: PathBuf::from("producer-spill.ndjson"),
            rejects_path: PathBuf::from("producer-rejects.ndjson"),
        }
    }
}

/// Live counters shared by the sources, the sink and the progress line.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records the sources produced.
    pub received: AtomicU64,
    /// Records Firehose accepted.
    pub delivered: AtomicU64,
    /// Entries sent again after a failure.
    pub retried: AtomicU64,
    /// Records over 1,000 KiB, written to the rejects file.
    pub rejected: AtomicU64,
    /// Records written to the spill file.
    pub spilled: AtomicU64,
    /// `PutRecordBatch` calls made.
    pub calls: AtomicU64,
    /// Calls that failed as a whole.
    pub failed_calls: AtomicU64,
    /// Records in the batch being sent.
    pub in_flight: AtomicU64,
    /// Source-specific: posts seen but not forwarded (no rule matched, not a post).
    pub skipped: AtomicU64,
    /// Source-specific: reconnects.
    pub reconnects: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Whether a failed `PutRecordBatch` is worth retrying: throttling, server-side and
/// transport errors.
fn retryable(code: Option<&str>, status: Option<u16>) -> bool {
    const CODES: [&str; 5] = [
        "ServiceUnavailableException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "InternalServerError",
    ];
    transform::retry::retryable(code, status, &CODES)
}

/// Appends records to an NDJSON file (each record is one line already).
fn append(path: &PathBuf, records: &[&Record]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for r in records {
        f.write_all(&r.data)?;
    }
    f.flush()
}

/// The sink task.
pub struct Sink {
    client: Client,
    config: SinkConfig,
    stats: Arc<Stats>,
    spilling: bool,
}

impl Sink {
    /// A sink writing to `config.stream` through `client`.
    pub fn new(client: Client, config: SinkConfig, stats: Arc<Stats>) -> Self {
        Sink {
            client,
            config,
            stats,
            spilling: false,
        }
    }

    /// Runs until the queue is closed and drained; after each batch, calls `delivered`
    /// with the records of it that Firehose accepted (not the spilled ones), in order.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Record>,
        mut delivered: impl FnMut(&[&Record]),
    ) {
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
                    self.reject(&record);
                    continue;
                }
                if bytes + record.data.len() > MAX_BATCH_BYTES {
                    self.send(&buf, &mut delivered).await;
                    buf.clear();
                    bytes = 0;
                }
                bytes += record.data.len();
                buf.push(record);
            }
            if !buf.is_empty() {
                self.send(&buf, &mut delivered).await;
                buf.clear();
                bytes = 0;
            }
        }
    }

    fn reject(&self, record: &Record) {
        warn!(
            bytes = record.data.len(),
            limit = MAX_RECORD_BYTES,
            file = %self.config.rejects_path.display(),
            "record over Firehose's 1,000 KiB limit: written to the rejects file"
        );
        match append(&self.config.rejects_path, &[record]) {
            Ok(()) => Stats::add(&self.stats.rejected, 1),
            Err(err) => {
                warn!(%err, "cannot write the rejects file; spilling instead");
                self.spill(&[record]);
            }
        }
    }

    fn spill(&self, records: &[&Record]) {
        match append(&self.config.spill_path, records) {
            Ok(()) => {
                Stats::add(&self.stats.spilled, records.len() as u64);
                warn!(
                    records = records.len(),
                    file = %self.config.spill_path.display(),
                    "firehose unreachable: records spilled; send them later with `producer replay`"
                );
            }
            // Nothing else can hold them: say so loudly, with the count.
            Err(err) => {
                tracing::error!(records = records.len(), %err, "cannot write the spill file: records lost")
            }
        }
    }

    /// Delivers one batch: retries failed entries until accepted, or spills them.
    async fn send(&mut self, batch: &[Record], delivered: &mut impl FnMut(&[&Record])) {
        Stats::add(&self.stats.in_flight, batch.len() as u64);
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut spilled: Vec<usize> = Vec::new();
        let started = Instant::now();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            attempt += 1;
            Stats::add(&self.stats.calls, 1);
            if attempt > 1 {
                Stats::add(&self.stats.retried, pending.len() as u64);
            }
            let entries: Vec<FirehoseRecord> = pending
                .iter()
                .filter_map(|&i| {
                    FirehoseRecord::builder()
                        .data(Blob::new(batch[i].data.clone()))
                        .build()
                        .ok()
                })
                .collect();
            let result = self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.config.stream)
                .set_records(Some(entries))
                .send()
                .await;
            let permanent = match result {
                Ok(out) => {
                    let failed: Vec<usize> = out
                        .request_responses()
                        .iter()
                        .zip(&pending)
                        .filter(|(r, _)| r.error_code().is_some())
                        .map(|(_, &i)| i)
                        .collect();
                    // A response shorter than the request leaves the rest unconfirmed.
                    let unconfirmed = pending.iter().skip(out.request_responses().len()).copied();
                    let failed: Vec<usize> = failed.into_iter().chain(unconfirmed).collect();
                    let accepted = pending.len() - failed.len();
                    Stats::add(&self.stats.delivered, accepted as u64);
                    if !failed.is_empty() {
                        debug!(
                            failed = failed.len(),
                            "put_record_batch: some entries failed"
                        );
                    }
                    pending = failed;
                    if pending.is_empty() {
                        self.spilling = false;
                    }
                    false
                }
                Err(err) => {
                    Stats::add(&self.stats.failed_calls, 1);
                    let status = err.raw_response().map(|r| r.status().as_u16());
                    let code = err.code().map(str::to_string);
                    warn!(
                        code = code.as_deref().unwrap_or("transport error"),
                        status, attempt, "put_record_batch failed"
                    );
                    !retryable(code.as_deref(), status)
                }
            };
            if pending.is_empty() {
                break;
            }
            if permanent || self.spilling || started.elapsed() >= self.config.spill_after {
                self.spilling = true;
                let records: Vec<&Record> = pending.iter().map(|&i| &batch[i]).collect();
                self.spill(&records);
                spilled = std::mem::take(&mut pending);
                break;
            }
            let delay = self.config.backoff.delay(attempt);
            tokio::time::sleep(
                delay.min(self.config.spill_after.saturating_sub(started.elapsed())),
            )
            .await;
        }
        self.stats
            .in_flight
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        let accepted: Vec<&Record> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| !spilled.contains(i))
            .map(|(_, r)| r)
            .collect();
        delivered(&accepted);
    }
}

/// Builds the Firehose client from the default provider chain (static credentials for
/// an endpoint on this machine), with the SDK's retries off: the sink retries per entry.
pub async fn client(endpoint_url: Option<&str>) -> Client {
    let shared = crate::local::shared_config(endpoint_url).await;
    let config = aws_sdk_firehose::config::Builder::from(&shared)
        .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
        .build();
    info!(
        endpoint = endpoint_url.unwrap_or("aws"),
        "firehose client ready"
    );
    Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_newline_terminated_once() {
        assert_eq!(Record::new(b"{}".to_vec()).data, b"{}\n");
        assert_eq!(Record::new(b"{}\n".to_vec()).data, b"{}\n");
    }

    #[test]
    fn retry_selection() {
        assert!(retryable(Some("ServiceUnavailableException"), Some(400)));
        assert!(retryable(None, Some(503)));
        assert!(retryable(None, None));
        assert!(!retryable(Some("ResourceNotFoundException"), Some(400)));
        assert!(!retryable(Some("InvalidArgumentException"), Some(400)));
    }
}
