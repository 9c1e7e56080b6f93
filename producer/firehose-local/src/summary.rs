//! What the local stream did: each stage counts what it did and hands its counts over at
//! the end ([`Processed`], [`Delivered`]); [`LocalSummary`] puts them together. Every
//! record that entered is exactly one of: indexed, dropped by the policy, backed up, or
//! (when the backup itself could not be written) kept in the journal for the next start.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Per category: (documents, sum of sentiment scores, documents with a score).
    pub categories: BTreeMap<String, (u64, f64, u64)>,
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

    /// The cats-vs-dogs verdict: the tag (other than `multiple` / `uncategorized`) with the
    /// highest mean sentiment, with every tag's mean.
    pub fn verdict(&self) -> Option<String> {
        let means: Vec<(&String, f64, u64)> = self
            .delivered
            .categories
            .iter()
            .filter(|(k, (_, _, scored))| {
                *scored > 0 && k.as_str() != "multiple" && k.as_str() != "uncategorized"
            })
            .map(|(k, (n, sum, scored))| (k, sum / *scored as f64, *n))
            .collect();
        let best = means.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let parts: Vec<String> = means
            .iter()
            .map(|(k, m, n)| format!("{k} {m:+.3} ({n} posts)"))
            .collect();
        Some(format!("{} win: {}", best.0, parts.join(" vs ")))
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
        for (k, (n, sum, scored)) in &self.delivered.categories {
            let mean = if *scored > 0 {
                format!("{:+.3}", sum / *scored as f64)
            } else {
                "-".into()
            };
            row(
                &format!("category {k} (mean sentiment)"),
                format!("{n} ({mean})"),
            );
        }
        row("backup objects", self.backup_objects().len().to_string());
        if self.journaled > 0 {
            row(
                "left in the journal for the next start",
                self.journaled.to_string(),
            );
        }
        if let Some(v) = self.verdict() {
            s.push_str(&format!("  verdict: {v}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_the_happier_tag_and_every_record_is_accounted() {
        let mut s = LocalSummary::default();
        s.delivered.categories.insert("cats".into(), (10, 2.0, 10));
        s.delivered.categories.insert("dogs".into(), (10, 3.0, 10));
        s.delivered
            .categories
            .insert("multiple".into(), (1, 1.0, 1));
        let v = s.verdict().unwrap();
        assert!(
            v.starts_with("dogs win: cats +0.200 (10 posts) vs dogs +0.300 (10 posts)"),
            "{v}"
        );
        s.delivered.indexed = 20;
        s.processed.dropped.insert("retweet".into(), 2);
        s.processed.failed.insert("invalid_json".into(), 1);
        s.delivered.kept.insert("Dir.WriteFailed".into(), 4);
        assert_eq!(s.accounted(), 27);
        assert!(s
            .table()
            .contains("NOT DELIVERED, in the journal: Dir.WriteFailed"));
    }
}
