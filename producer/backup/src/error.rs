//! Why a backup read or write failed.

/// A backup failure.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file or directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An object with this name is already there (names are unique: something else wrote it).
    #[error("{0}: an object is already there; nothing was overwritten")]
    Exists(String),
    /// An S3 call failed.
    #[error("S3 {operation} {target}: {message}")]
    S3 {
        /// `PutObject`, `ListObjectsV2`, `GetObject`.
        operation: &'static str,
        /// `s3://bucket/key`.
        target: String,
        /// Whether another try may succeed (throttling, server-side, transport).
        transient: bool,
        /// The SDK's error, with its causes.
        message: String,
    },
    /// A backup line is not what Firehose writes.
    #[error("{key}: line {line}: {reason}")]
    Parse {
        /// The object.
        key: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A write kept failing; the objects it would have written are not there.
    #[error("{what}: {failure}")]
    GaveUp {
        /// The write.
        what: String,
        /// Why, after how many attempts.
        failure: String,
    },
}
