//! Why a record could not be transformed, and why a configuration value was refused.
//!
//! Every record-level error maps to a stable, snake_case `reason` used in logs, metrics
//! and the outcome counters; the message says what was expected and what came.

use thiserror::Error;

/// A record that cannot be read; it leaves as `ProcessingFailed` with its original bytes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// `data` is not standard base64.
    #[error("data is not base64: {0}")]
    NotBase64(String),
    /// The decoded bytes are not UTF-8.
    #[error("payload is not UTF-8: invalid byte at offset {valid_up_to}")]
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The payload is empty or only whitespace.
    #[error("payload is empty, expected one JSON post object")]
    Empty,
    /// The JSON ends before the object is complete.
    #[error("payload is truncated JSON: {0}")]
    TruncatedJson(String),
    /// The payload is not JSON at all, or has trailing bytes.
    #[error("payload is not valid JSON: {0}")]
    InvalidJson(String),
    /// A required field (`data`, `data.id`, `data.text`) is missing.
    #[error("payload misses a required field: {0}")]
    MissingField(String),
    /// A field has the wrong JSON type.
    #[error("payload has a field of the wrong type: {0}")]
    WrongType(String),
    /// A required field is present but empty (`data.id` = "").
    #[error("payload has an empty required field: {0}")]
    EmptyField(&'static str),
    /// The transformed document would not fit in the Lambda response.
    #[error("transformed document does not fit in the 6,000,000-byte Lambda response")]
    ResponseTooLarge,
}

impl RecordError {
    /// Stable snake_case name of the cause, for counters and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RecordError::NotBase64(_) => "invalid_base64",
            RecordError::NotUtf8 { .. } => "invalid_utf8",
            RecordError::Empty => "empty_payload",
            RecordError::TruncatedJson(_) => "truncated_json",
            RecordError::InvalidJson(_) => "invalid_json",
            RecordError::MissingField(_) => "missing_field",
            RecordError::WrongType(_) => "wrong_type",
            RecordError::EmptyField(_) => "empty_field",
            RecordError::ResponseTooLarge => "response_too_large",
        }
    }

    /// Classifies a `serde_json` error on a post payload.
    pub fn from_json(err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let msg = err.to_string();
        match err.classify() {
            Category::Eof => RecordError::TruncatedJson(msg),
            Category::Syntax | Category::Io => RecordError::InvalidJson(msg),
            Category::Data if msg.starts_with("missing field") => RecordError::MissingField(msg),
            Category::Data => RecordError::WrongType(msg),
        }
    }
}

/// A configuration value that cannot be used; start-up fails with this message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{variable}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// The value it had.
    pub value: String,
    /// What it accepts.
    pub expected: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::StreamPost;

    fn classify(json: &str) -> &'static str {
        let err = serde_json::from_str::<StreamPost>(json).unwrap_err();
        RecordError::from_json(&err).reason()
    }

    #[test]
    fn json_errors_are_classified_by_cause() {
        assert_eq!(classify(r#"{"data":{"id":"1","te"#), "truncated_json");
        assert_eq!(classify(r#"{"data" 1}"#), "invalid_json");
        assert_eq!(
            classify(r#"{"data":{"id":"1","text":"a"}} x"#),
            "invalid_json"
        );
        assert_eq!(classify(r#"{"data":{"text":"a"}}"#), "missing_field");
        assert_eq!(classify(r#"{"data":{"id":"1"}}"#), "missing_field");
        assert_eq!(classify(r#"{"data":{"id":1,"text":"a"}}"#), "wrong_type");
        assert_eq!(classify(r#"[1,2]"#), "wrong_type");
    }
}
