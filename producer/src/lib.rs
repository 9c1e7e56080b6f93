//! The producer: reads live post streams and writes them to a Firehose delivery stream,
//! losing nothing.
//!
//! Sources ([`x`], [`jetstream`], [`file`]) put [`sink::Record`]s (one post payload
//! each, newline-terminated, in the transform's post shape) into a bounded queue; the
//! [`sink`] sends them with `PutRecordBatch`, retrying exactly the failed entries and
//! spilling to a file what cannot be delivered. [`rules`] holds the tagged rules;
//! [`progress`] the progress line and summary; [`failed`] reads the failed records
//! in the backup; [`local`] a local delivery stream that
//! plays Firehose's part on one machine.

pub mod failed;
pub mod file;
pub mod jetstream;
pub mod local;
pub mod progress;
pub mod rules;
pub mod sink;
pub mod x;
