//! The producer: reads live post streams and writes them to a Firehose delivery stream,
//! losing nothing without a word.
//!
//! Sources ([`source`]) put [`record::Record`]s into a bounded queue; the [`sink`] sends
//! them with `PutRecordBatch`, retrying exactly the failed entries through the workspace's
//! retry helper, and spills to a file what cannot be delivered. [`rules`] holds the
//! tagged rules; [`progress`] the progress line and the summary; [`cost`] the monthly
//! estimate of `producer cost`. The local delivery
//! stream (`--local`) is the `firehose-local` crate, behind the default feature `local`;
//! the backup format is the `firehose-backup` crate.

pub mod cost;
pub mod progress;
pub mod record;
pub mod rules;
pub mod sink;
pub mod source;
