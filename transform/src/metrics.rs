//! Reporting one invocation: a structured log line with every counter, and the same
//! counters as a CloudWatch Embedded Metric Format (EMF) line.

use serde_json::{json, Map, Value};
use tracing::info;

use crate::handler::Report;

/// CloudWatch namespace of the EMF metrics.
pub const NAMESPACE: &str = "SocialSentiment/Transform";

/// Logs the report as one structured `info!` line.
pub fn log_report(report: &Report, analyzer: &str) {
    info!(
        records = report.records,
        ok = report.ok,
        dropped = report.dropped,
        failed = report.failed,
        dropped_by_reason = %compact(&report.dropped_by_reason),
        failed_by_reason = %compact(&report.failed_by_reason),
        categories = %compact(&report.categories),
        sentiment = %compact(&report.sentiment_labels),
        duplicate_record_ids = report.duplicate_record_ids,
        sentiment_calls = report.sentiment.calls,
        sentiment_retries = report.sentiment.retries,
        comprehend_units = report.sentiment.units,
        sentiment_fallback = report.sentiment.fallback,
        sentiment_deduplicated = report.sentiment.deduplicated,
        sentiment_other_languages = report.sentiment.routed_local,
        bytes_in = report.bytes_in,
        bytes_out = report.bytes_out,
        duration_ms = report.duration.as_secs_f64() * 1000.0,
        analyzer,
        "batch transformed"
    );
}

fn compact<K: AsRef<str>>(map: &std::collections::BTreeMap<K, u64>) -> String {
    let parts: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}={v}", k.as_ref()))
        .collect();
    parts.join(",")
}

/// The report as one EMF JSON line, with `stream` (the delivery stream name) as the
/// dimension and `timestamp_ms` as the metric time.
pub fn emf_line(report: &Report, stream: &str, timestamp_ms: i64) -> String {
    let mut fields = Map::new();
    let mut metrics = Vec::new();
    let mut put = |name: String, value: f64, unit: &str| {
        metrics.push(json!({"Name": name, "Unit": unit}));
        fields.insert(name, json!(value));
    };
    put("Records".into(), report.records as f64, "Count");
    put("Ok".into(), report.ok as f64, "Count");
    put("Dropped".into(), report.dropped as f64, "Count");
    put("ProcessingFailed".into(), report.failed as f64, "Count");
    for (reason, n) in &report.dropped_by_reason {
        put(format!("Dropped.{reason}"), *n as f64, "Count");
    }
    for (reason, n) in &report.failed_by_reason {
        put(format!("ProcessingFailed.{reason}"), *n as f64, "Count");
    }
    put(
        "SentimentCalls".into(),
        report.sentiment.calls as f64,
        "Count",
    );
    put(
        "ComprehendUnits".into(),
        report.sentiment.units as f64,
        "Count",
    );
    put(
        "SentimentFallback".into(),
        report.sentiment.fallback as f64,
        "Count",
    );
    put("BytesIn".into(), report.bytes_in as f64, "Bytes");
    put("BytesOut".into(), report.bytes_out as f64, "Bytes");
    put(
        "DurationMs".into(),
        report.duration.as_secs_f64() * 1000.0,
        "Milliseconds",
    );
    fields.insert("DeliveryStream".into(), Value::String(stream.to_string()));
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["DeliveryStream"]],
                "Metrics": metrics,
            }]
        }),
    );
    Value::Object(fields).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_declares_every_metric_it_sets() {
        let mut report = Report {
            records: 3,
            ok: 1,
            dropped: 1,
            failed: 1,
            ..Report::default()
        };
        report.failed_by_reason.insert("invalid_base64", 1);
        report.dropped_by_reason.insert("retweet", 1);
        let line = emf_line(&report, "tweets", 1_700_000_000_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let decl = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], NAMESPACE);
        assert_eq!(v["DeliveryStream"], "tweets");
        assert_eq!(v["ProcessingFailed.invalid_base64"], 1.0);
        assert_eq!(v["Dropped.retweet"], 1.0);
        for m in decl["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(decl["Metrics"].as_array().unwrap().len(), 12);
    }
}
