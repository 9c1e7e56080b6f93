//! The Kinesis Data Firehose transformation for social-media posts.
//!
//! In: a Firehose transformation event whose records each carry one X API v2
//! filtered-stream object (or a post mapped into that shape by the producer).
//! Out: one response record per input record, same id and order: `Ok` with a clean,
//! sentiment-scored single-line JSON document for OpenSearch, `Dropped` when the policy
//! filters the post on purpose, or `ProcessingFailed` with the original bytes.
//!
//! This file is the crate's one public entry point: everything a user of the crate needs
//! is re-exported here; the modules are private. `firehose` (the wire contract), `post`
//! (the input model), `document` (the output schema and cleaning), `json` (the one-pass
//! reader and the writer), `sentiment` (the analyzers: VADER, Amazon Comprehend),
//! `handler` (one invocation), `config`, `error`, `metrics` (logs and EMF).

mod config;
mod document;
mod error;
mod firehose;
mod handler;
mod json;
mod metrics;
mod post;
mod sentiment;

pub use config::{Config, MultiCategory};
pub use error::{ConfigError, RecordError};
pub use firehose::{
    response_len, Data, FirehoseEvent, FirehoseRecord, FirehoseResponse, KinesisRecordMetadata,
    RecordResult, ResponseRecord, RESPONSE_LIMIT_BYTES,
};
pub use handler::{Report, ResponseTooLarge, Transformer};
pub use metrics::{emf_category_lines, emf_line, log_report, NAMESPACE};
pub use post::StreamPost;
pub use sentiment::{
    Analyzer, AnalyzerStats, Backend, Comprehend, ComprehendConfig, Label, OtherLanguages,
    Sentiment, SentimentBackend, Vader,
};

/// The fast paths on their own, for the benchmarks that weigh them against serde_json
/// (not an API).
#[doc(hidden)]
pub mod bench {
    pub use crate::document::{clean, Cleaned, Document};
    pub use crate::json::scan::post as scan_post;
}
