//! What the local stream did: each stage counts what it did and hands its counts over at
//! the end ([`Processed`], [`Delivered`]); [`LocalSummary`] puts them together. Every
//! record that entered is exactly one of: indexed, dropped by the policy, backed up, or
//! (when the backup itself could not be written) kept in the journal for the next start.

use std::collections::BTreeMap;
use std::time::Duration;

use search_store::verdict::{verdict, TagStats, Verdict};

use crate::live::Freshness;

/// One tag's documents and sentiment scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TagAcc {
    /// Documents.
    pub docs: u64,
    /// Documents with a score.
    pub scored: u64,
    /// Sum of scores.
    pub sum: f64,
    /// Sum of squared scores.
    pub sum_of_squares: f64,
}

impl TagAcc {
    /// Counts a document, and its score when it has one.
    pub fn add(&mut self, score: Option<f64>) {
        self.docs += 1;
        if let Some(s) = score {
            self.scored += 1;
            self.sum += s;
            self.sum_of_squares += s * s;
        }
    }
}

/// What the processing stage did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Processed {
    /// Records taken in (new and recovered).
    pub records: u64,
    /// Processor invocations.
    pub invocations: u64,
    /// Records the processor returned `Ok`.
    pub ok: u64,
    /// Records the processor dropped, per reason.
    pub dropped: BTreeMap<String, u64>,
    /// Records backed up under `processing-failed/`, per reason or error code.
    pub failed: BTreeMap<String, u64>,
    /// Records whose `processing-failed/` backup could not be written, per cause.
    pub kept: BTreeMap<String, u64>,
    /// Backup objects written.
    pub backup_objects: Vec<String>,
    /// Time spent in the processor (the transform, or the Lambda invoke).
    pub busy: Duration,
}

/// What the delivery stage did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivered {
    /// Documents indexed.
    pub indexed: u64,
    /// Documents backed up under `AmazonOpenSearchService-failed/`, per error code.
    pub failed: BTreeMap<String, u64>,
    /// Documents neither indexed nor backed up (the backup failed), per cause.
    pub kept: BTreeMap<String, u64>,
    /// Per tag (a post with two tags counts for each).
    pub categories: BTreeMap<String, TagAcc>,
    /// Backup objects written.
    pub backup_objects: Vec<String>,
    /// Time spent delivering (`_bulk` round trips and retries, file writes).
    pub busy: Duration,
}

/// What the local stream did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalSummary {
    /// Records received (acknowledged) through the wire protocol.
    pub received: u64,
    /// Records from the journal, acknowledged before a stop and delivered now.
    pub recovered: u64,
    /// The processing stage.
    pub processed: Processed,
    /// The delivery stage.
    pub delivered: Delivered,
    /// Records still in the journal at the end (delivered on the next start).
    pub journaled: u64,
    /// From read (or arrival) to searchable.
    pub freshness: Option<Freshness>,
    /// Topic spikes, on event time.
    pub spikes: Vec<crate::spikes::Spike>,
}

fn add(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl LocalSummary {
    /// Documents indexed.
    pub fn indexed(&self) -> u64 {
        self.delivered.indexed
    }

    /// Records neither delivered nor backed up, per cause (they stay in the journal).
    pub fn kept(&self) -> BTreeMap<String, u64> {
        let mut out = self.processed.kept.clone();
        add(&mut out, &self.delivered.kept);
        out
    }

    /// Backup objects written.
    pub fn backup_objects(&self) -> Vec<String> {
        let mut out = self.processed.backup_objects.clone();
        out.extend(self.delivered.backup_objects.iter().cloned());
        out
    }

    /// Records accounted for: indexed + dropped + backed up + kept in the journal.
    pub fn accounted(&self) -> u64 {
        self.delivered.indexed
            + self.processed.dropped.values().sum::<u64>()
            + self.processed.failed.values().sum::<u64>()
            + self.delivered.failed.values().sum::<u64>()
            + self.kept().values().sum::<u64>()
    }

    /// Each tag's scores.
    pub fn tag_stats(&self) -> Vec<TagStats> {
        self.delivered
            .categories
            .iter()
            .map(|(tag, a)| TagStats {
                tag: tag.clone(),
                n: a.scored,
                sum: a.sum,
                sum_of_squares: a.sum_of_squares,
            })
            .collect()
    }

    /// The cats-vs-dogs verdict, with its confidence.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.tag_stats())
    }

    /// The end-of-run table.
    pub fn table(&self) -> String {
        let mut s = String::from("\nlocal delivery stream\n");
        let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<34} {v:>10}\n"));
        row("records in", self.received.to_string());
        if self.recovered > 0 {
            row("recovered from the journal", self.recovered.to_string());
        }
        row(
            "processor invocations",
            self.processed.invocations.to_string(),
        );
        row("Ok", self.processed.ok.to_string());
        for (k, v) in &self.processed.dropped {
            row(&format!("Dropped: {k}"), v.to_string());
        }
        for (k, v) in &self.processed.failed {
            row(&format!("ProcessingFailed: {k}"), v.to_string());
        }
        row("indexed", self.delivered.indexed.to_string());
        for (k, v) in &self.delivered.failed {
            row(&format!("not indexed, backed up: {k}"), v.to_string());
        }
        for (k, v) in &self.kept() {
            row(
                &format!("NOT DELIVERED, in the journal: {k}"),
                v.to_string(),
            );
        }
        for t in self.tag_stats() {
            let docs = self.delivered.categories.get(&t.tag).map_or(0, |a| a.docs);
            row(&format!("tag {}", t.tag), docs.to_string());
        }
        row("backup objects", self.backup_objects().len().to_string());
        if self.journaled > 0 {
            row(
                "left in the journal for the next start",
                self.journaled.to_string(),
            );
        }
        if let Some(f) = self.freshness {
            let from = if f.from_read == f.count {
                "read"
            } else {
                "arrival"
            };
            row(
                &format!("freshness ({from} to searchable)"),
                format!(
                    "p50 {:.2} s, p95 {:.2} s",
                    f.p50_ms as f64 / 1e3,
                    f.p95_ms as f64 / 1e3
                ),
            );
        }
        match self.spikes.len() {
            0 if self.delivered.indexed > 0 => {
                s.push_str("  spikes: none (no tag far above its own last hour)\n")
            }
            0 => {}
            _ => {
                s.push_str("  spikes:\n");
                for spike in &self.spikes {
                    s.push_str(&format!("    {spike}\n"));
                }
            }
        }
        if self.delivered.indexed > 0 {
            s.push_str(&format!("  verdict: {}\n", self.verdict()));
            for t in self.tag_stats().iter().filter(|t| t.n > 0) {
                s.push_str(&format!(
                    "    {:<12} mean sentiment {}\n",
                    t.tag,
                    t.describe()
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_says_how_sure_it_is_and_every_record_is_accounted() {
        let mut s = LocalSummary::default();
        for (tag, scores) in [
            ("cats", [0.1, 0.2, 0.3, 0.2]),
            ("dogs", [0.7, 0.8, 0.9, 0.8]),
        ] {
            let acc = s.delivered.categories.entry(tag.into()).or_default();
            for x in scores {
                acc.add(Some(x));
            }
        }
        assert!(matches!(s.verdict(), Verdict::Winner { ref tag, .. } if tag == "dogs"));
        s.delivered.indexed = 20;
        s.processed.dropped.insert("retweet".into(), 2);
        s.processed.failed.insert("invalid_json".into(), 1);
        s.delivered.kept.insert("Dir.WriteFailed".into(), 4);
        assert_eq!(s.accounted(), 27);
        let table = s.table();
        assert!(
            table.contains("NOT DELIVERED, in the journal: Dir.WriteFailed"),
            "{table}"
        );
        assert!(table.contains("verdict: dogs win"), "{table}");
        assert!(
            table.contains("cats         mean sentiment +0.200 ± "),
            "{table}"
        );
    }
}
