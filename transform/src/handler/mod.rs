//! One invocation: a Firehose event in, a Firehose response and a [`Report`] out.
//!
//! Each record is decoded on its own (base64, UTF-8, JSON), cleaned, filtered by the
//! policy; the kept documents are scored by the analyzer in batches and encoded. The batch
//! size is the analyzer's ([`Analyzer::batch_records`]): the whole event for Comprehend
//! (one call per 25 texts of a language, several in flight), 32 records for the local
//! analyzers, so a record's bytes are read, scored and written while still in cache and the
//! decoded payloads of only one batch are in memory.
//! Every input record gets exactly one response record, same id, same position, with a
//! result decided on purpose and counted. The response never exceeds the configured
//! limit: when the documents would not fit, the records whose documents save the most
//! bytes go back as `ProcessingFailed` with their original bytes (reason
//! `response_too_large`), which Firehose backs up to S3 for replay.

//!
//! Modules: `report` (the [`Report`]), `batch` (a batch's buffers and bookkeeping).

mod batch;
mod report;

use std::time::Instant;

use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use crate::config::Config;
use crate::document::{clean_into, iso, ArrivalClock, Document};
use crate::error::RecordError;
use crate::firehose::{
    json_str_len, response_len_of, wire_len_but_id, Data, FirehoseEvent, FirehoseRecord,
    FirehoseResponse, RecordResult, ResponseRecord,
};
use crate::post::StreamPost;
use crate::sentiment::{Analyzer, AnalyzerStats, SentimentRequest};

use batch::*;
pub use report::Report;
use report::{Categories, Outcome};

/// The transform: configuration plus analyzer, built once at cold start.
pub struct Transformer<A> {
    config: Config,
    analyzer: A,
}

/// The response could not be brought under the limit (only possible when the event
/// itself is larger than Lambda accepts); the invocation fails and Firehose retries it.
#[derive(Debug, thiserror::Error)]
#[error("response of {size} bytes exceeds the {limit}-byte limit even with every record returned as it came")]
pub struct ResponseTooLarge {
    /// Smallest response we could make.
    pub size: usize,
    /// The limit.
    pub limit: usize,
}

impl<A: Analyzer> Transformer<A> {
    /// A transformer with this configuration and analyzer.
    pub fn new(config: Config, analyzer: A) -> Self {
        Transformer { config, analyzer }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The analyzer in use.
    pub fn analyzer(&self) -> &A {
        &self.analyzer
    }

    /// Transforms one event with no deadline. `now` becomes every document's `processed_at`.
    pub async fn transform(
        &self,
        event: &FirehoseEvent,
        now: DateTime<Utc>,
    ) -> Result<(FirehoseResponse, Report), ResponseTooLarge> {
        self.transform_until(event, now, None).await
    }

    /// Transforms one event; remote analyzers stop retrying in time for `deadline` (the
    /// Lambda invocation's). Each record id is copied into the response.
    pub async fn transform_until(
        &self,
        event: &FirehoseEvent,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(FirehoseResponse, Report), ResponseTooLarge> {
        self.run(Ids::Copy(&event.records), now, deadline).await
    }

    /// As [`Transformer::transform_until`], but each record id is moved into the response
    /// (the event's record ids are left empty): what the Lambda does with the event it
    /// owns, one allocation and copy fewer per record.
    pub async fn transform_taking_ids(
        &self,
        event: &mut FirehoseEvent,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(FirehoseResponse, Report), ResponseTooLarge> {
        self.run(Ids::Take(&mut event.records), now, deadline).await
    }

    async fn run(
        &self,
        mut input: Ids<'_>,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(FirehoseResponse, Report), ResponseTooLarge> {
        let started = Instant::now();
        let processed_at = iso(now);
        let n = input.records().len();
        let mut body_len = 0;
        let mut seen_ids: SeenIds = SeenIds::with_capacity(n);
        let mut report = Report {
            records: n as u64,
            ..Report::default()
        };
        let mut records = Vec::with_capacity(n);
        let mut outcomes = Vec::with_capacity(n);
        let mut categories = Categories::default();
        let mut lines = DocumentLines::default();
        // A batch is read, scored and written before the next is read (see
        // `Analyzer::batch_records`); a remote analyzer gets the whole event as one batch.
        let batch_records = self.analyzer.batch_records().max(1);
        let mut payloads = Payloads::with_capacity(batch_records.min(n));
        let mut clock = ArrivalClock::default();
        let mut stages = Vec::with_capacity(batch_records.min(n));
        let mut spare_docs: Vec<Document<'static>> = Vec::with_capacity(batch_records.min(n));
        for start in (0..n).step_by(batch_records) {
            let batch = &input.records()[start..(start + batch_records).min(n)];
            payloads.refill(batch);
            report.bytes_in += payloads.bytes.len() as u64;
            // The batch's documents live in one vector whose allocation serves every batch
            // (`recycle`): no allocation and free per document.
            let mut docs: Vec<Document<'_>> = recycle(std::mem::take(&mut spare_docs));
            stages.clear();
            stages.extend(batch.iter().zip(&payloads.ranges).map(|(record, range)| {
                let stage = match range {
                    Ok(range) => {
                        let bytes = &payloads.bytes[range.clone()];
                        self.stage(record, bytes, &processed_at, &mut clock, &mut docs)
                    }
                    Err(err) => Stage::Failed(err.clone()),
                };
                if let Stage::Failed(err) = &stage {
                    warn!(record_id = %record.record_id, reason = err.reason(), error = %err, "record failed");
                }
                stage
            }));
            report
                .sentiment
                .merge(&self.score(&mut docs, deadline).await);
            let text = lines.write(&docs);
            for (i, stage) in (start..).zip(&stages) {
                let (result, data, outcome) = match stage {
                    &Stage::Keep(k) => {
                        let doc = &docs[k];
                        let outcome = Outcome::Ok {
                            category: categories.index(&doc.category),
                            label: doc.sentiment.as_ref().map_or("none", |s| s.label.as_str()),
                            score: doc.sentiment.as_ref().map(|s| s.score),
                            located: doc.location.is_some(),
                            geo_problem: doc.geo_problem.map(|p| p.as_str()),
                        };
                        let data = Data::shared(text.clone(), lines.base64[k].clone());
                        (RecordResult::Ok, data, outcome)
                    }
                    &Stage::Dropped(reason) => (
                        RecordResult::Dropped,
                        Data::default(),
                        Outcome::Dropped(reason),
                    ),
                    Stage::Failed(err) => (
                        RecordResult::ProcessingFailed,
                        input.records()[i].data.clone().into(),
                        Outcome::Failed(err.reason()),
                    ),
                };
                let record_id = input.id(i);
                // The id's only reads: is it a repeat, and its length in the response.
                seen_ids.check(&record_id, i, &records);
                body_len += json_str_len(&record_id) + wire_len_but_id(result, &data);
                records.push(ResponseRecord {
                    record_id,
                    result,
                    data,
                });
                outcomes.push(outcome);
            }
            // The batch's documents are dropped together once it is written.
            docs.clear();
            spare_docs = recycle(docs);
        }

        let size = response_len_of(body_len, n);
        debug_assert_eq!(
            size,
            crate::firehose::response_len(&records),
            "the size added up record by record is the response's"
        );
        let (overflow, size) = fit_to_limit(
            input.records(),
            &mut records,
            size,
            self.config.response_limit,
        )?;
        for &i in &overflow {
            outcomes[i] = Outcome::Failed(RecordError::ResponseTooLarge.reason());
        }
        if !overflow.is_empty() {
            warn!(
                records = overflow.len(),
                limit = self.config.response_limit,
                "response over the limit: records returned as ProcessingFailed for replay"
            );
        }

        report.count(&outcomes, categories);
        report.duplicate_record_ids = seen_ids.repeats;
        if report.duplicate_record_ids > 0 {
            warn!(
                duplicates = report.duplicate_record_ids,
                "event has duplicated record ids; each occurrence is answered in place"
            );
        }
        report.bytes_out = size as u64;
        report.duration = started.elapsed();
        Ok((FirehoseResponse { records }, report))
    }

    /// Parses and cleans one decoded payload.
    fn stage<'a>(
        &self,
        record: &FirehoseRecord,
        bytes: &'a [u8],
        processed_at: &'a str,
        clock: &mut ArrivalClock,
        docs: &mut Vec<Document<'a>>,
    ) -> Stage {
        let text = match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                // Only the standard library says where (error path only).
                let valid_up_to = std::str::from_utf8(bytes)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                return Stage::Failed(RecordError::NotUtf8 { valid_up_to });
            }
        };
        // Stops at the first non-blank character (a payload's first, as a rule).
        if text.chars().all(char::is_whitespace) {
            return Stage::Failed(RecordError::Empty);
        }
        let mut post = StreamPost::default();
        if let Err(err) = parse_post(text, &mut post) {
            return Stage::Failed(err);
        }
        match clean_into(
            &mut post,
            clock.format(record.approximate_arrival_timestamp),
            processed_at,
            &self.config,
            docs,
        ) {
            Ok(None) => {
                let post_id = docs.last().map_or("", |doc| &doc.post_id);
                debug!(record_id = %record.record_id, post_id, "record kept");
                Stage::Keep(docs.len() - 1)
            }
            Ok(Some(reason)) => {
                debug!(record_id = %record.record_id, reason = reason.as_str(), "record dropped");
                Stage::Dropped(reason.as_str())
            }
            Err(err) => Stage::Failed(err),
        }
    }

    /// Scores every kept document in one analyzer batch.
    async fn score(&self, docs: &mut [Document<'_>], deadline: Option<Instant>) -> AnalyzerStats {
        if docs.is_empty() {
            return AnalyzerStats::default();
        }
        let batch: Vec<SentimentRequest<'_>> = docs
            .iter()
            .map(|doc| SentimentRequest {
                text: &doc.text,
                lang: doc.lang.as_deref(),
            })
            .collect();
        let analysis = self.analyzer.analyze(&batch, deadline).await;
        for (doc, sentiment) in docs.iter_mut().zip(analysis.sentiments) {
            doc.sentiment = sentiment;
        }
        analysis.stats
    }
}

#[cfg(test)]
mod tests;
