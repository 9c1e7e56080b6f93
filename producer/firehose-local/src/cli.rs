//! The local stream's options, shared by the `firehose-local` command and the producer's
//! `--local`, and how they become a running [`LocalStream`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use firehose_backup::{Store, Writer};

use crate::{BackupMode, Destination, LocalConfig, LocalError, LocalStream, Processor, Rotation};

/// The local delivery stream's options.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Local delivery stream")]
pub struct LocalArgs {
    /// Without servers: documents go to the embedded store OUT/store (or, with --ndjson,
    /// OUT/opensearch/INDEX.ndjson), backups to OUT/s3/; the journal is OUT/journal.
    #[arg(long, env = "LOCAL_OUT", default_value = "local-out")]
    pub out: PathBuf,
    /// Where acknowledged records wait until delivered (default OUT/journal).
    #[arg(long, env = "LOCAL_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// OpenSearch URL for the local stream's destination (instead of the embedded store).
    #[arg(long, env = "OPENSEARCH_URL", conflicts_with = "ndjson")]
    pub opensearch_url: Option<String>,
    /// Append documents to OUT/opensearch/INDEX.ndjson instead of the embedded store.
    #[arg(long)]
    pub ndjson: bool,
    /// Index name, before rotation (lower case; no / \ * ? " < > | , # : or spaces).
    #[arg(long, env = "OPENSEARCH_INDEX", default_value = "social-posts")]
    pub index: String,
    /// Index rotation: NoRotation, OneHour, OneDay, OneWeek, OneMonth.
    #[arg(long, default_value = "OneDay")]
    pub rotation: Rotation,
    /// Seconds to retry OpenSearch 429 / 5xx / connection failures before backing up.
    #[arg(long, default_value_t = 300)]
    pub retry_secs: u64,
    /// Seconds to retry a failed write of documents or backups to disk or S3.
    #[arg(long, default_value_t = 30)]
    pub write_retry_secs: u64,
    /// S3 endpoint for the backup (an S3-compatible server); with --s3-bucket.
    #[arg(long, env = "S3_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// S3 bucket for the backup (instead of OUT/s3).
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Backup every document too (AllDocuments), not only failures (FailedDocumentsOnly).
    #[arg(long)]
    pub backup_all_documents: bool,
    /// Lambda Invoke API endpoint (e.g. `cargo lambda watch`); default: the transform in-process.
    #[arg(long, env = "LAMBDA_ENDPOINT_URL")]
    pub lambda_endpoint: Option<String>,
    /// Lambda function name, with --lambda-endpoint.
    #[arg(long, env = "LAMBDA_FUNCTION", default_value = "transform")]
    pub lambda_function: String,
    /// Processor buffer size hint, MB (0.2 to 3).
    #[arg(long, default_value_t = 1.0)]
    pub processor_buffer_mb: f64,
    /// Processor buffer interval hint, seconds (0 to 900).
    #[arg(long, default_value_t = 1)]
    pub processor_interval_secs: u64,
    /// Destination buffer size hint, MB (1 to 100).
    #[arg(long, default_value_t = 5.0)]
    pub buffer_mb: f64,
    /// Destination buffer interval hint, seconds (0 to 900; 0, Firehose's zero buffering,
    /// delivers each processed batch at once: the freshest dashboard).
    #[arg(long, default_value_t = 0)]
    pub buffer_interval_secs: u64,
}

/// The backup store the options name: the bucket, else OUT/s3.
pub async fn backup_store(args: &LocalArgs) -> Store {
    match &args.s3_bucket {
        Some(bucket) => Store::S3 {
            client: firehose_backup::s3_client(args.s3_endpoint.as_deref()).await,
            bucket: bucket.clone(),
            endpoint: args.s3_endpoint.clone(),
        },
        None => Store::Dir(args.out.join("s3")),
    }
}

impl LocalArgs {
    /// The embedded store's directory.
    pub fn store_path(&self) -> PathBuf {
        self.out.join("store")
    }

    /// The stream's configuration from the options.
    pub fn config(&self, stream: &str) -> LocalConfig {
        LocalConfig {
            stream: stream.to_string(),
            processor_buffer_bytes: (self.processor_buffer_mb * 1e6) as usize,
            processor_interval: Duration::from_secs(self.processor_interval_secs),
            buffer_bytes: (self.buffer_mb * 1e6) as usize,
            buffer_interval: Duration::from_secs(self.buffer_interval_secs),
            index: self.index.clone(),
            rotation: self.rotation,
            backup_mode: if self.backup_all_documents {
                BackupMode::AllDocuments
            } else {
                BackupMode::FailedDocumentsOnly
            },
            journal: self
                .journal
                .clone()
                .unwrap_or_else(|| self.out.join("journal")),
        }
    }

    /// Builds and starts the stream named `stream`.
    pub async fn start(&self, stream: &str) -> Result<LocalStream, LocalError> {
        let processor = match &self.lambda_endpoint {
            Some(url) => Processor::Lambda {
                client: crate::processor::lambda_client(url).await,
                function: self.lambda_function.clone(),
            },
            None => {
                let config = transform::Config::from_env()?;
                let analyzer = config.analyzer().await;
                Processor::InProcess(Box::new(transform::Transformer::new(config, analyzer)))
            }
        };
        let write_retry = Duration::from_secs(self.write_retry_secs);
        let destination = match (&self.opensearch_url, self.ndjson) {
            (Some(url), _) => Destination::opensearch(url, Duration::from_secs(self.retry_secs))?,
            (None, true) => Destination::Dir {
                dir: self.out.join("opensearch"),
                retry_duration: write_retry,
            },
            (None, false) => Destination::store(&self.store_path(), write_retry)?,
        };
        let backup = Writer::new(backup_store(self).await, stream).retrying_for(write_retry);
        LocalStream::start(self.config(stream), processor, destination, backup).await
    }
}
