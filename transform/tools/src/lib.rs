//! Tools around the transform that do not ship in the Lambda.
//!
//! [`events`] builds Firehose transformation events from readable NDJSON (with
//! directives for the records no post can be) and decodes responses back into readable
//! records: the fixtures, `transform-local`, the tests. [`generate`] makes synthetic
//! posts shaped like the X API's and Bluesky's, deterministic by seed: the bundled
//! recording, the benchmark inputs, recordings with bursts or places (`gen-posts`).

pub mod events;
pub mod generate;
