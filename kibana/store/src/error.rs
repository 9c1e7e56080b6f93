//! The store's errors: each names the store's path or the part of a request it refuses.

use std::path::PathBuf;

/// What went wrong with the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The index template cannot be mapped.
    #[error("index template: {0}")]
    Template(String),
    /// The store cannot be opened.
    #[error("cannot open the store at {}: {reason}", path.display())]
    Open {
        /// The store's directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another process writes this store.
    #[error(
        "the store at {} is in use by another run (one writer at a time): stop it, or give this run another --out",
        path.display()
    )]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// The store was made under another index template.
    #[error(
        "the store at {} was made with a different index template: export it (producer dashboard --export DIR) and remove it, or use another --out",
        path.display()
    )]
    Schema {
        /// The store's directory.
        path: PathBuf,
    },
    /// A write or commit failed.
    #[error("cannot write the store at {}: {reason}", path.display())]
    Write {
        /// The store's directory (or the export's).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A request the store does not answer.
    #[error("the embedded store does not support {0}")]
    Unsupported(String),
    /// A search failed.
    #[error("search failed: {0}")]
    Search(String),
}
