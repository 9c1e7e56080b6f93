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

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{debug, warn};

use crate::config::Config;
use crate::document::{clean_into, iso, ArrivalClock, Document};
use crate::error::RecordError;
use crate::firehose::{
    json_str_len, response_len_of, wire_len, wire_len_but_id, Data, FirehoseEvent, FirehoseRecord,
    FirehoseResponse, RecordResult, ResponseRecord,
};
use crate::post::StreamPost;
use crate::sentiment::{Analyzer, AnalyzerStats, SentimentRequest};

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

/// What one invocation did: counts per outcome and reason, bytes and time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Records in the event.
    pub records: u64,
    /// Records returned `Ok`.
    pub ok: u64,
    /// Records returned `Dropped`.
    pub dropped: u64,
    /// Records returned `ProcessingFailed`.
    pub failed: u64,
    /// `Dropped` records per reason (`retweet`, `language`, `too_short`).
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
    /// `ProcessingFailed` records per reason (`invalid_base64`, `truncated_json`, ...).
    pub failed_by_reason: BTreeMap<&'static str, u64>,
    /// `Ok` documents per primary category.
    pub categories: BTreeMap<String, u64>,
    /// `Ok` documents per sentiment label (`none` when the analyzer gave none).
    pub sentiment_labels: BTreeMap<&'static str, u64>,
    /// Record ids that appeared more than once in the event (each occurrence is answered).
    pub duplicate_record_ids: u64,
    /// Decoded payload bytes in.
    pub bytes_in: u64,
    /// Serialised response bytes out.
    pub bytes_out: u64,
    /// What the analyzer did (remote calls, units, fallbacks).
    pub sentiment: AnalyzerStats,
    /// Per input record, in order: why it was dropped or failed (empty for `Ok`).
    #[serde(skip)]
    pub reasons: Vec<&'static str>,
    /// Time spent in the transform.
    #[serde(serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl Report {
    /// Counts every record's outcome, in order.
    fn count(&mut self, outcomes: &[Outcome], categories: Categories) {
        let mut per_category = vec![0u64; categories.names.len()];
        // A handful of labels: counted in a short list, put in the map once each.
        let mut per_label: Vec<(&'static str, u64)> = Vec::new();
        self.reasons.reserve(outcomes.len());
        for outcome in outcomes {
            match *outcome {
                Outcome::Ok { category, label } => {
                    self.ok += 1;
                    per_category[category] += 1;
                    match per_label.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, n)) => *n += 1,
                        None => per_label.push((label, 1)),
                    }
                    self.reasons.push("");
                }
                Outcome::Dropped(reason) => {
                    self.dropped += 1;
                    *self.dropped_by_reason.entry(reason).or_default() += 1;
                    self.reasons.push(reason);
                }
                Outcome::Failed(reason) => {
                    self.failed += 1;
                    *self.failed_by_reason.entry(reason).or_default() += 1;
                    self.reasons.push(reason);
                }
            }
        }
        for (label, n) in per_label {
            *self.sentiment_labels.entry(label).or_default() += n;
        }
        for (name, n) in categories.names.into_iter().zip(per_category) {
            if n > 0 {
                *self.categories.entry(name).or_default() += n;
            }
        }
    }

    /// Adds another invocation's counts to this one (for multi-event runs).
    pub fn merge(&mut self, other: &Report) {
        self.records += other.records;
        self.ok += other.ok;
        self.dropped += other.dropped;
        self.failed += other.failed;
        for (k, v) in &other.dropped_by_reason {
            *self.dropped_by_reason.entry(k).or_default() += v;
        }
        for (k, v) in &other.failed_by_reason {
            *self.failed_by_reason.entry(k).or_default() += v;
        }
        for (k, v) in &other.categories {
            *self.categories.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.sentiment_labels {
            *self.sentiment_labels.entry(k).or_default() += v;
        }
        self.sentiment.merge(&other.sentiment);
        self.duplicate_record_ids += other.duplicate_record_ids;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.reasons.extend_from_slice(&other.reasons);
        self.duration += other.duration;
    }
}

/// What became of one record, as counted in the [`Report`].
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// `Ok`: index into [`Categories`], sentiment label (`none` without one).
    Ok {
        category: usize,
        label: &'static str,
    },
    Dropped(&'static str),
    Failed(&'static str),
}

/// The distinct primary categories of an invocation (a handful), in first-seen order.
#[derive(Default)]
struct Categories {
    names: Vec<String>,
}

impl Categories {
    fn index(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }
}

/// A batch's documents as JSON lines, then as base64 in one string that the batch's `Ok`
/// records share: one allocation per batch, where a string per record cost an allocation
/// and a free each (7 % of the handler's time on the bench event).
#[derive(Default)]
struct DocumentLines {
    /// The JSON lines, one after another (reused from batch to batch).
    json: Vec<u8>,
    /// Where each document's line ends in `json`.
    ends: Vec<usize>,
    /// Each document's base64 in the shared string.
    base64: Vec<std::ops::Range<usize>>,
}

impl DocumentLines {
    /// Writes `docs` (each line ending in `\n`) and returns the string of their base64.
    fn write(&mut self, docs: &[Document<'_>]) -> Arc<String> {
        self.json.clear();
        self.ends.clear();
        self.base64.clear();
        let mut size = 0;
        for doc in docs {
            let from = self.json.len();
            doc.write_json(&mut self.json);
            self.json.push(b'\n');
            self.ends.push(self.json.len());
            size += (self.json.len() - from).div_ceil(3) * 4;
        }
        let mut text = String::with_capacity(size);
        let mut from = 0;
        for &end in &self.ends {
            let at = text.len();
            base64_simd::STANDARD.encode_append(&self.json[from..end], &mut text);
            self.base64.push(at..text.len());
            from = end;
        }
        Arc::new(text)
    }
}

/// Where one record stands between decoding and encoding.
enum Stage {
    /// Kept: the index of its document in the batch's documents.
    Keep(usize),
    Dropped(&'static str),
    Failed(RecordError),
}

/// A batch's decoded payloads in one buffer, so its documents can borrow from it.
struct Payloads {
    bytes: Vec<u8>,
    /// Per record: the payload's range in `bytes`, or why `data` is not base64.
    ranges: Vec<Result<std::ops::Range<usize>, RecordError>>,
}

impl Payloads {
    fn with_capacity(records: usize) -> Self {
        Payloads {
            bytes: Vec::new(),
            ranges: Vec::with_capacity(records),
        }
    }

    /// Decodes a batch in place of the previous one (the buffers are reused).
    fn refill(&mut self, records: &[FirehoseRecord]) {
        self.bytes.clear();
        self.ranges.clear();
        self.bytes
            .reserve(records.iter().map(|r| r.data.len() / 4 * 3).sum());
        for record in records {
            let start = self.bytes.len();
            let range = match base64_simd::STANDARD
                .decode_append(record.data.as_bytes(), &mut self.bytes)
            {
                Ok(()) => Ok(start..self.bytes.len()),
                Err(_) => {
                    self.bytes.truncate(start);
                    // The SIMD decoder does not say where; the scalar one does (error path only).
                    let detail = STANDARD
                        .decode(record.data.as_bytes())
                        .err()
                        .map_or_else(|| "not canonical".to_string(), |e| e.to_string());
                    Err(RecordError::NotBase64(detail))
                }
            };
            self.ranges.push(range);
        }
    }
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

/// Parses one post: the one-pass [`scan`](crate::scan) reader first; when it declines,
/// `serde_json` decides, so the outcome and the error message (position only, never the
/// text) are serde_json's.
fn parse_post<'a>(text: &'a str, post: &mut StreamPost<'a>) -> Result<(), RecordError> {
    if !crate::scan::post_into(text, post) {
        *post = serde_json::from_str(text).map_err(|err| RecordError::from_json(&err))?;
    }
    Ok(())
}

/// Brings the response under `limit` by returning `Ok` records as `ProcessingFailed`
/// with their original data, most bytes saved first; `size` is the response's size as it
/// stands. Returns the indexes changed and the response's final size.
fn fit_to_limit(
    input: &[FirehoseRecord],
    records: &mut [ResponseRecord],
    mut size: usize,
    limit: usize,
) -> Result<(Vec<usize>, usize), ResponseTooLarge> {
    if size <= limit {
        return Ok((Vec::new(), size));
    }
    let mut savings: Vec<(usize, usize)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.result == RecordResult::Ok)
        .filter_map(|(i, r)| {
            let as_failed = wire_len(&r.record_id, RecordResult::ProcessingFailed, &input[i].data);
            r.wire_len().checked_sub(as_failed).map(|saved| (i, saved))
        })
        .filter(|&(_, saved)| saved > 0)
        .collect();
    // Most bytes saved first; ties by position, so the choice is deterministic.
    savings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut changed = Vec::new();
    for (i, saved) in savings {
        if size <= limit {
            break;
        }
        records[i].result = RecordResult::ProcessingFailed;
        records[i].data = input[i].data.clone().into();
        size -= saved;
        changed.push(i);
    }
    if size > limit {
        return Err(ResponseTooLarge { size, limit });
    }
    changed.sort_unstable();
    Ok((changed, size))
}

/// Where the response's record ids come from.
enum Ids<'e> {
    /// Copied from a borrowed event.
    Copy(&'e [FirehoseRecord]),
    /// Moved out of the event (left empty).
    Take(&'e mut [FirehoseRecord]),
}

impl Ids<'_> {
    fn records(&self) -> &[FirehoseRecord] {
        match self {
            Ids::Copy(records) => records,
            Ids::Take(records) => records,
        }
    }

    /// The record id of record `i`, for its response record.
    fn id(&mut self, i: usize) -> String {
        match self {
            Ids::Copy(records) => records[i].record_id.clone(),
            Ids::Take(records) => std::mem::take(&mut records[i].record_id),
        }
    }
}

/// An empty vector of another element type with the same layout, on the same allocation
/// (the standard library collects in place): a batch's vector serves the next batch, whose
/// elements borrow from another buffer.
fn recycle<T, U>(items: Vec<T>) -> Vec<U> {
    items.into_iter().filter_map(|_| None).collect()
}

/// The record ids answered so far, by hash: for each hash the index of the first response
/// record with it (ids are compared in the response, where they were moved); the rare
/// records whose id is new but whose hash is not are kept apart and searched in full.
struct SeenIds<H = IdHasher> {
    first: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    apart: Vec<usize>,
    repeats: u64,
    hasher: std::marker::PhantomData<H>,
}

impl<H: Hasher + Default> SeenIds<H> {
    fn with_capacity(records: usize) -> Self {
        SeenIds {
            first: HashMap::with_capacity_and_hasher(records, BuildHasherDefault::default()),
            apart: Vec::new(),
            repeats: 0,
            hasher: std::marker::PhantomData,
        }
    }

    /// Counts `id` (of record `i`) as a repeat when one of `answered` has it.
    fn check(&mut self, id: &str, i: usize, answered: &[ResponseRecord]) {
        let mut hasher = H::default();
        hasher.write(id.as_bytes());
        let same = |j: &usize| answered[*j].record_id == id;
        match self.first.entry(hasher.finish()) {
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
            Entry::Occupied(first) if same(first.get()) => self.repeats += 1,
            Entry::Occupied(_) => {
                if self.apart.iter().any(same) {
                    self.repeats += 1;
                } else {
                    self.apart.push(i);
                }
            }
        }
    }
}

/// A fast multiply-rotate hash for record ids (Firehose makes them; nobody can choose
/// them to collide), in place of the standard library's SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firehose::response_len;
    use crate::sentiment::Backend;

    fn record(id: &str, payload: &[u8]) -> FirehoseRecord {
        FirehoseRecord {
            record_id: id.into(),
            approximate_arrival_timestamp: 1_678_806_566_000,
            data: STANDARD.encode(payload),
            kinesis_record_metadata: None,
        }
    }

    fn run(config: Config, records: Vec<FirehoseRecord>) -> (FirehoseResponse, Report) {
        let t = Transformer::new(config, Backend::None);
        let event = FirehoseEvent {
            records,
            ..FirehoseEvent::default()
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(t.transform(&event, DateTime::<Utc>::UNIX_EPOCH))
            .unwrap()
    }

    #[test]
    fn repeated_ids_are_counted_even_when_their_hashes_collide() {
        /// Every id gets the same hash.
        #[derive(Default)]
        struct Collide;
        impl Hasher for Collide {
            fn write(&mut self, _: &[u8]) {}
            fn finish(&self) -> u64 {
                7
            }
        }
        let ids = ["a", "b", "a", "c", "b", "b", "d", "a"];
        let mut answered = Vec::new();
        let mut colliding: SeenIds<Collide> = SeenIds::with_capacity(ids.len());
        let mut spread: SeenIds = SeenIds::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            colliding.check(id, i, &answered);
            spread.check(id, i, &answered);
            answered.push(ResponseRecord {
                record_id: id.to_string(),
                result: RecordResult::Ok,
                data: Data::default(),
            });
        }
        // 8 ids, 4 distinct.
        assert_eq!(colliding.repeats, 4);
        assert_eq!(spread.repeats, 4);
    }
    #[test]
    fn every_outcome_is_decided_and_counted() {
        let (resp, report) = run(
            Config::default(),
            vec![
                record("a", br#"{"data":{"id":"1","text":"hi"}}"#),
                FirehoseRecord {
                    data: "not base64!".into(),
                    ..record("b", b"")
                },
                record("c", b"\xff\xfe"),
                record("d", br#"{"data":{"id":"1","text":"RT @x: hi"}}"#),
                record("e", b"  \n"),
            ],
        );
        let results: Vec<_> = resp.records.iter().map(|r| r.result).collect();
        assert_eq!(
            results,
            [
                RecordResult::Ok,
                RecordResult::ProcessingFailed,
                RecordResult::ProcessingFailed,
                RecordResult::Dropped,
                RecordResult::ProcessingFailed
            ]
        );
        assert_eq!(resp.records[1].data, "not base64!");
        assert_eq!(resp.records[2].data, STANDARD.encode(b"\xff\xfe"));
        assert_eq!((report.ok, report.dropped, report.failed), (1, 1, 3));
        assert_eq!(report.failed_by_reason["invalid_base64"], 1);
        assert_eq!(report.failed_by_reason["invalid_utf8"], 1);
        assert_eq!(report.failed_by_reason["empty_payload"], 1);
        assert_eq!(report.dropped_by_reason["retweet"], 1);
        assert_eq!(report.categories["uncategorized"], 1);
        assert_eq!(
            report.reasons,
            [
                "",
                "invalid_base64",
                "invalid_utf8",
                "retweet",
                "empty_payload"
            ]
        );
        assert_eq!(
            report.bytes_out,
            serde_json::to_string(&resp).unwrap().len() as u64
        );
    }

    #[test]
    fn overflow_goes_back_as_processing_failed_with_original_bytes() {
        let records: Vec<_> = (0..20)
            .map(|i| {
                record(
                    &format!("r{i}"),
                    format!(r#"{{"data":{{"id":"{i}","text":"x"}}}}"#).as_bytes(),
                )
            })
            .collect();
        let (full, _) = run(Config::default(), records.clone());
        let full_len = response_len(&full.records);
        let limit = full_len - 1000;
        let (resp, report) = run(
            Config {
                response_limit: limit,
                ..Config::default()
            },
            records.clone(),
        );
        let len = serde_json::to_string(&resp).unwrap().len();
        assert!(len <= limit, "{len} > {limit}");
        assert!(report.failed > 0 && report.ok > 0);
        assert_eq!(report.failed_by_reason["response_too_large"], report.failed);
        for (out, input) in resp.records.iter().zip(&records) {
            assert_eq!(out.record_id, input.record_id);
            if out.result == RecordResult::ProcessingFailed {
                assert_eq!(out.data, input.data);
            }
        }
    }

    /// VADER with a chosen batch size, recording the largest batch it was given.
    struct Batched {
        records: usize,
        vader: crate::sentiment::Vader,
        largest: std::sync::atomic::AtomicUsize,
    }

    impl Analyzer for Batched {
        fn name(&self) -> &'static str {
            "batched"
        }

        fn batch_records(&self) -> usize {
            self.records
        }

        async fn analyze(
            &self,
            batch: &[SentimentRequest<'_>],
            deadline: Option<Instant>,
        ) -> crate::sentiment::Analysis {
            self.largest
                .fetch_max(batch.len(), std::sync::atomic::Ordering::Relaxed);
            self.vader.analyze(batch, deadline).await
        }
    }

    /// Transforms `event` with VADER in batches of `records`: the response, the report
    /// (duration zeroed) and the largest batch the analyzer was given.
    fn run_in_batches(event: &FirehoseEvent, records: usize) -> (FirehoseResponse, Report, usize) {
        let t = Transformer::new(
            Config::default(),
            Batched {
                records,
                vader: crate::sentiment::Vader::new(),
                largest: 0.into(),
            },
        );
        let (resp, mut report) = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(t.transform(event, DateTime::<Utc>::UNIX_EPOCH))
            .unwrap();
        report.duration = Duration::ZERO;
        let largest = t
            .analyzer()
            .largest
            .load(std::sync::atomic::Ordering::Relaxed);
        (resp, report, largest)
    }

    #[test]
    fn batch_size_changes_nothing_but_the_batches() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/firehose/ugly.json"
        );
        let event: FirehoseEvent =
            serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("event");
        let n = event.records.len();
        let run = |records: usize| run_in_batches(&event, records);
        let (whole, whole_report, largest) = run(usize::MAX);
        assert!(
            whole_report.ok > 1 && whole_report.failed > 0,
            "{whole_report:?}"
        );
        assert_eq!(largest as u64, whole_report.ok);
        for records in [1, 2, 3, 7, n - 1, n] {
            let (resp, report, largest) = run(records);
            assert_eq!(resp, whole, "batches of {records}");
            assert_eq!(report, whole_report, "batches of {records}");
            assert!(largest <= records, "batch of {largest} > {records}");
        }
    }

    #[test]
    fn duplicated_ids_are_counted_across_batches() {
        let ids = ["a", "b", "a", "c", "b", "a"];
        let records: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                record(
                    id,
                    format!(r#"{{"data":{{"id":"{i}","text":"x"}}}}"#).as_bytes(),
                )
            })
            .collect();
        let event = FirehoseEvent {
            records,
            ..FirehoseEvent::default()
        };
        for batch in [1, 2, 4, usize::MAX] {
            let (resp, report, _) = run_in_batches(&event, batch);
            assert_eq!(report.duplicate_record_ids, 3, "batches of {batch}");
            let got: Vec<_> = resp.records.iter().map(|r| r.record_id.as_str()).collect();
            assert_eq!(got, ids);
        }
    }

    #[test]
    fn duplicated_ids_are_answered_in_place_and_counted() {
        let (resp, report) = run(
            Config::default(),
            vec![
                record("same", br#"{"data":{"id":"1","text":"a"}}"#),
                record("same", br#"{"data":{"id":"2","text":"b"}}"#),
            ],
        );
        assert_eq!(resp.records.len(), 2);
        assert!(resp
            .records
            .iter()
            .all(|r| r.record_id == "same" && r.result == RecordResult::Ok));
        assert_eq!(report.duplicate_record_ids, 1);
    }
}
