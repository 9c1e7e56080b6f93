//! The dashboard page (crate `dashboard-preview`): beside a `--local --dashboard` run,
//! live, over the run's embedded store (or its `--opensearch-url`), with the stream's
//! counts and freshness; `producer dashboard` over a finished run's store, or any
//! OpenSearch, until Ctrl-C; and `producer export`, the store as NDJSON per index.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use dashboard_preview::{saved, Backend, Dashboard, SavedObjects, Served};
use firehose_backup::{Store as Backup, OPENSEARCH_FAILED, PROCESSING_FAILED};
use firehose_local::LocalStream;
use search_store::{Mode, Store};
use serde_json::json;

use crate::cli::{LocalOptions, ViewArgs};

/// Serves the page beside a running local stream; prints its URL.
pub async fn live_page(stream: &LocalStream, options: &LocalOptions) -> Result<Served> {
    let backend = match (&options.args.opensearch_url, stream.store()) {
        (Some(url), _) => Backend::opensearch(url).map_err(anyhow::Error::msg)?,
        (None, Some(store)) => Backend::Embedded(store),
        (None, None) => anyhow::bail!(
            "--dashboard reads the embedded store or --opensearch-url; with --ndjson there is nothing to query"
        ),
    };
    let saved = SavedObjects::parse(saved::BUNDLED).map_err(anyhow::Error::msg)?;
    let live = stream.live();
    let status = Arc::new(move || live.status());
    let page = dashboard_preview::serve(
        Arc::new(Dashboard::new(saved, backend, Some(status))),
        options.dashboard_port,
    )
    .await
    .context("while starting the dashboard page")?;
    eprintln!("dashboard: {} (live while the stream runs)", page.url);
    Ok(page)
}

/// Records under a prefix of the backup, counted now.
async fn backed_up(backup: &Backup) -> u64 {
    let mut n = 0;
    for prefix in [PROCESSING_FAILED, OPENSEARCH_FAILED] {
        n += backup
            .read(prefix)
            .await
            .map(|r| r.len() as u64)
            .unwrap_or(0);
    }
    n
}

/// `producer dashboard`: serves the page over a store or an OpenSearch until Ctrl-C.
pub async fn serve_view(view: ViewArgs, port: u16) -> Result<()> {
    let saved = match &view.saved_objects {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            SavedObjects::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => SavedObjects::parse(saved::BUNDLED).map_err(anyhow::Error::msg)?,
    };
    let (backend, status): (Backend, Option<dashboard_preview::Status>) = match &view.opensearch_url
    {
        Some(url) => (Backend::opensearch(url).map_err(anyhow::Error::msg)?, None),
        None => {
            let store = Arc::new(Store::open(&view.out.join("store"), Mode::Read)?);
            // The backup is counted every few seconds (a run may still be writing it).
            let backup = Backup::Dir(view.out.join("s3"));
            let failed = Arc::new(AtomicU64::new(backed_up(&backup).await));
            let counter = Arc::clone(&failed);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    counter.store(backed_up(&backup).await, Ordering::Relaxed);
                }
            });
            let reader = Arc::clone(&store);
            let status: dashboard_preview::Status = Arc::new(move || {
                json!({"live": false, "outcomes": [
                    ["documents in the store", reader.count()],
                    ["backed up (failed)", failed.load(Ordering::Relaxed)],
                ]})
            });
            (Backend::Embedded(store), Some(status))
        }
    };
    let what = backend.describe();
    let page = dashboard_preview::serve(Arc::new(Dashboard::new(saved, backend, status)), port)
        .await
        .context("while starting the dashboard page")?;
    eprintln!("dashboard: {} ({what}; Ctrl-C to stop)", page.url);
    super::run::signal().await;
    eprintln!("dashboard stopped");
    Ok(())
}

/// `producer export`: the store's documents as `TO/INDEX.ndjson`.
pub fn export(out: &Path, to: &Path) -> Result<()> {
    let store = Store::open(&out.join("store"), Mode::Read)?;
    let files = store.export(to)?;
    let total: u64 = files.iter().map(|(_, n)| n).sum();
    for (name, n) in &files {
        eprintln!("  {:<40} {n:>10}", to.join(name).display());
    }
    eprintln!(
        "exported {total} documents into {} file(s) under {}",
        files.len(),
        to.display()
    );
    Ok(())
}
