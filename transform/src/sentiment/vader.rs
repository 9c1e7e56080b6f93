//! Local VADER: the lexicon and rules of Python vaderSentiment 3.3.2, through the
//! `vader-parity` crate (identical scores on 45,000 texts), labelled with VADER's
//! published thresholds.

use std::time::Instant;

use vader_parity::SentimentIntensityAnalyzer;

use super::{
    Analysis, Analyzer, AnalyzerStats, Label, Sentiment, SentimentRequest, LOCAL_BATCH_RECORDS,
};

/// Local VADER, with output identical to Python vaderSentiment 3.3.2.
pub struct Vader {
    inner: SentimentIntensityAnalyzer,
}

impl Vader {
    /// Builds the analyzer (parses the lexicons once; do it at cold start).
    pub fn new() -> Self {
        Vader {
            inner: SentimentIntensityAnalyzer::new(),
        }
    }

    /// Scores one text.
    ///
    /// The label uses VADER's published thresholds: compound ≥ 0.05 is POSITIVE,
    /// ≤ −0.05 NEGATIVE, otherwise NEUTRAL.
    pub fn score(&self, text: &str) -> Sentiment {
        let s = self.inner.polarity_scores(text);
        let label = if s.compound >= 0.05 {
            Label::Positive
        } else if s.compound <= -0.05 {
            Label::Negative
        } else {
            Label::Neutral
        };
        Sentiment {
            label,
            score: s.compound,
            positive: s.pos,
            negative: s.neg,
            neutral: s.neu,
            mixed: 0.0,
            analyzer: "vader",
            fallback: false,
        }
    }
}

impl Default for Vader {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer for Vader {
    fn name(&self) -> &'static str {
        "vader"
    }

    fn batch_records(&self) -> usize {
        LOCAL_BATCH_RECORDS
    }

    async fn analyze(
        &self,
        batch: &[SentimentRequest<'_>],
        _deadline: Option<Instant>,
    ) -> Analysis {
        Analysis {
            sentiments: batch.iter().map(|r| Some(self.score(r.text))).collect(),
            stats: AnalyzerStats::default(),
        }
    }
}
