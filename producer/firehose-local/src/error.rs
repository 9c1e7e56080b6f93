//! Why the local stream could not start or finish: one variant per cause.

/// A local stream failure.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A setting outside Firehose's ranges, or a bad index name.
    #[error("{0}")]
    Config(String),
    /// The transform's environment variables.
    #[error("the transform's configuration: {0}")]
    Transform(#[from] transform::ConfigError),
    /// The journal could not be opened or is held by another stream.
    #[error("journal {path}: {source}")]
    Journal {
        /// Its directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The OpenSearch URL is not one, or its client cannot be built.
    #[error("OpenSearch at {url}: {reason}")]
    OpenSearch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// OpenSearch did not take the index template.
    #[error("OpenSearch did not take the index template: {0}")]
    Template(String),
    /// The embedded store cannot be opened (missing, unreadable, or written by another run).
    #[error("{0}")]
    Store(search_store::StoreError),
    /// The wire server could not listen.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    /// A stage stopped early (a bug: its counts are lost).
    #[error("the local stream's pipeline stopped: {0}")]
    Pipeline(String),
}
