//! A local delivery stream: what Amazon Data Firehose does for this pipeline, on one
//! machine. Its only contract with the producer is Firehose's wire protocol.
//!
//! It serves `PutRecord` / `PutRecordBatch` on 127.0.0.1 ([`wire`]), keeps every record
//! it acknowledges in a journal on disk until its fate is final ([`journal`]; after a
//! crash the next start delivers what was left), buffers records for the processor by
//! size and interval hints ([`buffer`]), invokes the processor per buffer
//! ([`processor`]: the transform in-process, or a Lambda through the Invoke API) and
//! checks its answer as Firehose does, buffers `Ok` documents for the destination and
//! delivers them ([`destination`]), and writes failures to the backup as Firehose writes
//! them (crate `firehose-backup`). The stages ([`stages`]) count what they do; the
//! [`LocalSummary`] says where every record went: indexed, dropped by the policy, backed
//! up, or kept in the journal.

pub mod buffer;
pub mod cli;
pub mod config;
pub mod destination;
mod error;
pub mod journal;
pub mod live;
pub mod processor;
pub mod spikes;
pub mod stages;
pub mod summary;
pub mod wire;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firehose_backup::Writer;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use retry::Stop;
use tokio::sync::{mpsc, watch};
use tracing::info;

pub use config::{BackupMode, LocalConfig, Rotation};
pub use destination::Destination;
pub use error::LocalError;
pub use processor::Processor;
pub use summary::LocalSummary;

use journal::{Journal, SEGMENT_RECORDS};
use stages::Stops;
use wire::{Arrived, RecordIds, Wire};

/// Records waiting for the processor; a full queue answers `ServiceUnavailableException`.
pub const QUEUE_RECORDS: usize = 100_000;

/// Processed batches waiting for the destination.
pub const QUEUE_BATCHES: usize = 256;

/// A running local delivery stream.
pub struct LocalStream {
    /// `http://127.0.0.1:PORT`: the Firehose endpoint to give the producer.
    pub url: String,
    stop_server: Option<tokio::sync::oneshot::Sender<()>>,
    wire: Arc<Wire>,
    pipeline: tokio::task::JoinHandle<(summary::Processed, summary::Delivered)>,
    journal: Journal,
    recovered: u64,
    grace: watch::Sender<bool>,
    abort: watch::Sender<bool>,
    store: Option<Arc<search_store::Store>>,
}

impl LocalStream {
    /// Starts the stream on a free port of 127.0.0.1: opens the journal (records left by
    /// an earlier stop go first), applies the index template, then listens.
    pub async fn start(
        config: LocalConfig,
        processor: Processor,
        destination: Destination,
        backup: Writer,
    ) -> Result<Self, LocalError> {
        config.validate().map_err(LocalError::Config)?;
        let (journal, recovered) =
            Journal::open(&config.journal, SEGMENT_RECORDS).map_err(|source| {
                LocalError::Journal {
                    path: config.journal.display().to_string(),
                    source,
                }
            })?;
        let (grace, grace_rx) = watch::channel(false);
        let (abort, abort_rx) = watch::channel(false);
        let stops = Stops {
            grace: Stop::on(grace_rx),
            abort: Stop::on(abort_rx),
        };
        destination.prepare(&config.index, &stops.abort).await?;
        let store = match &destination {
            Destination::Store { store, .. } => Some(Arc::clone(store)),
            _ => None,
        };
        let live = Arc::new(live::Live::default());
        live.running.store(true, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel::<Arrived>(QUEUE_RECORDS);
        // Processed batches on their way to the destination (each up to a processor buffer).
        let (doc_tx, doc_rx) = mpsc::channel(QUEUE_BATCHES);
        let backup = Arc::new(backup);
        let recovered_count = recovered.len() as u64;
        let recovered: Vec<Arrived> = recovered
            .into_iter()
            .map(|(segment, e)| Arrived {
                record_id: e.record_id,
                arrival_ms: e.arrival_ms,
                data: e.data,
                segment,
            })
            .collect();
        let pipeline = {
            let (config, journal, stops, backup, live) = (
                config.clone(),
                journal.clone(),
                stops.clone(),
                Arc::clone(&backup),
                Arc::clone(&live),
            );
            tokio::spawn(async move {
                let delivery = tokio::spawn(stages::deliver(
                    config.clone(),
                    destination,
                    Arc::clone(&backup),
                    doc_rx,
                    journal.clone(),
                    stops.clone(),
                    Arc::clone(&live),
                ));
                let processed = stages::process(
                    config, processor, recovered, rx, doc_tx, backup, journal, stops, live,
                )
                .await;
                let delivered = delivery.await.unwrap_or_default();
                (processed, delivered)
            })
        };
        let wire = Arc::new(Wire {
            stream: config.stream.clone(),
            journal: journal.clone(),
            queue: Mutex::new(Some(tx)),
            ids: RecordIds::new(),
            live: Arc::clone(&live),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(LocalError::Listen)?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(LocalError::Listen)?
        );
        let (stop_server, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&wire);
        tokio::spawn(async move {
            loop {
                let (conn, _) = tokio::select! {
                    _ = &mut stopped => break,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                let wire = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = service_fn(move |req| wire::handle(req, Arc::clone(&wire)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), service)
                        .await;
                });
            }
        });
        info!(%url, recovered = recovered_count, "local delivery stream listening");
        Ok(LocalStream {
            url,
            stop_server: Some(stop_server),
            wire,
            pipeline,
            journal,
            recovered: recovered_count,
            grace,
            abort,
            store,
        })
    }

    /// The live counters and freshness (for the dashboard page, and for the producer to
    /// note when it read each record).
    pub fn live(&self) -> Arc<live::Live> {
        Arc::clone(&self.wire.live)
    }

    /// The embedded store, when that is the destination.
    pub fn store(&self) -> Option<Arc<search_store::Store>> {
        self.store.clone()
    }

    /// Ends retries now: what is failing goes to the backup, and what cannot be backed up
    /// stays in the journal (a second Ctrl-C).
    pub fn abort(&self) {
        let _ = self.grace.send(true);
        let _ = self.abort.send(true);
    }

    /// Stops accepting, drains every buffer, and returns the summary. Deliveries still
    /// failing after `grace` are backed up instead of retried for the whole retry duration.
    pub async fn finish(mut self, grace: Duration) -> Result<LocalSummary, LocalError> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        // New calls are refused; the queue closes when the calls in flight are answered.
        lock(&self.wire.queue).take();
        let pipeline = self.pipeline;
        tokio::pin!(pipeline);
        let (processed, delivered) = tokio::select! {
            done = &mut pipeline => done.map_err(|e| LocalError::Pipeline(e.to_string()))?,
            _ = tokio::time::sleep(grace) => {
                info!(grace_secs = grace.as_secs(), "grace period over: what still fails goes to the backup");
                let _ = self.grace.send(true);
                pipeline.await.map_err(|e| LocalError::Pipeline(e.to_string()))?
            }
        };
        let remaining = self.journal.close().await;
        self.wire.live.running.store(false, Ordering::Relaxed);
        Ok(LocalSummary {
            freshness: self.wire.live.freshness(),
            spikes: self.wire.live.spikes(),
            received: processed.records.saturating_sub(self.recovered),
            recovered: self.recovered,
            processed,
            delivered,
            journaled: remaining.records,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records acknowledged so far.
pub fn acknowledged(stream: &LocalStream) -> u64 {
    stream.wire.live.received.load(Ordering::Relaxed)
}
