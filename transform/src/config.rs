//! Configuration of the transform, read once at cold start from environment variables.
//!
//! Every variable has a default; a value that cannot be used fails start-up with a
//! [`ConfigError`] naming the variable and the values it accepts.

use std::time::Duration;

use crate::document::geo::Regions;
use crate::error::ConfigError;
use crate::firehose::RESPONSE_LIMIT_BYTES;
pub use crate::sentiment::SentimentBackend;
use crate::sentiment::{Backend, ComprehendConfig, OtherLanguages};

/// What `category` holds when a post matched rules with different tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiCategory {
    /// `category` is `"multiple"`; `categories` lists every tag.
    Multiple,
    /// `category` is the tag of the first matching rule.
    First,
}

/// The transform's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DROP_RETWEETS`: drop retweets (they repeat the original's text).
    pub drop_retweets: bool,
    /// `LANGUAGES`: keep only posts in these languages (`None` keeps all).
    pub languages: Option<Vec<String>>,
    /// `MIN_TEXT_LENGTH`: drop posts whose cleaned text has fewer characters.
    pub min_text_length: usize,
    /// `MULTI_CATEGORY`: the primary category of a post that matched several tags.
    pub multi_category: MultiCategory,
    /// `SENTIMENT_BACKEND`: the analyzer.
    pub sentiment_backend: SentimentBackend,
    /// `METRICS_EMF`: also print the counters as CloudWatch Embedded Metric Format.
    pub metrics_emf: bool,
    /// `METRICS_CATEGORIES`: the categories with their own metric series (comma-separated;
    /// the rest are counted as `other`). Unset: the `metrics_top_categories` largest of
    /// each invocation.
    pub metrics_categories: Option<Vec<String>>,
    /// `METRICS_TOP_CATEGORIES`: without `METRICS_CATEGORIES`, how many categories of an
    /// invocation get their own series (1 to 100).
    pub metrics_top_categories: usize,
    /// `COMPREHEND_*`: the Comprehend backend's settings.
    pub comprehend: ComprehendConfig,
    /// `REGIONS_GEOJSON`: named regions; a located post gets the one containing it.
    pub regions: Option<std::sync::Arc<Regions>>,
    /// Largest response we return (Lambda's limit; lowered only in tests).
    pub response_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            drop_retweets: true,
            languages: None,
            min_text_length: 0,
            multi_category: MultiCategory::Multiple,
            sentiment_backend: SentimentBackend::Vader,
            metrics_emf: true,
            metrics_categories: None,
            metrics_top_categories: 10,
            comprehend: ComprehendConfig::default(),
            regions: None,
            response_limit: RESPONSE_LIMIT_BYTES,
        }
    }
}

impl Config {
    /// The analyzer this configuration chooses (built at cold start).
    pub async fn analyzer(&self) -> Backend {
        Backend::build(self.sentiment_backend, &self.comprehend).await
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value, if set).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("DROP_RETWEETS") {
            config.drop_retweets = parse_bool("DROP_RETWEETS", &v)?;
        }
        if let Some(v) = get("LANGUAGES") {
            config.languages = parse_languages(&v)?;
        }
        if let Some(v) = get("MIN_TEXT_LENGTH") {
            config.min_text_length = v.trim().parse().map_err(|_| ConfigError {
                variable: "MIN_TEXT_LENGTH",
                value: v.clone(),
                expected: "a whole number of characters, 0 or more",
            })?;
        }
        if let Some(v) = get("MULTI_CATEGORY") {
            config.multi_category = match v.trim().to_ascii_lowercase().as_str() {
                "multiple" => MultiCategory::Multiple,
                "first" => MultiCategory::First,
                _ => {
                    return Err(ConfigError {
                        variable: "MULTI_CATEGORY",
                        value: v,
                        expected: "one of: multiple, first",
                    })
                }
            };
        }
        if let Some(v) = get("SENTIMENT_BACKEND") {
            config.sentiment_backend = match v.trim().to_ascii_lowercase().as_str() {
                "vader" => SentimentBackend::Vader,
                "comprehend" => SentimentBackend::Comprehend,
                "none" => SentimentBackend::None,
                _ => {
                    return Err(ConfigError {
                        variable: "SENTIMENT_BACKEND",
                        value: v,
                        expected: "one of: vader, comprehend, none",
                    })
                }
            };
        }
        if let Some(v) = get("REGIONS_GEOJSON") {
            config.regions = Some(std::sync::Arc::new(Regions::load(v.trim())?));
        }
        if let Some(v) = get("METRICS_EMF") {
            config.metrics_emf = parse_bool("METRICS_EMF", &v)?;
        }
        if let Some(v) = get("METRICS_CATEGORIES") {
            let names: Vec<String> = v
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if names.is_empty() || names.len() > 100 || names.iter().any(|n| n == "other") {
                return Err(ConfigError {
                    variable: "METRICS_CATEGORIES",
                    value: v,
                    expected: "1 to 100 comma-separated category names, not \"other\"",
                });
            }
            config.metrics_categories = Some(names);
        }
        if let Some(v) = get("METRICS_TOP_CATEGORIES") {
            config.metrics_top_categories = parse_range(
                "METRICS_TOP_CATEGORIES",
                &v,
                1,
                100,
                "a whole number from 1 to 100",
            )?;
        }
        let c = &mut config.comprehend;
        if let Some(v) = get("COMPREHEND_ENDPOINT_URL") {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(ConfigError {
                    variable: "COMPREHEND_ENDPOINT_URL",
                    value: v,
                    expected: "an http:// or https:// URL",
                });
            }
            c.endpoint_url = Some(v.trim().to_string());
        }
        if let Some(v) = get("COMPREHEND_CONCURRENCY") {
            c.concurrency = parse_range(
                "COMPREHEND_CONCURRENCY",
                &v,
                1,
                64,
                "a whole number from 1 to 64",
            )?;
        }
        if let Some(v) = get("COMPREHEND_MAX_ATTEMPTS") {
            c.max_attempts = parse_range(
                "COMPREHEND_MAX_ATTEMPTS",
                &v,
                1,
                20,
                "a whole number from 1 to 20",
            )?;
        }
        if let Some(v) = get("COMPREHEND_DEADLINE_MARGIN_MS") {
            let ms = parse_range(
                "COMPREHEND_DEADLINE_MARGIN_MS",
                &v,
                0,
                600_000,
                "milliseconds from 0 to 600000",
            )?;
            c.deadline_margin = Duration::from_millis(ms);
        }
        if let Some(v) = get("COMPREHEND_OTHER_LANGUAGES") {
            c.other_languages = match v.trim().to_ascii_lowercase().as_str() {
                "vader" => OtherLanguages::Vader,
                "none" => OtherLanguages::None,
                _ => {
                    return Err(ConfigError {
                        variable: "COMPREHEND_OTHER_LANGUAGES",
                        value: v,
                        expected: "one of: vader, none",
                    })
                }
            };
        }
        Ok(config)
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError {
            variable,
            value: value.to_string(),
            expected: "one of: true, false (also 1/0, yes/no, on/off)",
        }),
    }
}

fn parse_range<T>(
    variable: &'static str,
    value: &str,
    min: T,
    max: T,
    expected: &'static str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    match value.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(ConfigError {
            variable,
            value: value.to_string(),
            expected,
        }),
    }
}

fn parse_languages(value: &str) -> Result<Option<Vec<String>>, ConfigError> {
    if value.trim().eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let mut langs = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ok = part.len() <= 35
            && part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(ConfigError {
                variable: "LANGUAGES",
                value: value.to_string(),
                expected: "all, or comma-separated language codes such as en,es,pt-BR,und",
            });
        }
        let lang = part.to_ascii_lowercase();
        if !langs.contains(&lang) {
            langs.push(lang);
        }
    }
    if langs.is_empty() {
        // `,,` would keep nothing: every post dropped, silently.
        return Err(ConfigError {
            variable: "LANGUAGES",
            value: value.to_string(),
            expected: "all, or at least one language code such as en,es,pt-BR,und",
        });
    }
    Ok(Some(langs))
}

#[cfg(test)]
mod languages_tests {
    use super::*;

    #[test]
    fn a_list_without_a_language_is_refused() {
        for v in [",,", " , ", ","] {
            let e = parse_languages(v).unwrap_err();
            assert_eq!(e.variable, "LANGUAGES", "{v:?}");
        }
        assert_eq!(
            parse_languages("en,,es").unwrap(),
            Some(vec!["en".into(), "es".into()])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_keep_everything_but_retweets() {
        let c = from(&[]).unwrap();
        assert!(c.drop_retweets);
        assert_eq!(c.languages, None);
        assert_eq!(c.min_text_length, 0);
        assert_eq!(c.multi_category, MultiCategory::Multiple);
        assert_eq!(c.sentiment_backend, SentimentBackend::Vader);
    }

    #[test]
    fn values_are_parsed() {
        let c = from(&[
            ("DROP_RETWEETS", "false"),
            ("LANGUAGES", " EN, es ,en,pt-BR"),
            ("MIN_TEXT_LENGTH", "12"),
            ("MULTI_CATEGORY", "First"),
            ("SENTIMENT_BACKEND", "none"),
            ("METRICS_EMF", "0"),
        ])
        .unwrap();
        assert!(!c.drop_retweets);
        assert_eq!(
            c.languages,
            Some(vec!["en".into(), "es".into(), "pt-br".into()])
        );
        assert_eq!(c.min_text_length, 12);
        assert_eq!(c.multi_category, MultiCategory::First);
        assert_eq!(c.sentiment_backend, SentimentBackend::None);
        assert!(!c.metrics_emf);
        assert_eq!(from(&[("LANGUAGES", "all")]).unwrap().languages, None);
        let c = from(&[
            ("SENTIMENT_BACKEND", "comprehend"),
            ("COMPREHEND_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("COMPREHEND_CONCURRENCY", "8"),
            ("COMPREHEND_MAX_ATTEMPTS", "3"),
            ("COMPREHEND_DEADLINE_MARGIN_MS", "2500"),
            ("COMPREHEND_OTHER_LANGUAGES", "none"),
        ])
        .unwrap();
        assert_eq!(c.sentiment_backend, SentimentBackend::Comprehend);
        assert_eq!(
            c.comprehend.endpoint_url.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(c.comprehend.concurrency, 8);
        assert_eq!(c.comprehend.max_attempts, 3);
        assert_eq!(c.comprehend.deadline_margin, Duration::from_millis(2500));
        assert_eq!(c.comprehend.other_languages, OtherLanguages::None);
    }

    #[test]
    fn bad_values_name_the_variable_and_the_allowed_values() {
        let cases = [
            (
                "DROP_RETWEETS",
                "maybe",
                "DROP_RETWEETS=\"maybe\" is not valid: expected one of: true, false",
            ),
            (
                "MIN_TEXT_LENGTH",
                "-3",
                "MIN_TEXT_LENGTH=\"-3\" is not valid: expected a whole number",
            ),
            (
                "SENTIMENT_BACKEND",
                "textblob",
                "SENTIMENT_BACKEND=\"textblob\" is not valid: expected one of: vader, comprehend, none",
            ),
            (
                "COMPREHEND_CONCURRENCY",
                "0",
                "COMPREHEND_CONCURRENCY=\"0\" is not valid: expected a whole number from 1 to 64",
            ),
            (
                "COMPREHEND_OTHER_LANGUAGES",
                "drop",
                "COMPREHEND_OTHER_LANGUAGES=\"drop\" is not valid: expected one of: vader, none",
            ),
            (
                "COMPREHEND_ENDPOINT_URL",
                "localhost:4000",
                "COMPREHEND_ENDPOINT_URL=\"localhost:4000\" is not valid: expected an http://",
            ),
            (
                "LANGUAGES",
                "en;fr",
                "LANGUAGES=\"en;fr\" is not valid: expected all, or comma-separated",
            ),
            (
                "MULTI_CATEGORY",
                "both",
                "MULTI_CATEGORY=\"both\" is not valid: expected one of: multiple, first",
            ),
        ];
        for (var, value, start) in cases {
            let err = from(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().starts_with(start), "{err}");
        }
    }
}
