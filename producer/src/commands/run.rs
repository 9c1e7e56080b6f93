//! One run: a source into the sink (and, with `--local`, the local delivery stream behind
//! it) until the source ends or a signal. The first Ctrl-C / SIGTERM stops reading and
//! keeps delivering for the grace period (`--grace-secs`), then spills what is still in
//! flight and exits 0; a second signal spills at once. The run ends with the summary, and
//! exits non-zero when a record was lost, Firehose refused the calls, or the local stream
//! could not deliver nor back up something.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use producer::progress;
use producer::record::{Record, Stats};
use producer::sink::{self, Fate, Sink, SinkConfig};
use retry::Stop;
use tokio::sync::{mpsc, watch};

use crate::cli::SinkArgs;

/// Runs `source` into the sink; `settled` hears where each batch's records ended.
pub async fn pipeline<S, F, Fut>(args: SinkArgs, settled: S, source: F) -> Result<()>
where
    S: FnMut(&[&Record], Fate),
    F: FnOnce(mpsc::Sender<Record>, Arc<Stats>, watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<(), producer::source::SourceError>> + Send + 'static,
{
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(args.queue.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (grace_tx, grace_rx) = watch::channel(false);
    let grace = Duration::from_secs(args.grace_secs);

    #[cfg(feature = "local")]
    let local = match args.local.local {
        true => Some(
            args.local
                .args
                .start(&args.stream)
                .await
                .context("while starting the local delivery stream")?,
        ),
        false => None,
    };
    #[cfg(feature = "local")]
    let endpoint = local
        .as_ref()
        .map(|l| l.url.clone())
        .or(args.firehose_endpoint_url.clone());
    #[cfg(not(feature = "local"))]
    let endpoint = args.firehose_endpoint_url.clone();
    #[cfg(feature = "local")]
    let page = match (&local, args.local.dashboard) {
        (Some(stream), true) => Some(super::dashboard::live_page(stream, &args.local).await?),
        _ => None,
    };

    let signals = {
        let (stop_tx, grace_tx) = (stop_tx, grace_tx);
        tokio::spawn(async move {
            signal().await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "stopping: reading no more, delivering what is queued"
            );
            let _ = stop_tx.send(true);
            tokio::select! {
                _ = tokio::time::sleep(grace) => tracing::warn!("grace period over: spilling what is still in flight"),
                _ = signal() => tracing::warn!("second signal: spilling what is in flight now"),
            }
            let _ = grace_tx.send(true);
            // A third signal: nothing more to wait for.
            signal().await;
            std::process::exit(130);
        })
    };
    let client = sink::client(endpoint.as_deref()).await;
    let config = SinkConfig {
        spill_after: Duration::from_secs(args.spill_after_secs),
        spill_path: args.spill_file.clone(),
        spill_max_bytes: args.spill_max_mb.saturating_mul(1 << 20),
        rejects_path: args.rejects_file.clone(),
        write_retry: Duration::from_secs(args.spill_retry_secs),
        ..SinkConfig::new(&args.stream)
    };
    #[cfg(feature = "local")]
    let config = match &local {
        // In-process, the stream measures freshness from when each record was read.
        Some(stream) => {
            let live = stream.live();
            SinkConfig {
                on_accepted: Some(sink::OnAccepted(Arc::new(move |id, read_ms| {
                    live.note_read(id, read_ms)
                }))),
                ..config
            }
        }
        None => config,
    };
    let (done_tx, done_rx) = watch::channel(false);
    let progress_task = tokio::spawn(progress::report(Arc::clone(&stats), done_rx));
    let signaled = stop_rx.clone();
    let source_task = tokio::spawn(source(tx, Arc::clone(&stats), stop_rx));
    let report = Sink::new(client, config, Arc::clone(&stats))
        .run(rx, Stop::on(grace_rx.clone()), settled)
        .await;
    let source_result = source_task.await;
    let _ = done_tx.send(true);
    let _ = progress_task.await;

    #[cfg(feature = "local")]
    let local_kept = match local {
        Some(local) => {
            // Without a signal the retry duration governs; after one, the grace period.
            let left = match (*signaled.borrow(), *grace_rx.borrow()) {
                (_, true) => Duration::ZERO,
                (true, false) => grace,
                (false, false) => Duration::from_secs(365 * 24 * 3600),
            };
            let summary = local.finish(left).await?;
            eprint!("{}", summary.table());
            summary.kept().values().sum::<u64>()
        }
        None => 0,
    };
    #[cfg(not(feature = "local"))]
    let local_kept = 0u64;
    signals.abort();

    eprint!(
        "{}",
        progress::summary(
            &stats,
            &report,
            started.elapsed(),
            &args.spill_file.display().to_string(),
            &args.rejects_file.display().to_string()
        )
    );
    source_result.context("the source task failed")??;
    let lost: u64 = report.lost.values().sum();
    anyhow::ensure!(
        lost == 0,
        "{lost} records were lost ({}); see the summary",
        report
            .lost
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(fatal) = &report.fatal {
        anyhow::bail!(
            "firehose refused the calls ({fatal}); the records are in {}",
            args.spill_file.display()
        );
    }
    anyhow::ensure!(
        local_kept == 0,
        "the local stream could not deliver nor back up {local_kept} records; they are in its journal and go first on its next start"
    );
    #[cfg(feature = "local")]
    if let Some(page) = page {
        eprintln!("\ndashboard: {} (serving until Ctrl-C)", page.url);
        signal().await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
