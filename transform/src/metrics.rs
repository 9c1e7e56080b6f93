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
        located = report.located,
        geo_problems = %compact(&report.geo_problems),
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

/// Per category, one EMF line each (dimensions `DeliveryStream`, `Category`): `Posts`,
/// `SentimentScored` (posts with a score) and `SentimentSum` (the sum of their scores), so
/// CloudWatch charts and alarms per topic, and mean sentiment is
/// `SentimentSum / SentimentScored`. The series stay bounded: only `named` categories (or,
/// without them, the `top` largest of this invocation) are their own; the rest are
/// counted as `other`.
pub fn emf_category_lines(
    report: &Report,
    named: Option<&[String]>,
    top: usize,
    stream: &str,
    timestamp_ms: i64,
) -> Vec<String> {
    let mut by_size: Vec<(&String, &u64)> = report.categories.iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let keep = |i: usize, name: &str| match named {
        Some(list) => list.iter().any(|n| n == name),
        None => i < top,
    };
    let mut groups: std::collections::BTreeMap<&str, (u64, u64, f64)> = Default::default();
    for (i, (name, posts)) in by_size.into_iter().enumerate() {
        let group = if keep(i, name) {
            name.as_str()
        } else {
            "other"
        };
        let (scored, sum) = report
            .category_scores
            .get(name)
            .copied()
            .unwrap_or_default();
        let e = groups.entry(group).or_default();
        e.0 += posts;
        e.1 += scored;
        e.2 += sum;
    }
    groups
        .into_iter()
        .map(|(category, (posts, scored, sum))| {
            json!({
                "DeliveryStream": stream,
                "Category": category,
                "Posts": posts,
                "SentimentScored": scored,
                "SentimentSum": sum,
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["DeliveryStream", "Category"]],
                        "Metrics": [
                            {"Name": "Posts", "Unit": "Count"},
                            {"Name": "SentimentScored", "Unit": "Count"},
                            {"Name": "SentimentSum", "Unit": "None"},
                        ],
                    }],
                },
            })
            .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_of(categories: &[(&str, u64, f64)]) -> Report {
        let mut r = Report::default();
        for (name, n, sum) in categories {
            r.categories.insert(name.to_string(), *n);
            r.category_scores.insert(name.to_string(), (*n, *sum));
        }
        r
    }

    fn parse(lines: &[String]) -> Vec<Value> {
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    }

    #[test]
    fn per_category_lines_carry_posts_and_sentiment_and_stay_bounded() {
        let r = report_of(&[
            ("cats", 5, 1.5),
            ("dogs", 3, -0.3),
            ("birds", 2, 0.2),
            ("fish", 1, 0.1),
        ]);
        let named = ["cats".to_string(), "dogs".to_string()];
        let lines = parse(&emf_category_lines(&r, Some(&named), 10, "s", 1));
        let by: Vec<(&str, f64, f64)> = lines
            .iter()
            .map(|l| {
                (
                    l["Category"].as_str().unwrap_or_default(),
                    l["Posts"].as_f64().unwrap_or(-1.0),
                    l["SentimentSum"].as_f64().unwrap_or(-9.0),
                )
            })
            .collect();
        assert_eq!(
            by,
            vec![
                ("cats", 5.0, 1.5),
                ("dogs", 3.0, -0.3),
                ("other", 3.0, 0.30000000000000004)
            ]
        );
        for l in &lines {
            let decl = &l["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(decl["Dimensions"], json!([["DeliveryStream", "Category"]]));
            for m in decl["Metrics"].as_array().into_iter().flatten() {
                assert!(l[m["Name"].as_str().unwrap_or_default()].is_number());
            }
        }
        // Without a list: the two largest of the invocation, the rest as other.
        let lines = parse(&emf_category_lines(&r, None, 2, "s", 1));
        let names: Vec<&str> = lines
            .iter()
            .filter_map(|l| l["Category"].as_str())
            .collect();
        assert_eq!(names, vec!["cats", "dogs", "other"]);
        assert_eq!(lines[2]["Posts"], 3);
    }

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
