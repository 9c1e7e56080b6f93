//! The `producer` command: wires configuration, the Firehose client, a source, the sink,
//! signals and the progress line; the work is in the library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use producer::local::backup::{Backup, BackupMode, Target};
use producer::local::destination::{Destination, Rotation};
use producer::local::processor::Processor;
use producer::local::{LocalConfig, LocalStream};
use producer::rules::{LocalMatcher, RuleSet};
use producer::sink::{Record, Sink, SinkConfig, Stats};
use producer::x::{plan, Sleeper, XClient};
use producer::{file, jetstream, progress, sink};
use tokio::sync::{mpsc, watch};

/// Read live post streams into an Amazon Kinesis Data Firehose delivery stream.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where records go.
#[derive(Args, Clone)]
struct SinkArgs {
    /// Firehose delivery stream name.
    #[arg(long, env = "FIREHOSE_STREAM", default_value = "social-posts")]
    stream: String,
    /// Firehose endpoint URL (a local delivery stream, a VPC endpoint); default AWS's.
    #[arg(long, env = "FIREHOSE_ENDPOINT_URL")]
    firehose_endpoint_url: Option<String>,
    /// Where records go when Firehose stays unreachable (send them with `producer replay`).
    #[arg(
        long,
        env = "PRODUCER_SPILL_FILE",
        default_value = "producer-spill.ndjson"
    )]
    spill_file: PathBuf,
    /// Where records over Firehose's 1,000 KiB limit go.
    #[arg(
        long,
        env = "PRODUCER_REJECTS_FILE",
        default_value = "producer-rejects.ndjson"
    )]
    rejects_file: PathBuf,
    /// Seconds a batch may keep failing before it is spilled.
    #[arg(long, env = "PRODUCER_SPILL_AFTER_SECS", default_value_t = 300)]
    spill_after_secs: u64,
    /// Records queued between source and sink; a full queue slows the source.
    #[arg(long, env = "PRODUCER_QUEUE", default_value_t = 10_000)]
    queue: usize,
    #[command(flatten)]
    local: LocalArgs,
}

/// The local delivery stream (`--local`): Firehose's part, played on this machine.
#[derive(Args, Clone)]
struct LocalArgs {
    /// Run a local delivery stream in this process and send to it (no AWS account needed).
    #[arg(long)]
    local: bool,
    /// Without servers: documents go to OUT/opensearch/INDEX.ndjson, backups to OUT/s3/.
    #[arg(long, env = "LOCAL_OUT", default_value = "local-out")]
    out: PathBuf,
    /// OpenSearch URL for the local stream's destination (instead of OUT/opensearch).
    #[arg(long, env = "OPENSEARCH_URL")]
    opensearch_url: Option<String>,
    /// Index name, before rotation.
    #[arg(long, env = "OPENSEARCH_INDEX", default_value = "social-posts")]
    index: String,
    /// Index rotation: NoRotation, OneHour, OneDay, OneWeek, OneMonth.
    #[arg(long, default_value = "OneDay")]
    rotation: Rotation,
    /// Seconds to retry OpenSearch 429 / 5xx / connection failures before backing up.
    #[arg(long, default_value_t = 300)]
    retry_secs: u64,
    /// S3 endpoint for the backup (an S3-compatible server); with --s3-bucket.
    #[arg(long, env = "S3_ENDPOINT_URL")]
    s3_endpoint: Option<String>,
    /// S3 bucket for the backup (instead of OUT/s3).
    #[arg(long, env = "S3_BUCKET")]
    s3_bucket: Option<String>,
    /// Backup every document too (AllDocuments), not only failures (FailedDocumentsOnly).
    #[arg(long)]
    backup_all_documents: bool,
    /// Lambda Invoke API endpoint (e.g. `cargo lambda watch`); default: the transform in-process.
    #[arg(long, env = "LAMBDA_ENDPOINT_URL")]
    lambda_endpoint: Option<String>,
    /// Lambda function name, with --lambda-endpoint.
    #[arg(long, env = "LAMBDA_FUNCTION", default_value = "transform")]
    lambda_function: String,
    /// Processor buffer size hint, MB (0.2 to 3).
    #[arg(long, default_value_t = 1.0)]
    processor_buffer_mb: f64,
    /// Processor buffer interval hint, seconds (0 to 900).
    #[arg(long, default_value_t = 1)]
    processor_interval_secs: u64,
    /// Destination buffer size hint, MB (1 to 100).
    #[arg(long, default_value_t = 5.0)]
    buffer_mb: f64,
    /// Destination buffer interval hint, seconds (0 to 900).
    #[arg(long, default_value_t = 1)]
    buffer_interval_secs: u64,
}

/// The X API.
#[derive(Args, Clone)]
struct XArgs {
    /// X API bearer token (app-only).
    #[arg(long, env = "X_BEARER_TOKEN", hide_env_values = true)]
    bearer_token: String,
    /// X API base URL.
    #[arg(long, env = "X_API_URL", default_value = "https://api.x.com")]
    x_api_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Stream the X API v2 filtered stream (with the rules on the server) into Firehose.
    X {
        #[command(flatten)]
        x: XArgs,
        /// Seconds without a byte (keep-alives included) before the stream counts as stalled.
        #[arg(long, env = "X_STALL_SECS", default_value_t = 20)]
        stall_secs: u64,
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Manage the X filtered-stream rules.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Stream Bluesky posts matching the local rules (Jetstream, no account) into Firehose.
    Bluesky {
        /// Rules file (tags with keywords or a regex).
        #[arg(
            long,
            env = "PRODUCER_RULES",
            default_value = "producer/rules/cats-dogs.json"
        )]
        rules: PathBuf,
        /// Jetstream websocket URL.
        #[arg(long, env = "JETSTREAM_URL", default_value = jetstream::DEFAULT_URL)]
        jetstream_url: String,
        /// File holding the `time_us` of the last delivered post; a restart resumes there.
        #[arg(
            long,
            env = "JETSTREAM_CURSOR_FILE",
            default_value = "jetstream.cursor"
        )]
        cursor_file: PathBuf,
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Replay recorded posts (NDJSON, plain or gzip) into Firehose.
    File {
        /// The recording: one post payload per line.
        path: PathBuf,
        /// Lines per second (default: as fast as Firehose takes them).
        #[arg(long)]
        rate: Option<f64>,
        /// Start over at the end, until stopped.
        #[arg(long = "loop")]
        looping: bool,
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Inspect the failed records in the backup (S3 or the local stream's directory), and
    /// send processing-failed ones again.
    Failed {
        #[command(subcommand)]
        action: FailedAction,
    },
    /// Send a spill file (records Firehose could not take earlier) again.
    Replay {
        /// The spill file.
        path: PathBuf,
        #[command(flatten)]
        sink: SinkArgs,
    },
}

/// Where the backup to read is.
#[derive(Args, Clone)]
struct StoreArgs {
    /// The backup bucket; without it, --from-dir is read.
    #[arg(long, env = "BACKUP_S3_BUCKET")]
    from_s3_bucket: Option<String>,
    /// S3 endpoint of the backup bucket (an S3-compatible server); default AWS's.
    #[arg(long, env = "BACKUP_S3_ENDPOINT_URL")]
    from_s3_endpoint: Option<String>,
    /// The backup directory (the local stream's OUT/s3).
    #[arg(long, default_value = "local-out/s3")]
    from_dir: PathBuf,
}

// Parsed once per run; boxing the sink options would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum FailedAction {
    /// Count the failed records per prefix and error code.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print failed records as JSON lines, their data decoded.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// `processing-failed/` (records) or `AmazonOpenSearchService-failed/` (documents).
        #[arg(long, default_value = "processing-failed/")]
        prefix: String,
    },
    /// Send processing-failed records (their original bytes) to Firehose again.
    Replay {
        #[command(flatten)]
        store: StoreArgs,
        /// Only records under this prefix (and its YYYY/MM/DD/HH/ parts).
        #[arg(long, default_value = "processing-failed/")]
        prefix: String,
        #[command(flatten)]
        sink: SinkArgs,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// List the rules on the server.
    List {
        #[command(flatten)]
        x: XArgs,
    },
    /// Make the server's rules equal the file's: validate with dry_run, then add and
    /// delete only what changed.
    Sync {
        /// Rules file (tags with X queries in `value`).
        #[arg(
            long,
            env = "PRODUCER_RULES",
            default_value = "producer/rules/cats-dogs.json"
        )]
        rules: PathBuf,
        /// A rule as TAG=QUERY, instead of the file; repeat for more.
        #[arg(long = "rule", value_name = "TAG=QUERY")]
        rule: Vec<String>,
        #[command(flatten)]
        x: XArgs,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Rules { action } => rules(action).await,
        Command::X {
            x,
            stall_secs,
            sink,
        } => {
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?;
            let stall = Duration::from_secs(stall_secs);
            run(sink, None, move |tx, stats, stop| async move {
                client
                    .stream(tx, stats, stall, Sleeper::Real, stop)
                    .await
                    .map_err(anyhow::Error::from)
            })
            .await
        }
        Command::Bluesky {
            rules,
            jetstream_url,
            cursor_file,
            sink,
        } => {
            let set = RuleSet::load(&rules)?;
            let matcher = LocalMatcher::new(&set).map_err(anyhow::Error::msg)?;
            let cursor = jetstream::read_cursor(&cursor_file);
            if let Some(c) = cursor {
                tracing::info!(cursor = c, file = %cursor_file.display(), "resuming after the last delivered post");
            }
            run(sink, Some(cursor_file), move |tx, stats, stop| async move {
                jetstream::stream(
                    &jetstream_url,
                    matcher,
                    cursor,
                    tx,
                    stats,
                    Sleeper::Real,
                    stop,
                )
                .await
            })
            .await
        }
        Command::File {
            path,
            rate,
            looping,
            sink,
        } => {
            run(sink, None, move |tx, stats, stop| {
                file::replay(path, rate, looping, tx, stats, stop)
            })
            .await
        }
        Command::Failed { action } => failed(action).await,
        Command::Replay { path, sink } => {
            anyhow::ensure!(
                path != sink.spill_file,
                "replaying {} while spilling into it could loop; pass another --spill-file",
                path.display()
            );
            run(sink, None, move |tx, stats, stop| {
                file::replay(path, None, false, tx, stats, stop)
            })
            .await
        }
    }
}

async fn rules(action: RulesAction) -> Result<()> {
    match action {
        RulesAction::List { x } => {
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?;
            let rules = client.list_rules().await?;
            for r in &rules {
                println!("{}\t{}\t{}", r.id, r.tag.as_deref().unwrap_or("-"), r.value);
            }
            eprintln!("{} rules", rules.len());
        }
        RulesAction::Sync { rules, rule, x } => {
            let wanted = if rule.is_empty() {
                RuleSet::load(&rules)?.x_rules()
            } else {
                producer::rules::from_flags(&rule)
                    .map_err(anyhow::Error::msg)?
                    .x_rules()
            };
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?;
            let existing = client.list_rules().await?;
            let p = plan(&wanted, &existing);
            for (v, t) in &p.add {
                eprintln!("+ {t}\t{v}");
            }
            for r in &p.delete {
                eprintln!(
                    "- {}\t{}\t{}",
                    r.id,
                    r.tag.as_deref().unwrap_or("-"),
                    r.value
                );
            }
            client.apply(&p).await.context("while applying the rules")?;
            eprintln!(
                "rules sync: {} added, {} deleted, {} unchanged",
                p.add.len(),
                p.delete.len(),
                p.keep.len()
            );
        }
    }
    Ok(())
}

async fn store(args: &StoreArgs) -> producer::failed::Store {
    match &args.from_s3_bucket {
        Some(bucket) => producer::failed::Store::S3 {
            client: producer::local::s3_client(args.from_s3_endpoint.as_deref()).await,
            bucket: bucket.clone(),
        },
        None => producer::failed::Store::Dir(args.from_dir.clone()),
    }
}

async fn failed(action: FailedAction) -> Result<()> {
    use producer::failed::{show, summary};
    match action {
        FailedAction::List { store: args } => {
            let s = store(&args).await;
            let mut records = s.read("processing-failed/").await?;
            records.extend(s.read("AmazonOpenSearchService-failed/").await?);
            for ((prefix, code), n) in summary(&records) {
                println!("{prefix:<34} {code:<36} {n:>8}");
            }
            eprintln!("failed list: {} records", records.len());
        }
        FailedAction::Show {
            store: args,
            prefix,
        } => {
            let records = store(&args).await.read(&prefix).await?;
            for r in &records {
                println!("{}", show(r));
            }
            eprintln!("failed show: {} records under {prefix}", records.len());
        }
        FailedAction::Replay {
            store: args,
            prefix,
            sink,
        } => {
            anyhow::ensure!(
                prefix.starts_with("processing-failed"),
                "only processing-failed/ records are posts the producer can send again; \
                 {prefix} holds transformed documents (fix the mapping, then re-index them)"
            );
            let records = store(&args).await.read(&prefix).await?;
            eprintln!("failed replay: {} records under {prefix}", records.len());
            run(sink, None, move |tx, stats, stop| async move {
                for r in records {
                    if *stop.borrow() {
                        break;
                    }
                    let mut record = Record::new(r.data);
                    record.tags = file::tags(&record.data);
                    Stats::add(&stats.received, 1);
                    if tx.send(record).await.is_err() {
                        break;
                    }
                }
                Ok(())
            })
            .await?;
        }
    }
    Ok(())
}

/// Runs a source into the sink until it ends or Ctrl-C / SIGTERM; prints the summary.
async fn run<F, Fut>(args: SinkArgs, cursor_file: Option<PathBuf>, source: F) -> Result<()>
where
    F: FnOnce(mpsc::Sender<Record>, Arc<Stats>, watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(args.queue.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: reading no more, flushing what is queued");
        let _ = stop_tx.send(true);
    });

    let local = if args.local.local {
        Some(
            start_local(&args)
                .await
                .context("while starting the local delivery stream")?,
        )
    } else {
        None
    };
    let endpoint = local
        .as_ref()
        .map(|l| l.url.clone())
        .or(args.firehose_endpoint_url.clone());
    let client = sink::client(endpoint.as_deref()).await;
    let config = SinkConfig {
        spill_after: Duration::from_secs(args.spill_after_secs),
        spill_path: args.spill_file.clone(),
        rejects_path: args.rejects_file.clone(),
        ..SinkConfig::new(&args.stream)
    };
    let categories: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let counted = Arc::clone(&categories);
    let sink_task = tokio::spawn(Sink::new(client, config, Arc::clone(&stats)).run(
        rx,
        move |batch| {
            if let Ok(mut c) = counted.lock() {
                for r in batch {
                    for t in &r.tags {
                        *c.entry(t.clone()).or_default() += 1;
                    }
                }
            }
            if let (Some(path), Some(cursor)) =
                (&cursor_file, batch.iter().filter_map(|r| r.cursor).max())
            {
                if let Err(err) = jetstream::write_cursor(path, cursor) {
                    tracing::warn!(%err, "cannot write the cursor file");
                }
            }
        },
    ));
    let (done_tx, done_rx) = watch::channel(false);
    let progress_task = tokio::spawn(progress::report(Arc::clone(&stats), done_rx));

    let result = tokio::spawn(source(tx, Arc::clone(&stats), stop_rx)).await;
    sink_task.await.context("the sink task failed")?;
    let _ = done_tx.send(true);
    let _ = progress_task.await;
    let cats = categories.lock().map(|c| c.clone()).unwrap_or_default();
    if let Some(local) = local {
        let summary = local.finish().await?;
        eprint!("{}", summary.table());
    }
    eprint!(
        "{}",
        progress::summary(
            &stats,
            &cats,
            started.elapsed(),
            &args.spill_file.display().to_string(),
            &args.rejects_file.display().to_string()
        )
    );
    result.context("the source task failed")?
}

/// Builds and starts the local delivery stream from the options.
async fn start_local(args: &SinkArgs) -> Result<LocalStream> {
    let l = &args.local;
    let config = LocalConfig {
        stream: args.stream.clone(),
        processor_buffer_bytes: (l.processor_buffer_mb * 1e6) as usize,
        processor_interval: Duration::from_secs(l.processor_interval_secs),
        buffer_bytes: (l.buffer_mb * 1e6) as usize,
        buffer_interval: Duration::from_secs(l.buffer_interval_secs),
        index: l.index.clone(),
        rotation: l.rotation,
        backup_mode: if l.backup_all_documents {
            BackupMode::AllDocuments
        } else {
            BackupMode::FailedDocumentsOnly
        },
    };
    let processor = match &l.lambda_endpoint {
        Some(url) => Processor::Lambda {
            client: producer::local::lambda_client(url).await,
            function: l.lambda_function.clone(),
        },
        None => {
            let config = transform::Config::from_env()
                .context("while reading the transform's configuration")?;
            let analyzer = transform::Backend::from_config(&config).await;
            Processor::InProcess(Box::new(transform::Transformer::new(config, analyzer)))
        }
    };
    let destination = match &l.opensearch_url {
        Some(url) => Destination::opensearch(url, Duration::from_secs(l.retry_secs))?,
        None => Destination::Dir(l.out.join("opensearch")),
    };
    let target = match &l.s3_bucket {
        Some(bucket) => Target::S3 {
            client: producer::local::s3_client(l.s3_endpoint.as_deref()).await,
            bucket: bucket.clone(),
        },
        None => Target::Dir(l.out.join("s3")),
    };
    LocalStream::start(
        config,
        processor,
        destination,
        Backup::new(target, &args.stream),
    )
    .await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
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
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
