//! Amazon Comprehend as a sentiment backend, done the way a bill-paying user wants it.
//!
//! In: the invocation's texts with their languages. Out: one [`Sentiment`] per text.
//! Texts in Comprehend's sentiment languages go out through `BatchDetectSentiment`, 25
//! per call, several calls in flight; identical texts are sent once; each text is cut to
//! 5,000 UTF-8 bytes on a character boundary. Other and unknown languages go to the
//! local analyzer (or get no sentiment). Throttling and server errors are retried with
//! capped exponential backoff and full jitter while the Lambda deadline allows; whatever
//! Comprehend cannot score in time (including per-document `ErrorList` entries) is
//! scored by the local VADER analyzer and flagged `fallback`. Nothing fails the batch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_comprehend::error::ProvideErrorMetadata;
use aws_sdk_comprehend::types::{LanguageCode, SentimentType};
use aws_sdk_comprehend::Client;
use futures_util::stream::{self, StreamExt};
use tracing::{debug, warn};

use super::{Analysis, AnalyzerStats, Label, Sentiment, SentimentRequest, Vader};
use retry::{GaveUp, Policy, Schedule, Stop, Verdict};

/// Documents per `BatchDetectSentiment` call (the API's limit).
pub const BATCH_SIZE: usize = 25;
/// Largest text Comprehend accepts, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 5_000;

/// What happens to texts in languages Comprehend cannot score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherLanguages {
    /// Score them with the local VADER analyzer.
    Vader,
    /// Leave them without sentiment.
    None,
}

/// Settings of the Comprehend backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComprehendConfig {
    /// `COMPREHEND_ENDPOINT_URL`: another endpoint (tests, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// `COMPREHEND_CONCURRENCY`: calls in flight at once.
    pub concurrency: usize,
    /// `COMPREHEND_OTHER_LANGUAGES`: languages Comprehend cannot score.
    pub other_languages: OtherLanguages,
    /// `COMPREHEND_MAX_ATTEMPTS`: attempts per call (first try included).
    pub max_attempts: u32,
    /// Retry delays: 100 ms doubling up to 5 s, full jitter.
    pub backoff: Schedule,
    /// `COMPREHEND_DEADLINE_MARGIN_MS`: time kept before the Lambda deadline for the
    /// fallback and the response.
    pub deadline_margin: Duration,
}

impl Default for ComprehendConfig {
    fn default() -> Self {
        ComprehendConfig {
            endpoint_url: None,
            concurrency: 4,
            other_languages: OtherLanguages::Vader,
            max_attempts: 6,
            backoff: Schedule::new(Duration::from_millis(100), Duration::from_secs(5)),
            deadline_margin: Duration::from_millis(1_500),
        }
    }
}

/// Comprehend's language code for a post's language, if Comprehend scores it.
pub fn language_code(lang: Option<&str>) -> Option<LanguageCode> {
    let lang = lang?.to_ascii_lowercase();
    let code = match lang.as_str() {
        "ar" => LanguageCode::Ar,
        "hi" => LanguageCode::Hi,
        "ko" => LanguageCode::Ko,
        "zh-tw" | "zh-hant" => LanguageCode::ZhTw,
        "ja" => LanguageCode::Ja,
        "zh" | "zh-cn" | "zh-hans" => LanguageCode::Zh,
        "de" => LanguageCode::De,
        "pt" | "pt-br" | "pt-pt" => LanguageCode::Pt,
        "en" | "en-us" | "en-gb" => LanguageCode::En,
        "it" => LanguageCode::It,
        "fr" => LanguageCode::Fr,
        "es" => LanguageCode::Es,
        _ => return None,
    };
    Some(code)
}

/// Cuts `text` to at most `max` UTF-8 bytes, on a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Comprehend's billing units for one document: 100 characters each, at least 3.
pub fn units(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(100).max(3)
}

/// Whether a Comprehend error is worth retrying: throttling, server-side and transport errors.
pub fn retryable(code: Option<&str>, status: Option<u16>) -> bool {
    const CODES: [&str; 6] = [
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerException",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    ];
    retry::classify::transient_aws(code, status, &CODES)
}

/// Time for one `BatchDetectSentiment` call (25 texts) and its answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// The Comprehend backend.
pub struct Comprehend {
    client: Client,
    config: ComprehendConfig,
    local: Vader,
}

/// One chunk of distinct texts of one language.
struct Chunk<'a> {
    language: LanguageCode,
    /// (index into the distinct texts, text as sent)
    texts: Vec<(usize, &'a str)>,
}

/// What one chunk came back with.
struct ChunkOutcome {
    scored: Vec<(usize, Sentiment)>,
    unscored: Vec<usize>,
    calls: u64,
    retries: u64,
    units: u64,
    error: Option<String>,
}

impl Comprehend {
    /// A backend over this SDK client.
    pub fn new(client: Client, config: ComprehendConfig) -> Self {
        Comprehend {
            client,
            config,
            local: Vader::new(),
        }
    }

    /// Builds the SDK client from the default provider chain (region, credentials) and
    /// the configured endpoint, with the SDK's own retries off (ours know the deadline)
    /// and the workspace's connect and read timeouts.
    pub async fn from_env(config: ComprehendConfig) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(retry::Timeouts::DEFAULT.sdk());
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        Comprehend::new(Client::new(&shared), config)
    }

    /// Scores a batch; see the module documentation for the policy.
    pub async fn analyze(
        &self,
        batch: &[SentimentRequest<'_>],
        deadline: Option<Instant>,
    ) -> Analysis {
        let mut stats = AnalyzerStats::default();
        let mut out: Vec<Option<Sentiment>> = vec![None; batch.len()];

        // Distinct (language, text) pairs; every request points at one.
        let mut distinct: Vec<(LanguageCode, &str)> = Vec::new();
        let mut seen: HashMap<(LanguageCode, &str), usize> = HashMap::new();
        let mut owner: Vec<Option<usize>> = Vec::with_capacity(batch.len());
        for (i, req) in batch.iter().enumerate() {
            let text = truncate_utf8(req.text, MAX_TEXT_BYTES);
            match language_code(req.lang) {
                Some(code) if !text.trim().is_empty() => {
                    let key = (code.clone(), text);
                    let idx = *seen.entry(key).or_insert_with(|| {
                        distinct.push((code, text));
                        distinct.len() - 1
                    });
                    owner.push(Some(idx));
                }
                _ => {
                    stats.routed_local += 1;
                    if self.config.other_languages == OtherLanguages::Vader {
                        out[i] = Some(self.local.score(req.text));
                    }
                    owner.push(None);
                }
            }
        }
        stats.deduplicated = (owner.iter().flatten().count() - distinct.len()) as u64;

        // Chunks of at most 25 texts of one language.
        let mut by_language: Vec<(LanguageCode, Vec<(usize, &str)>)> = Vec::new();
        for (idx, (code, text)) in distinct.iter().enumerate() {
            match by_language.iter_mut().find(|(c, _)| c == code) {
                Some((_, texts)) => texts.push((idx, text)),
                None => by_language.push((code.clone(), vec![(idx, text)])),
            }
        }
        let chunks: Vec<Chunk<'_>> = by_language
            .into_iter()
            .flat_map(|(language, texts)| {
                texts
                    .chunks(BATCH_SIZE)
                    .map(|c| Chunk {
                        language: language.clone(),
                        texts: c.to_vec(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();

        // The calls are built first so the stream holds futures, not a closure over
        // borrowed chunks (which would not be Send for every lifetime).
        let calls: Vec<_> = chunks
            .into_iter()
            .map(|chunk| self.call_chunk(chunk, deadline))
            .collect();
        let outcomes: Vec<ChunkOutcome> = stream::iter(calls)
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;

        let mut scores: Vec<Option<Sentiment>> = vec![None; distinct.len()];
        let mut first_error = None;
        for outcome in outcomes {
            stats.calls += outcome.calls;
            stats.retries += outcome.retries;
            stats.units += outcome.units;
            for (idx, s) in outcome.scored {
                scores[idx] = Some(s);
            }
            for idx in outcome.unscored {
                let mut s = self.local.score(distinct[idx].1);
                s.fallback = true;
                scores[idx] = Some(s);
            }
            if first_error.is_none() {
                first_error = outcome.error;
            }
        }
        for (i, owner) in owner.iter().enumerate() {
            if let Some(idx) = owner {
                out[i] = scores[*idx].clone();
                if out[i].as_ref().is_some_and(|s| s.fallback) {
                    stats.fallback += 1;
                }
            }
        }
        if stats.fallback > 0 {
            warn!(
                fallback = stats.fallback,
                error = first_error.as_deref().unwrap_or("per-document errors"),
                "comprehend could not score every text; the local analyzer scored the rest"
            );
        }
        Analysis {
            sentiments: out,
            stats,
        }
    }

    /// One `BatchDetectSentiment` call with retries; never fails, reports what it could not score.
    async fn call_chunk(&self, chunk: Chunk<'_>, deadline: Option<Instant>) -> ChunkOutcome {
        let mut outcome = ChunkOutcome {
            scored: Vec::new(),
            unscored: Vec::new(),
            calls: 0,
            retries: 0,
            units: 0,
            error: None,
        };
        let texts: Vec<String> = chunk.texts.iter().map(|(_, t)| t.to_string()).collect();
        let cutoff = deadline.map(|d| d.checked_sub(self.config.deadline_margin).unwrap_or(d));
        let policy = Policy::attempts(
            self.config.backoff,
            self.config.max_attempts,
            ATTEMPT_TIMEOUT,
        );
        let result = retry::run(
            policy.until(cutoff),
            "comprehend BatchDetectSentiment",
            &Stop::never(),
            |_| {
                let send = self
                    .client
                    .batch_detect_sentiment()
                    .set_text_list(Some(texts.clone()))
                    .language_code(chunk.language.clone())
                    .send();
                async move {
                    match send.await {
                        Ok(resp) => Verdict::Done(resp),
                        Err(err) => {
                            let status = err.raw_response().map(|r| r.status().as_u16());
                            let code = err.code().map(str::to_string);
                            let message = format!(
                                "{}{}",
                                code.as_deref().unwrap_or("transport error"),
                                status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                            );
                            match retryable(code.as_deref(), status) {
                                true => Verdict::Retry(message),
                                false => Verdict::Reject(message),
                            }
                        }
                    }
                }
            },
        )
        .await;
        let attempts = match &result {
            Ok(s) => s.attempts,
            Err(f) => f.attempts,
        };
        outcome.calls = u64::from(attempts);
        outcome.retries = u64::from(attempts.saturating_sub(1));
        match result {
            Ok(success) => {
                let resp = success.value;
                let mut answered = vec![false; texts.len()];
                for item in resp.result_list() {
                    let Some(pos) = item.index().and_then(|i| usize::try_from(i).ok()) else {
                        continue;
                    };
                    let Some((idx, text)) = chunk.texts.get(pos) else {
                        continue;
                    };
                    if let Some(s) = to_sentiment(item.sentiment(), item.sentiment_score()) {
                        outcome.scored.push((*idx, s));
                        outcome.units += units(text);
                        answered[pos] = true;
                    }
                }
                for e in resp.error_list() {
                    debug!(
                        index = e.index(),
                        code = e.error_code(),
                        "comprehend document error"
                    );
                    if outcome.error.is_none() {
                        outcome.error = Some(format!(
                            "document error {}",
                            e.error_code().unwrap_or("unknown")
                        ));
                    }
                }
                outcome.unscored.extend(
                    answered
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| !**a)
                        .map(|(pos, _)| chunk.texts[pos].0),
                );
                return outcome;
            }
            Err(failure) => {
                outcome.error = Some(match (&failure.last, failure.gave_up) {
                    (_, GaveUp::OutOfTime) if failure.timed_out || failure.last.is_none() => {
                        "comprehend did not answer before the deadline".into()
                    }
                    (Some(last), _) => last.clone(),
                    (None, _) => failure.to_string(),
                });
            }
        }
        outcome
            .unscored
            .extend(chunk.texts.iter().map(|(idx, _)| *idx));
        outcome
    }
}

fn to_sentiment(
    label: Option<&SentimentType>,
    score: Option<&aws_sdk_comprehend::types::SentimentScore>,
) -> Option<Sentiment> {
    let label = match label? {
        SentimentType::Positive => Label::Positive,
        SentimentType::Negative => Label::Negative,
        SentimentType::Neutral => Label::Neutral,
        SentimentType::Mixed => Label::Mixed,
        _ => return None,
    };
    let score = score?;
    let f = |v: Option<f32>| round4(f64::from(v.unwrap_or(0.0)));
    let (positive, negative) = (f(score.positive()), f(score.negative()));
    Some(Sentiment {
        label,
        score: round4(positive - negative),
        positive,
        negative,
        neutral: f(score.neutral()),
        mixed: f(score.mixed()),
        analyzer: "comprehend",
        fallback: false,
    })
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_route_to_comprehend_codes() {
        assert_eq!(language_code(Some("en")), Some(LanguageCode::En));
        assert_eq!(language_code(Some("zh-TW")), Some(LanguageCode::ZhTw));
        assert_eq!(language_code(Some("PT")), Some(LanguageCode::Pt));
        assert_eq!(language_code(Some("ru")), None);
        assert_eq!(language_code(Some("und")), None);
        assert_eq!(language_code(None), None);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        let text = "é".repeat(3000); // 6000 bytes
        let cut = truncate_utf8(&text, MAX_TEXT_BYTES);
        assert_eq!(cut.len(), 5000);
        let text = format!("a{}", "🐱".repeat(2000)); // 1 + 8000 bytes
        let cut = truncate_utf8(&text, MAX_TEXT_BYTES);
        assert_eq!(cut.len(), 4997);
        assert!(cut.ends_with('🐱'));
        assert_eq!(truncate_utf8("short", 5000), "short");
    }

    #[test]
    fn units_are_hundreds_of_characters_at_least_three() {
        assert_eq!(units(""), 3);
        assert_eq!(units(&"x".repeat(300)), 3);
        assert_eq!(units(&"x".repeat(301)), 4);
        assert_eq!(units(&"é".repeat(1000)), 10);
    }

    #[test]
    fn retry_selection() {
        assert!(retryable(Some("ThrottlingException"), Some(400)));
        assert!(retryable(Some("InternalServerException"), Some(500)));
        assert!(retryable(None, Some(503)));
        assert!(retryable(None, None));
        assert!(!retryable(Some("InvalidRequestException"), Some(400)));
        assert!(!retryable(
            Some("TextSizeLimitExceededException"),
            Some(400)
        ));
        assert!(!retryable(Some("UnsupportedLanguageException"), Some(400)));
    }
}
