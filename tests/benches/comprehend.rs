//! Comprehend path against the tutorials' approach, on the same local Comprehend server
//! answering every request after a fixed latency (50 ms by default).
//!
//! Ours: 2,400 posts through the transform with `SENTIMENT_BACKEND=comprehend`
//! (`BatchDetectSentiment`, 25 per call, 4 in flight). Theirs: one `DetectSentiment` per
//! post, one after the other. Both use the real `aws-sdk-comprehend` client. Prints calls
//! and wall time for each and the ratios.
//!
//! `cargo bench -p pipeline-tests --bench comprehend`; `COMPREHEND_BENCH_LATENCY_MS` and
//! `COMPREHEND_BENCH_RECORDS` change the latency and the number of posts. A custom
//! harness, not criterion: the sequential baseline takes two minutes per run, too long
//! for criterion's ten samples.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use test_support::comprehend_server::{Behaviour, ComprehendServer};
use transform::Backend;
use transform::FirehoseRecord;
use transform::SentimentBackend;
use transform::{Comprehend, ComprehendConfig};
use transform::{Config, FirehoseEvent, Transformer};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(url: &str) -> aws_sdk_comprehend::Client {
    let config = aws_sdk_comprehend::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_comprehend::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_comprehend::config::Credentials::new(
            "AKIDBENCH",
            "secret",
            None,
            None,
            "bench",
        ))
        .endpoint_url(url)
        .build();
    aws_sdk_comprehend::Client::from_conf(config)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let latency = Duration::from_millis(env_or("COMPREHEND_BENCH_LATENCY_MS", 50));
    let n = env_or("COMPREHEND_BENCH_RECORDS", 2_400) as usize;
    let server = ComprehendServer::start(Behaviour {
        latency,
        ..Behaviour::default()
    });
    let texts: Vec<String> = (0..n)
        .map(|i| format!("post {i}: my dog is good but the neighbour's cat is bad"))
        .collect();
    let event = FirehoseEvent {
        records: texts
            .iter()
            .enumerate()
            .map(|(i, t)| FirehoseRecord {
                record_id: format!("r{i}"),
                approximate_arrival_timestamp: 1_678_806_566_000,
                data: STANDARD.encode(
                    serde_json::json!({"data": {"id": i.to_string(), "text": t, "lang": "en"}})
                        .to_string(),
                ),
                kinesis_record_metadata: None,
            })
            .collect(),
        ..FirehoseEvent::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    eprintln!("[1/2] ours: {n} posts through the transform (BatchDetectSentiment), 3 runs");
    let transformer = Transformer::new(
        Config {
            sentiment_backend: SentimentBackend::Comprehend,
            ..Config::default()
        },
        Backend::Comprehend(Box::new(Comprehend::new(
            client(&server.url),
            ComprehendConfig::default(),
        ))),
    );
    let mut ours = Vec::new();
    let before = server.seen().batch_calls;
    for _ in 0..3 {
        let t = Instant::now();
        let (_, report) = rt
            .block_on(transformer.transform(&event, Utc::now()))
            .expect("fits");
        ours.push(t.elapsed());
        assert_eq!(
            report.sentiment.fallback, 0,
            "every post scored by comprehend"
        );
    }
    ours.sort();
    let our_calls = (server.seen().batch_calls - before) / 3;
    let our_time = ours[1];

    eprintln!(
        "[2/2] tutorials: {n} sequential DetectSentiment calls (about {:?})",
        latency * n as u32
    );
    let c = client(&server.url);
    let t = Instant::now();
    rt.block_on(async {
        for (i, text) in texts.iter().enumerate() {
            c.detect_sentiment()
                .text(text)
                .language_code(aws_sdk_comprehend::types::LanguageCode::En)
                .send()
                .await
                .expect("detect_sentiment");
            if (i + 1) % 240 == 0 {
                eprintln!("  {}/{n}", i + 1);
            }
        }
    });
    let their_time = t.elapsed();
    let their_calls = server.seen().single_calls;

    println!("server latency {latency:?}, {n} posts");
    println!("| approach | calls | wall time |");
    println!("| --- | ---: | ---: |");
    println!(
        "| tutorials: DetectSentiment per post, sequential | {their_calls} | {:.2} s |",
        their_time.as_secs_f64()
    );
    println!(
        "| ours: BatchDetectSentiment, 25 per call, 4 in flight | {our_calls} | {:.2} s |",
        our_time.as_secs_f64()
    );
    println!(
        "| ratio | {:.0}x fewer | {:.0}x less |",
        their_calls as f64 / our_calls as f64,
        their_time.as_secs_f64() / our_time.as_secs_f64()
    );
}
