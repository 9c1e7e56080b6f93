//! The Lambda processor buffer (`processorBufferMb` in `serverless/serverless.yml`) against
//! Lambda's 6,000,000-byte response limit: a full buffer of X posts and a full buffer of
//! Bluesky posts (a Bluesky record is small, its document about twice its size) each
//! answer within the limit, with no record returned `ProcessingFailed` for size.
//! Run with `--nocapture` to see each source's growth ratio (response bytes per buffered
//! byte), the figure the README's choice rests on.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Read;

use producer::rules::{LocalMatcher, RuleSet};
use test_support::{root, transform};
use transform::Config;
use transform_tools::events::{build_event, EventOptions};

/// The processor buffer the stack deploys, in MB (Firehose counts MiB).
fn deployed_buffer_bytes() -> usize {
    let yml = std::fs::read_to_string(root().join("serverless/serverless.yml")).unwrap();
    let value = yml
        .lines()
        .find_map(|l| l.trim().strip_prefix("processorBufferMb:"))
        .expect("serverless.yml sets params.default.processorBufferMb")
        .trim()
        .to_string();
    (value.parse::<f64>().unwrap() * 1024.0 * 1024.0) as usize
}

fn recording() -> Vec<String> {
    let file =
        std::fs::File::open(root().join("fixtures/recorded/cats-dogs-2000.ndjson.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(String::from).collect()
}

/// The recorded posts' texts as Bluesky Jetstream posts, mapped by the producer.
fn bluesky_payloads(posts: &[String]) -> Vec<String> {
    let rules = RuleSet::load(&root().join("producer/rules/cats-dogs.json")).unwrap();
    let matcher = LocalMatcher::new(&rules).unwrap();
    posts
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let post: serde_json::Value = serde_json::from_str(line).unwrap();
            let event = serde_json::json!({
                "did": format!("did:plc:{:024x}", i),
                "time_us": 1_733_000_000_000_000u64 + i as u64,
                "kind": "commit",
                "commit": {
                    "rev": "3l", "operation": "create", "collection": "app.bsky.feed.post",
                    "rkey": format!("3l{i:011}"), "cid": "bafyrei",
                    "record": {"$type": "app.bsky.feed.post", "text": post["data"]["text"],
                               "createdAt": post["data"]["created_at"], "langs": ["en"]}
                }
            });
            producer::source::jetstream::map_event(&event.to_string(), &matcher)
                .map(|(_, record)| String::from_utf8(record.data).unwrap())
        })
        .collect()
}

/// Payloads, repeated as needed, until they fill `bytes` (each with the producer's newline).
fn fill(payloads: &[String], bytes: usize) -> String {
    let mut out = String::new();
    for p in payloads.iter().cycle() {
        if out.len() + p.len() + 1 > bytes {
            break;
        }
        out.push_str(p);
        out.push('\n');
    }
    out
}

fn check(source: &str, payloads: &[String], buffer: usize) {
    let ndjson = fill(payloads, buffer);
    let event = build_event(&ndjson, &EventOptions::default()).unwrap();
    let (response, report) = transform(Config::default(), &event);
    let size = serde_json::to_vec(&response).unwrap().len();
    println!(
        "{source}: {} records, {} buffered bytes -> response {size} bytes ({:.2}x), {} Ok, {} Dropped",
        event.records.len(),
        ndjson.len(),
        size as f64 / ndjson.len() as f64,
        report.ok,
        report.dropped
    );
    assert_eq!(
        report.failed_by_reason.get("response_too_large"),
        None,
        "{source}: {report:?}"
    );
    assert_eq!(report.failed, 0, "{source}");
    assert!(size < 6_000_000, "{source}: response of {size} bytes");
    assert!(report.ok > 0);
}

#[test]
fn a_full_processor_buffer_answers_within_lambdas_response_limit() {
    let buffer = deployed_buffer_bytes();
    let posts = recording();
    let x: Vec<String> = posts
        .iter()
        .filter(|p| !p.contains("\"source\":\"bluesky\""))
        .cloned()
        .collect();
    assert!(x.len() > 1000, "{} X posts in the recording", x.len());
    check("x", &x, buffer);
    let bluesky = bluesky_payloads(&posts);
    assert!(
        bluesky.len() > 1000,
        "{} Bluesky posts matched the rules",
        bluesky.len()
    );
    check("bluesky", &bluesky, buffer);
    // The shortest posts grow the most: a few words each.
    let rules = RuleSet::load(&root().join("producer/rules/cats-dogs.json")).unwrap();
    let matcher = LocalMatcher::new(&rules).unwrap();
    let short: Vec<String> = ["my cat lol", "dogs!", "a cat", "good dog", "my dog ate it 😂"]
        .iter()
        .cycle()
        .take(2000)
        .enumerate()
        .map(|(i, text)| {
            let shortest = serde_json::json!({
                "did": format!("did:plc:{:024x}", i),
                "time_us": 1_733_000_000_000_000u64 + i as u64,
                "kind": "commit",
                "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("3l{i:011}"),
                           "record": {"text": text, "createdAt": "2026-12-01T10:00:00.000Z", "langs": ["en"]}}
            });
            let (_, record) =
                producer::source::jetstream::map_event(&shortest.to_string(), &matcher).unwrap();
            String::from_utf8(record.data).unwrap()
        })
        .collect();
    check("bluesky, shortest posts", &short, buffer);
}
