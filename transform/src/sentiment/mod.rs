//! Sentiment analysis behind one small trait: texts in, one [`Sentiment`] (or none) per
//! text out, always in the same schema whichever analyzer produced it.
//!
//! The analyzer sees a whole batch at once so that remote backends can batch their
//! calls; the local VADER analyzer scores each text on its own.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;

mod comprehend;
mod vader;

pub use comprehend::{Comprehend, ComprehendConfig, OtherLanguages};
pub use vader::Vader;

/// Which sentiment analyzer fills `sentiment` (`SENTIMENT_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentimentBackend {
    /// Local VADER, identical to Python vaderSentiment 3.3.2.
    Vader,
    /// Amazon Comprehend `BatchDetectSentiment`, VADER for other languages and as fallback.
    Comprehend,
    /// No sentiment: `sentiment` is `null`.
    None,
}

/// Overall polarity of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Label {
    /// Clearly positive.
    Positive,
    /// Clearly negative.
    Negative,
    /// Neither.
    Neutral,
    /// Both positive and negative (Comprehend only; VADER never says MIXED).
    Mixed,
}

impl Label {
    /// The label as stored in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Positive => "POSITIVE",
            Label::Negative => "NEGATIVE",
            Label::Neutral => "NEUTRAL",
            Label::Mixed => "MIXED",
        }
    }
}

/// The `sentiment` object of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    /// Overall label.
    pub label: Label,
    /// Polarity in [-1, 1]: VADER's compound, or Comprehend's positive − negative.
    pub score: f64,
    /// Share or confidence of the positive class, in [0, 1].
    pub positive: f64,
    /// Share or confidence of the negative class, in [0, 1].
    pub negative: f64,
    /// Share or confidence of the neutral class, in [0, 1].
    pub neutral: f64,
    /// Confidence of the mixed class, in [0, 1] (0 for VADER).
    pub mixed: f64,
    /// Which analyzer produced this value (`vader`, `comprehend`).
    pub analyzer: &'static str,
    /// The configured analyzer could not score this text; `analyzer` stood in for it.
    pub fallback: bool,
}

/// Counters of one analyzer batch, for the invocation's log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AnalyzerStats {
    /// Remote calls made (every attempt).
    pub calls: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Comprehend billing units used (100 characters, at least 3 per document).
    pub units: u64,
    /// Texts the fallback analyzer scored because the remote one could not.
    pub fallback: u64,
    /// Texts not sent because an identical text in the same language was.
    pub deduplicated: u64,
    /// Texts in languages the remote analyzer does not score (handled locally or left out).
    pub routed_local: u64,
}

impl AnalyzerStats {
    /// Adds another batch's counters.
    pub fn merge(&mut self, other: &AnalyzerStats) {
        self.calls += other.calls;
        self.retries += other.retries;
        self.units += other.units;
        self.fallback += other.fallback;
        self.deduplicated += other.deduplicated;
        self.routed_local += other.routed_local;
    }
}

/// What an analyzer made of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// One entry per request, in order; `None` when the text gets no sentiment.
    pub sentiments: Vec<Option<Sentiment>>,
    /// The batch's counters.
    pub stats: AnalyzerStats,
}

/// One text to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentimentRequest<'a> {
    /// The cleaned post text.
    pub text: &'a str,
    /// The post's language code, when known.
    pub lang: Option<&'a str>,
}

/// A sentiment analyzer.
pub trait Analyzer {
    /// Short name for logs (`vader`, `none`).
    fn name(&self) -> &'static str;

    /// How many records the handler reads before it asks for scores: a remote analyzer
    /// wants the whole event at once (it batches and parallelises its calls), a local one
    /// scores small batches, so each record is read, scored and written while its bytes are
    /// still in cache.
    fn batch_records(&self) -> usize {
        usize::MAX
    }

    /// Scores a batch: exactly one entry per request, in order. `deadline` is when the
    /// invocation must have answered (remote analyzers stop retrying before it).
    fn analyze(
        &self,
        batch: &[SentimentRequest<'_>],
        deadline: Option<Instant>,
    ) -> impl Future<Output = Analysis> + Send;
}

/// The analyzer chosen by `SENTIMENT_BACKEND`.
pub enum Backend {
    /// Local VADER.
    Vader(Vader),
    /// Amazon Comprehend, with VADER for other languages and as fallback.
    Comprehend(Box<Comprehend>),
    /// No sentiment.
    None,
}

impl Backend {
    /// Builds the chosen analyzer (the Comprehend client from the default AWS provider
    /// chain, configured by `comprehend`).
    pub async fn build(backend: SentimentBackend, comprehend: &ComprehendConfig) -> Self {
        match backend {
            SentimentBackend::Vader => Backend::Vader(Vader::new()),
            SentimentBackend::Comprehend => {
                Backend::Comprehend(Box::new(Comprehend::from_env(comprehend.clone()).await))
            }
            SentimentBackend::None => Backend::None,
        }
    }

    /// Builds a local analyzer (VADER or none); `None` for Comprehend, which needs a client.
    pub fn local(backend: SentimentBackend) -> Option<Self> {
        match backend {
            SentimentBackend::Vader => Some(Backend::Vader(Vader::new())),
            SentimentBackend::None => Some(Backend::None),
            SentimentBackend::Comprehend => None,
        }
    }
}

/// Records per batch for local analyzers (and none): small enough that a batch's decoded
/// payloads and documents stay in the CPU cache between reading and writing.
pub const LOCAL_BATCH_RECORDS: usize = 32;

impl Analyzer for Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Vader(v) => v.name(),
            Backend::Comprehend(_) => "comprehend",
            Backend::None => "none",
        }
    }

    fn batch_records(&self) -> usize {
        match self {
            Backend::Vader(v) => v.batch_records(),
            Backend::Comprehend(_) => usize::MAX,
            Backend::None => LOCAL_BATCH_RECORDS,
        }
    }

    async fn analyze(&self, batch: &[SentimentRequest<'_>], deadline: Option<Instant>) -> Analysis {
        match self {
            Backend::Vader(v) => v.analyze(batch, deadline).await,
            Backend::Comprehend(c) => c.analyze(batch, deadline).await,
            Backend::None => Analysis {
                sentiments: vec![None; batch.len()],
                stats: AnalyzerStats::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vader_scores_match_the_python_reference() {
        // Values printed by Python vaderSentiment 3.3.2's polarity_scores.
        let v = Vader::new();
        let s = v.score("VADER is smart, handsome, and funny.");
        assert_eq!((s.negative, s.neutral, s.positive), (0.0, 0.254, 0.746));
        assert_eq!(s.score, 0.8316);
        assert_eq!(s.label, Label::Positive);
        let s = v.score("my dog is not good at all");
        assert_eq!(s.label, Label::Negative);
        assert_eq!(v.score("the cat is in the box").label, Label::Neutral);
    }

    #[test]
    fn labels_follow_the_compound_thresholds() {
        let v = Vader::new();
        for text in [
            "I love my cat",
            "I hate this",
            "ok",
            "awful but great",
            "meh :)",
        ] {
            let s = v.score(text);
            let want = if s.score >= 0.05 {
                Label::Positive
            } else if s.score <= -0.05 {
                Label::Negative
            } else {
                Label::Neutral
            };
            assert_eq!(s.label, want, "{text}");
            assert!((-1.0..=1.0).contains(&s.score));
        }
    }

    #[test]
    fn backend_none_gives_one_empty_entry_per_text() {
        let batch = [
            SentimentRequest {
                text: "a",
                lang: None,
            },
            SentimentRequest {
                text: "b",
                lang: Some("en"),
            },
        ];
        let got = block_on(Backend::None.analyze(&batch, None));
        assert_eq!(got.sentiments, vec![None, None]);
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
