//! The `producer` command line: every flag with its environment variable, the doc
//! comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The rules file every rules-reading command uses unless told (`PRODUCER_RULES`).
const DEFAULT_RULES: &str = "producer/rules/cats-dogs.json";

/// Read live post streams into an Amazon Data Firehose delivery stream.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The local delivery stream (`--local`): Firehose's part, played in this process.
#[cfg(feature = "local")]
#[derive(Args, Clone, Debug)]
pub struct LocalOptions {
    /// Run a local delivery stream in this process and send to it (no AWS account needed).
    #[arg(long)]
    pub local: bool,
    /// With --local: serve the dashboard page on 127.0.0.1, live while the stream runs,
    /// and keep serving after a finite run until Ctrl-C.
    #[arg(long, requires = "local")]
    pub dashboard: bool,
    /// The dashboard page's port (0: a free one).
    #[arg(long, env = "DASHBOARD_PORT", default_value_t = 0)]
    pub dashboard_port: u16,
    /// Its options.
    #[command(flatten)]
    pub args: firehose_local::cli::LocalArgs,
}

/// Where records go.
#[derive(Args, Clone, Debug)]
pub struct SinkArgs {
    /// Firehose delivery stream name.
    #[arg(long, env = "FIREHOSE_STREAM", default_value = "social-posts")]
    pub stream: String,
    /// Firehose endpoint URL (a local delivery stream, a VPC endpoint); default AWS's.
    #[arg(long, env = "FIREHOSE_ENDPOINT_URL")]
    pub firehose_endpoint_url: Option<String>,
    /// Where records go when Firehose stays unreachable (send them with `producer replay`).
    #[arg(
        long,
        env = "PRODUCER_SPILL_FILE",
        default_value = "producer-spill.ndjson"
    )]
    pub spill_file: PathBuf,
    /// The spill file's cap, MB: past it the source is slowed to what Firehose takes.
    #[arg(long, env = "PRODUCER_SPILL_MAX_MB", default_value_t = 1024)]
    pub spill_max_mb: u64,
    /// Where records Firehose will never take go (one JSON object per line, with the reason).
    #[arg(
        long,
        env = "PRODUCER_REJECTS_FILE",
        default_value = "producer-rejects.ndjson"
    )]
    pub rejects_file: PathBuf,
    /// Seconds a batch may keep failing before it is spilled.
    #[arg(long, env = "PRODUCER_SPILL_AFTER_SECS", default_value_t = 300)]
    pub spill_after_secs: u64,
    /// Seconds a failed write to the spill or rejects file is retried.
    #[arg(long, env = "PRODUCER_SPILL_RETRY_SECS", default_value_t = 30)]
    pub spill_retry_secs: u64,
    /// Seconds to keep delivering after Ctrl-C / SIGTERM before spilling what is in
    /// flight (a second signal spills at once).
    #[arg(long, env = "PRODUCER_GRACE_SECS", default_value_t = 30)]
    pub grace_secs: u64,
    /// Records queued between source and sink; a full queue slows the source.
    #[arg(long, env = "PRODUCER_QUEUE", default_value_t = 10_000)]
    pub queue: usize,
    /// The local delivery stream.
    #[cfg(feature = "local")]
    #[command(flatten)]
    pub local: LocalOptions,
}

/// The X API.
#[derive(Args, Clone, Debug)]
pub struct XArgs {
    /// X API bearer token (app-only).
    #[arg(long, env = "X_BEARER_TOKEN", hide_env_values = true)]
    pub bearer_token: String,
    /// X API base URL.
    #[arg(long, env = "X_API_URL", default_value = "https://api.x.com")]
    pub x_api_url: String,
}

/// The commands.
#[derive(Subcommand)]
// Parsed once per run; boxing the sink options would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Stream the X API v2 filtered stream (with the rules on the server) into Firehose.
    X {
        /// The X API.
        #[command(flatten)]
        x: XArgs,
        /// Seconds without a byte (keep-alives included) before the stream counts as stalled.
        #[arg(long, env = "X_STALL_SECS", default_value_t = 20)]
        stall_secs: u64,
        /// Stop after reading this many posts in this run (X bills every post read; 0: no
        /// limit). See `producer cost` for what a rate costs.
        #[arg(long, env = "X_MAX_POSTS", default_value_t = 0)]
        max_posts: u64,
        /// Where records go.
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Manage the X filtered-stream rules.
    Rules {
        /// What to do with them.
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Stream Bluesky posts matching the local rules (Jetstream, no account) into Firehose.
    Bluesky {
        /// Rules file (tags with keywords or a regex).
        #[arg(
            long,
            env = "PRODUCER_RULES",
            default_value = DEFAULT_RULES
        )]
        rules: PathBuf,
        /// Jetstream websocket URL.
        #[arg(long, env = "JETSTREAM_URL", default_value = producer::source::jetstream::DEFAULT_URL)]
        jetstream_url: String,
        /// File holding the `time_us` of the last settled post; a restart resumes there.
        #[arg(
            long,
            env = "JETSTREAM_CURSOR_FILE",
            default_value = "jetstream.cursor"
        )]
        cursor_file: PathBuf,
        /// Where records go.
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Stream Mastodon posts with the rules' hashtags (or the public timeline) into
    /// Firehose (an access token of any account on the instance).
    Mastodon {
        /// Rules file (tags with hashtags, keywords or a regex).
        #[arg(
            long,
            env = "PRODUCER_RULES",
            default_value = DEFAULT_RULES
        )]
        rules: PathBuf,
        /// The instance.
        #[arg(long, env = "MASTODON_URL", default_value = producer::source::mastodon::DEFAULT_URL)]
        mastodon_url: String,
        /// An access token (Preferences → Development → New application, scope
        /// read:statuses).
        #[arg(long, env = "MASTODON_ACCESS_TOKEN", hide_env_values = true)]
        access_token: String,
        /// Stream the public timeline and match it locally, instead of one stream per
        /// hashtag.
        #[arg(long, env = "MASTODON_PUBLIC")]
        public: bool,
        /// File holding the id of the last settled status; a restart reads back from there.
        #[arg(long, env = "MASTODON_CURSOR_FILE", default_value = "mastodon.cursor")]
        cursor_file: PathBuf,
        /// At most this many statuses read back from the timeline per stream and
        /// (re)connection.
        #[arg(long, env = "MASTODON_BACKFILL_MAX", default_value_t = 400)]
        backfill_max: usize,
        /// Seconds without a byte (heartbeats included) before a stream counts as stalled.
        #[arg(long, env = "MASTODON_STALL_SECS", default_value_t = 90)]
        stall_secs: u64,
        /// Where records go.
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
        /// Where records go.
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Inspect the failed records in the backup (S3 or the local stream's directory), and
    /// send processing-failed ones again.
    Failed {
        /// What to do with them.
        #[command(subcommand)]
        action: FailedAction,
    },
    /// Serve the dashboard page over a local run's store (or an OpenSearch) until Ctrl-C.
    #[cfg(feature = "local")]
    Dashboard {
        /// What to show.
        #[command(flatten)]
        view: ViewArgs,
        /// The page's port (0: a free one).
        #[arg(long, env = "DASHBOARD_PORT", default_value_t = 0)]
        port: u16,
    },
    /// Write the documents of a local run's store as NDJSON, one file per index.
    #[cfg(feature = "local")]
    Export {
        /// The local run's output directory (its store is OUT/store).
        #[arg(long, env = "LOCAL_OUT", default_value = "local-out")]
        out: PathBuf,
        /// Where the NDJSON files go.
        #[arg(long)]
        to: PathBuf,
    },
    /// Send a spill file (records Firehose could not take earlier) again.
    Replay {
        /// The spill file (not the one this run spills into).
        path: PathBuf,
        /// Where records go.
        #[command(flatten)]
        sink: SinkArgs,
    },
    /// Estimate what a month of the pipeline costs at a rate, line by line.
    Cost(CostArgs),
}

/// `producer cost`: the rate, the source, and the stack's parameters (the defaults are
/// `serverless/serverless.yml`'s).
#[derive(Args, Clone, Debug)]
pub struct CostArgs {
    /// Posts a day.
    #[arg(
        long,
        env = "COST_POSTS_PER_DAY",
        default_value_t = 15_000.0,
        allow_negative_numbers = true
    )]
    pub posts_per_day: f64,
    /// Where posts come from (X bills every post read).
    #[arg(long, value_enum, default_value_t = producer::cost::Source::X)]
    pub source: producer::cost::Source,
    /// The sentiment backend (`sentimentBackend`).
    #[arg(long, value_enum, default_value_t = producer::cost::Backend::Vader)]
    pub backend: producer::cost::Backend,
    /// Mean size of a post's record, bytes (an X post with its expansions: about 1.5 KB).
    #[arg(long, default_value_t = 1_500)]
    pub post_bytes: u64,
    /// Mean length of a post's text, characters (what Comprehend bills).
    #[arg(long, default_value_t = 120)]
    pub text_chars: u64,
    /// The region whose prices apply.
    #[arg(long, env = "AWS_REGION", default_value = "eu-west-1")]
    pub region: String,
    /// A price file instead of the bundled one (producer/prices.json).
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Override one price, e.g. `--price x.post_read=0.01` or
    /// `--price opensearch_instance_hour.t3.medium.search=0.073` (repeatable).
    #[arg(long = "price", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Lambda memory, MB.
    #[arg(long, default_value_t = 512)]
    pub memory_mb: u64,
    /// The processor buffer, MB (`processorBufferMb`).
    #[arg(long, default_value_t = 1.0)]
    pub processor_buffer_mb: f64,
    /// The processor interval, seconds (`processorIntervalSecs`).
    #[arg(long, default_value_t = 60)]
    pub processor_interval_secs: u64,
    /// The Lambda's measured duration per record, ms (its `DurationMs` over `Records`);
    /// default: the benchmarks' CPU time at this memory, plus Comprehend's wait.
    #[arg(long)]
    pub ms_per_record: Option<f64>,
    /// OpenSearch instance type (`searchInstanceType`).
    #[arg(long, default_value = "t3.small.search")]
    pub instance_type: String,
    /// OpenSearch instances (`searchInstanceCount`).
    #[arg(long, default_value_t = 1)]
    pub instances: u64,
    /// OpenSearch volume per instance, GB (`searchVolumeGb`).
    #[arg(long, default_value_t = 10)]
    pub volume_gb: u64,
    /// Days each daily index is kept (`retentionDays`).
    #[arg(long, default_value_t = 30)]
    pub retention_days: u64,
    /// Categories with their own metrics and alarms (the rules file's tags: 2 in
    /// cats-dogs.json).
    #[arg(long, default_value_t = 2)]
    pub categories: u64,
    /// Share of records that fail into the backup bucket, percent.
    #[arg(long, default_value_t = 0.1)]
    pub failed_percent: f64,
}

/// What the dashboard page reads.
#[cfg(feature = "local")]
#[derive(Args, Clone, Debug)]
pub struct ViewArgs {
    /// The local run's output directory: its store (OUT/store) and backup (OUT/s3).
    #[arg(long, env = "LOCAL_OUT", default_value = "local-out")]
    pub out: PathBuf,
    /// An OpenSearch to read instead of the store (it gets the same requests).
    #[arg(long, env = "OPENSEARCH_URL")]
    pub opensearch_url: Option<String>,
    /// Saved objects to draw instead of the bundled kibana/dashboards.ndjson.
    #[arg(long)]
    pub saved_objects: Option<PathBuf>,
}

/// Where the backup to read is.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// The backup bucket; without it, --from-dir is read.
    #[arg(long, env = "BACKUP_S3_BUCKET")]
    pub from_s3_bucket: Option<String>,
    /// S3 endpoint of the backup bucket (an S3-compatible server); default AWS's.
    #[arg(long, env = "BACKUP_S3_ENDPOINT_URL")]
    pub from_s3_endpoint: Option<String>,
    /// The backup directory (the local stream's OUT/s3).
    #[arg(long, default_value = "local-out/s3")]
    pub from_dir: PathBuf,
}

/// What `failed` does.
#[derive(Subcommand)]
// Parsed once per run; boxing the sink options would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum FailedAction {
    /// Count the failed records per prefix and error code.
    List {
        /// Where the backup is.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print failed records as JSON lines, their data decoded.
    Show {
        /// Where the backup is.
        #[command(flatten)]
        store: StoreArgs,
        /// `processing-failed/` (records) or `AmazonOpenSearchService-failed/` (documents).
        #[arg(long, default_value = "processing-failed/")]
        prefix: String,
    },
    /// Send processing-failed records (their original bytes) to Firehose again; objects
    /// replayed before are skipped.
    Replay {
        /// Where the backup is.
        #[command(flatten)]
        store: StoreArgs,
        /// Only records under this prefix (and its YYYY/MM/DD/HH/ parts).
        #[arg(long, default_value = "processing-failed/")]
        prefix: String,
        /// Send the objects replayed before too.
        #[arg(long)]
        again: bool,
        /// Where records go.
        #[command(flatten)]
        sink: SinkArgs,
    },
}

/// What `rules` does.
#[derive(Subcommand)]
pub enum RulesAction {
    /// List the rules on the server.
    List {
        /// The X API.
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
            default_value = DEFAULT_RULES
        )]
        rules: PathBuf,
        /// A rule as TAG=QUERY, instead of the file; repeat for more.
        #[arg(long = "rule", value_name = "TAG=QUERY")]
        rule: Vec<String>,
        /// The X API.
        #[command(flatten)]
        x: XArgs,
    },
}
