//! What one invocation did ([`Report`]: counts per outcome and reason, bytes, time), and
//! how an outcome is counted.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::sentiment::AnalyzerStats;

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
    /// Per primary category: documents with a sentiment score, and the sum of the scores.
    pub category_scores: BTreeMap<String, (u64, f64)>,
    /// `Ok` documents per sentiment label (`none` when the analyzer gave none).
    pub sentiment_labels: BTreeMap<&'static str, u64>,
    /// `Ok` documents with a `location`.
    pub located: u64,
    /// `Ok` documents kept without (part of) their `geo`, per problem (`bad_bbox`, ...).
    pub geo_problems: BTreeMap<&'static str, u64>,
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
    pub(super) fn count(&mut self, outcomes: &[Outcome], categories: Categories) {
        let mut per_category = vec![0u64; categories.names.len()];
        let mut scores = vec![(0u64, 0.0f64); categories.names.len()];
        // A handful of labels: counted in a short list, put in the map once each.
        let mut per_label: Vec<(&'static str, u64)> = Vec::new();
        self.reasons.reserve(outcomes.len());
        for outcome in outcomes {
            match *outcome {
                Outcome::Ok {
                    category,
                    label,
                    score,
                    located,
                    geo_problem,
                } => {
                    self.ok += 1;
                    self.located += u64::from(located);
                    if let Some(problem) = geo_problem {
                        *self.geo_problems.entry(problem).or_default() += 1;
                    }
                    per_category[category] += 1;
                    if let Some(s) = score {
                        scores[category].0 += 1;
                        scores[category].1 += s;
                    }
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
        for ((name, n), (scored, sum)) in categories.names.into_iter().zip(per_category).zip(scores)
        {
            if scored > 0 {
                let e = self.category_scores.entry(name.clone()).or_default();
                e.0 += scored;
                e.1 += sum;
            }
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
        for (k, (n, sum)) in &other.category_scores {
            let e = self.category_scores.entry(k.clone()).or_default();
            e.0 += n;
            e.1 += sum;
        }
        self.located += other.located;
        for (k, v) in &other.geo_problems {
            *self.geo_problems.entry(k).or_default() += v;
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
pub(super) enum Outcome {
    /// `Ok`: index into [`Categories`], sentiment label (`none` without one), score.
    Ok {
        category: usize,
        label: &'static str,
        score: Option<f64>,
        /// Whether the document has a `location`.
        located: bool,
        /// What of its `geo` could not be read.
        geo_problem: Option<&'static str>,
    },
    Dropped(&'static str),
    Failed(&'static str),
}

/// The distinct primary categories of an invocation (a handful), in first-seen order.
#[derive(Default)]
pub(super) struct Categories {
    pub(super) names: Vec<String>,
}

impl Categories {
    pub(super) fn index(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }
}
