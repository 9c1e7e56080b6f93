//! The Kinesis Data Firehose transformation for social-media posts.
//!
//! In: a Firehose transformation event whose records each carry one X API v2
//! filtered-stream object (or a post mapped into that shape by the producer).
//! Out: one response record per input record, same id and order: `Ok` with a clean,
//! sentiment-scored single-line JSON document for OpenSearch, `Dropped` when the policy
//! filters the post on purpose, or `ProcessingFailed` with the original bytes.
//!
//! Modules: [`firehose`] (the wire contract), [`post`] (the input model), [`document`]
//! (the output schema and cleaning), [`sentiment`] (analyzers), [`comprehend`] (the
//! Amazon Comprehend backend), [`handler`] (one
//! invocation), [`config`], [`error`], [`metrics`] (logs and EMF), [`retry`] (backoff), [`scan`] (the fast payload reader).

pub mod comprehend;
pub mod config;
pub mod document;
pub mod error;
pub mod firehose;
pub mod handler;
pub mod metrics;
pub mod post;
pub mod scan;
pub mod sentiment;
mod write;

pub use config::Config;
pub use firehose::{FirehoseEvent, FirehoseResponse, RecordResult};
pub use handler::{Report, Transformer};
pub use sentiment::{Analyzer, Backend};
