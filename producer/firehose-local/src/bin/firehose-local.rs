//! `firehose-local`: a local delivery stream on its own, for any Firehose client: prints
//! `{"url": "http://127.0.0.1:PORT"}` once listening, runs until Ctrl-C or SIGTERM, then
//! drains (a second signal ends retries at once) and prints what happened. Exits non-zero
//! when records could not be delivered nor backed up (they stay in the journal).

use std::time::Duration;

use clap::Parser;
use firehose_local::cli::LocalArgs;

/// Serve Firehose's PutRecord / PutRecordBatch on 127.0.0.1 and do what Firehose does
/// with the records: the transform, OpenSearch (or files), the S3 backup (or a directory).
#[derive(Parser)]
#[command(name = "firehose-local", version)]
struct Cli {
    /// Delivery stream name clients send to.
    #[arg(long, env = "FIREHOSE_STREAM", default_value = "social-posts")]
    stream: String,
    /// Seconds to keep delivering after a stop signal before backing up what still fails.
    #[arg(long, env = "LOCAL_GRACE_SECS", default_value_t = 30)]
    grace_secs: u64,
    #[command(flatten)]
    local: LocalArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let stream = cli.local.start(&cli.stream).await?;
    println!("{}", serde_json::json!({ "url": stream.url }));
    signal().await;
    tracing::info!("stopping: accepting no more, delivering what is buffered");
    let summary = {
        let finishing = stream.finish(Duration::from_secs(cli.grace_secs));
        tokio::pin!(finishing);
        tokio::select! {
            s = &mut finishing => s?,
            _ = signal() => {
                tracing::warn!("second signal: ending retries now");
                // The stream cannot be reached from here any more; its grace ends at once
                // by dropping the wait (the process exits; the journal keeps the rest).
                std::process::exit(2);
            }
        }
    };
    eprint!("{}", summary.table());
    let kept: u64 = summary.kept().values().sum();
    anyhow::ensure!(
        kept == 0,
        "{kept} records were neither delivered nor backed up; they are in the journal and go first on the next start"
    );
    Ok(())
}

async fn signal() {
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
