//! The sources. Each puts [`crate::record::Record`]s into the sink's bounded queue (a full
//! queue slows it) until it ends, the queue closes, or the stop signal turns true: the X
//! API v2 filtered stream ([`x`]), Bluesky Jetstream ([`jetstream`]), Mastodon's
//! streaming API ([`mastodon`]), recordings and
//! spill files ([`file`]), and the backup's failed records ([`backup`]); [`reconnect`] is
//! how the live ones wait before reconnecting.

pub mod backup;
pub mod cursor;
pub mod file;
pub mod jetstream;
pub mod mastodon;
pub mod reconnect;
pub mod x;

/// Why a source stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A recording or spill file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The X API refused to go on.
    #[error(transparent)]
    X(#[from] x::XError),
    /// Mastodon refused to go on.
    #[error(transparent)]
    Mastodon(#[from] mastodon::MastodonError),
    /// The reading task itself failed.
    #[error("the source task failed: {0}")]
    Task(String),
}
