//! The Comprehend backend through the real `aws-sdk-comprehend` client, against the
//! local Comprehend server on 127.0.0.1: batching, language routing, de-duplication,
//! per-document errors, throttling, permanent failure, the Lambda deadline, over-long
//! texts, and the number of calls for a full buffer.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use retry::Schedule;
use serde_json::{json, Value};
use test_support::comprehend_server::{verdict, Behaviour, ComprehendServer};
use test_support::{decoded, fixture_now};
use transform::Backend;
use transform::FirehoseRecord;
use transform::{Comprehend, ComprehendConfig};
use transform::{Config, FirehoseEvent, Report, Transformer};

fn client(url: &str) -> aws_sdk_comprehend::Client {
    let config = aws_sdk_comprehend::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_comprehend::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_comprehend::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "tests",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_comprehend::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_comprehend::Client::from_conf(config)
}

fn transformer(server: &ComprehendServer, config: ComprehendConfig) -> Transformer<Backend> {
    let backend = Backend::Comprehend(Box::new(Comprehend::new(client(&server.url), config)));
    let config = Config {
        sentiment_backend: transform::SentimentBackend::Comprehend,
        ..Config::default()
    };
    Transformer::new(config, backend)
}

fn fast_retries() -> ComprehendConfig {
    ComprehendConfig {
        backoff: Schedule::new(Duration::from_millis(5), Duration::from_millis(40)),
        deadline_margin: Duration::from_millis(200),
        ..ComprehendConfig::default()
    }
}

fn event(posts: &[(String, &str)]) -> FirehoseEvent {
    FirehoseEvent {
        records: posts
            .iter()
            .enumerate()
            .map(|(i, (text, lang))| FirehoseRecord {
                record_id: format!("r{i}"),
                approximate_arrival_timestamp: 1_678_806_566_000,
                data: STANDARD.encode(
                    json!({"data": {"id": i.to_string(), "text": text, "lang": lang},
                           "matching_rules": [{"id": "1", "tag": "cats"}]})
                    .to_string(),
                ),
                kinesis_record_metadata: None,
            })
            .collect(),
        ..FirehoseEvent::default()
    }
}

fn run(
    t: &Transformer<Backend>,
    ev: &FirehoseEvent,
    deadline: Option<Instant>,
) -> (Vec<Value>, Report) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (resp, report) = rt
        .block_on(t.transform_until(ev, fixture_now(), deadline))
        .expect("fits");
    let docs = decoded(&resp)
        .into_iter()
        .map(|r| r.document.expect("every record is Ok"))
        .collect();
    (docs, report)
}

#[test]
fn batches_route_languages_and_send_each_text_once() {
    let server = ComprehendServer::start(Behaviour::default());
    let mut posts: Vec<(String, &str)> = Vec::new();
    for i in 0..30 {
        posts.push((format!("I love my cat number {i}"), "en"));
    }
    for i in 0..5 {
        posts.push((format!("odio a mi perro {i}, es bad"), "es"));
    }
    posts.push(("I love my cat number 3".into(), "en")); // duplicate text
    posts.push(("Моя кошка самая красивая, good".into(), "ru")); // not a Comprehend language
    posts.push(("no language given, bad".into(), "und"));
    let (docs, report) = run(&transformer(&server, fast_retries()), &event(&posts), None);

    let seen = server.seen();
    // 30 distinct English texts -> 2 calls; 5 Spanish -> 1 call.
    assert_eq!(seen.batch_calls, 3);
    assert_eq!(seen.texts.len(), 35, "each distinct text once");
    assert!(seen.max_batch <= 25);
    assert_eq!(report.sentiment.calls, 3);
    assert_eq!(report.sentiment.deduplicated, 1);
    assert_eq!(report.sentiment.routed_local, 2);
    assert_eq!(report.sentiment.units, 35 * 3);
    for (doc, (text, lang)) in docs.iter().zip(&posts) {
        let s = &doc["sentiment"];
        if matches!(*lang, "en" | "es") {
            assert_eq!(s["analyzer"], "comprehend", "{text}");
            assert_eq!(s["label"], verdict(text), "{text}");
            let score = s["positive"].as_f64().unwrap() - s["negative"].as_f64().unwrap();
            assert!((s["score"].as_f64().unwrap() - score).abs() < 1e-9);
        } else {
            assert_eq!(s["analyzer"], "vader", "{text}");
        }
        assert_eq!(s["fallback"], false);
    }
}

#[test]
fn document_errors_fall_back_to_vader_flagged() {
    let server = ComprehendServer::start(Behaviour::default());
    let posts = vec![
        ("good dog".to_string(), "en"),
        ("ERRDOC this one fails".to_string(), "en"),
        ("bad cat".to_string(), "en"),
    ];
    let (docs, report) = run(&transformer(&server, fast_retries()), &event(&posts), None);
    assert_eq!(docs[0]["sentiment"]["analyzer"], "comprehend");
    assert_eq!(docs[1]["sentiment"]["analyzer"], "vader");
    assert_eq!(docs[1]["sentiment"]["fallback"], true);
    assert_eq!(docs[2]["sentiment"]["label"], "NEGATIVE");
    assert_eq!(report.sentiment.fallback, 1);
    assert_eq!(
        report.sentiment.units, 6,
        "only scored documents are billed"
    );
}

#[test]
fn throttling_is_retried_until_it_succeeds() {
    let server = ComprehendServer::start(Behaviour {
        throttle_next: 2,
        ..Behaviour::default()
    });
    let posts = vec![("great kitten".to_string(), "en")];
    let (docs, report) = run(&transformer(&server, fast_retries()), &event(&posts), None);
    assert_eq!(docs[0]["sentiment"]["analyzer"], "comprehend");
    assert_eq!(docs[0]["sentiment"]["label"], "POSITIVE");
    assert_eq!(server.seen().batch_calls, 3);
    assert_eq!(report.sentiment.calls, 3);
    assert_eq!(report.sentiment.retries, 2);
    assert_eq!(report.sentiment.fallback, 0);
}

#[test]
fn a_permanent_failure_falls_back_and_loses_nothing() {
    let server = ComprehendServer::start(Behaviour {
        fail_all: true,
        ..Behaviour::default()
    });
    let posts: Vec<(String, &str)> = (0..40).map(|i| (format!("good boy {i}"), "en")).collect();
    let config = ComprehendConfig {
        max_attempts: 3,
        ..fast_retries()
    };
    let (docs, report) = run(&transformer(&server, config), &event(&posts), None);
    assert_eq!(docs.len(), 40);
    assert!(docs
        .iter()
        .all(|d| d["sentiment"]["analyzer"] == "vader" && d["sentiment"]["fallback"] == true));
    assert_eq!(report.ok, 40);
    assert_eq!(report.sentiment.fallback, 40);
    // Two chunks, three attempts each.
    assert_eq!(server.seen().batch_calls, 6);
    assert_eq!(report.sentiment.calls, 6);
}

#[test]
fn slow_answers_give_up_before_the_deadline() {
    let server = ComprehendServer::start(Behaviour {
        latency: Duration::from_secs(5),
        ..Behaviour::default()
    });
    let posts = vec![("love it".to_string(), "en"), ("hate it".to_string(), "en")];
    let config = ComprehendConfig {
        deadline_margin: Duration::from_millis(300),
        ..fast_retries()
    };
    let started = Instant::now();
    let deadline = started + Duration::from_millis(1_500);
    let (docs, report) = run(
        &transformer(&server, config),
        &event(&posts),
        Some(deadline),
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1_500),
        "answered after the deadline: {took:?}"
    );
    assert!(
        took >= Duration::from_millis(1_100),
        "gave up too early: {took:?}"
    );
    assert!(docs.iter().all(|d| d["sentiment"]["fallback"] == true));
    assert_eq!(docs[0]["sentiment"]["label"], "POSITIVE");
    assert_eq!(report.sentiment.fallback, 2);
}

#[test]
fn over_long_texts_are_cut_to_5000_bytes_on_a_character_boundary() {
    let server = ComprehendServer::start(Behaviour::default());
    let long = format!("{} good", "ñ".repeat(3_000)); // 6,005 bytes
    let posts = vec![(long.clone(), "es")];
    let (docs, _) = run(&transformer(&server, fast_retries()), &event(&posts), None);
    let seen = server.seen();
    assert_eq!(seen.max_text_bytes, 5_000);
    assert_eq!(seen.texts[0], "ñ".repeat(2_500));
    assert_eq!(docs[0]["sentiment"]["analyzer"], "comprehend");
    assert_eq!(
        docs[0]["text"],
        long.as_str(),
        "the document keeps the whole text"
    );
}

#[test]
fn a_full_buffer_of_2400_posts_takes_at_most_96_calls() {
    let server = ComprehendServer::start(Behaviour::default());
    let posts: Vec<(String, &str)> = (0..2_400)
        .map(|i| (format!("my dog {i} is good"), "en"))
        .collect();
    let (docs, report) = run(&transformer(&server, fast_retries()), &event(&posts), None);
    assert_eq!(docs.len(), 2_400);
    let seen = server.seen();
    assert!(seen.batch_calls <= 96, "{} calls", seen.batch_calls);
    assert_eq!(seen.single_calls, 0);
    assert_eq!(seen.texts.len(), 2_400);
    assert_eq!(report.sentiment.calls, seen.batch_calls);
    assert!(docs
        .iter()
        .all(|d| d["sentiment"]["analyzer"] == "comprehend"));
}
