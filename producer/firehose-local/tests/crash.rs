//! The local stream survives a crash like Firehose: `firehose-local` (the real binary)
//! is killed with SIGKILL at random points of a 500,000-post run, ten times, and started
//! again on the same output; a client sends through the real `aws-sdk-firehose`, keeping
//! what was acknowledged. At the end every acknowledged post is a document in the embedded
//! store, and every duplicate is one the journal delivered again after a kill. Also: the wire protocol is
//! as strict as Firehose's, over raw HTTP.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

/// A running `firehose-local`; its log goes to a file.
struct Stream {
    child: Child,
    url: String,
    log: PathBuf,
}

fn start(out: &Path, run: usize) -> Stream {
    let log = out.with_extension(format!("run{run}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_firehose-local"))
        .args(["--stream", "social-posts", "--out"])
        .arg(out)
        .args([
            "--processor-interval-secs",
            "1",
            "--buffer-interval-secs",
            "1",
            "--grace-secs",
            "30",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = child;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v["url"].as_str().map(String::from))
        .unwrap_or_else(|| {
            panic!(
                "firehose-local did not start: {line:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    Stream { child, url, log }
}

fn post(i: usize) -> Vec<u8> {
    // Shaped like a Bluesky post from the producer (about 350 bytes).
    format!(
        r#"{{"source":"bluesky","data":{{"id":"post-{i}","text":"my cat number {i} sat on the keyboard again today","author_id":"did:plc:{i:024}","created_at":"2026-12-01T10:00:00.000Z","lang":"en"}},"includes":{{"users":[{{"id":"did:plc:{i:024}"}}]}},"matching_rules":[{{"id":"local-cats","tag":"cats"}}]}}"#
    )
    .into_bytes()
}

fn client(url: &str) -> aws_sdk_firehose::Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_firehose::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_firehose::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_firehose::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

/// Records the journal said it delivered again at each start (its recovery log lines).
fn recovered(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("local delivery stream listening"))
        .filter_map(|l| {
            l.split("recovered=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_record() {
    let total: usize = std::env::var("CRASH_TEST_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let kills = 10;
    let dir = std::env::temp_dir().join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out");
    let stream = Arc::new(Mutex::new(start(&out, 0)));
    let acked: Arc<Mutex<Vec<bool>>> = Arc::new(Mutex::new(vec![false; total]));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The killer: ten SIGKILLs at random moments, each followed by a restart.
    let killer = {
        let (stream, done, out) = (Arc::clone(&stream), Arc::clone(&done), out.clone());
        std::thread::spawn(move || {
            let mut seed = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
            for run in 1..=kills {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let wait = Duration::from_millis(300 + seed % 2500);
                std::thread::sleep(wait);
                let _ = done.load(std::sync::atomic::Ordering::SeqCst);
                let mut s = stream.lock().unwrap();
                s.child.kill().unwrap();
                s.child.wait().unwrap();
                *s = start(&out, run);
            }
            kills
        })
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    rt.block_on(async {
        let mut url = stream.lock().unwrap().url.clone();
        let mut firehose = client(&url);
        let mut next = 0usize;
        let mut pending: Vec<usize> = Vec::new();
        while next < total || !pending.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "the run took too long"
            );
            while pending.len() < 500 && next < total {
                pending.push(next);
                next += 1;
            }
            let now = stream.lock().unwrap().url.clone();
            if now != url {
                url = now;
                firehose = client(&url);
            }
            let records: Vec<Record> = pending
                .iter()
                .map(|&i| Record::builder().data(Blob::new(post(i))).build().unwrap())
                .collect();
            let answer = firehose
                .put_record_batch()
                .delivery_stream_name("social-posts")
                .set_records(Some(records))
                .send()
                .await;
            match answer {
                Ok(out) => {
                    let mut again = Vec::new();
                    let mut acked = acked.lock().unwrap();
                    for (r, &i) in out.request_responses().iter().zip(&pending) {
                        match r.record_id() {
                            Some(_) if r.error_code().is_none() => acked[i] = true,
                            _ => again.push(i),
                        }
                    }
                    pending = again;
                }
                // Killed under us: whatever was not acknowledged is sent again.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills_done = killer.join().unwrap();

    // The last run drains and stops cleanly.
    let mut last = Arc::try_unwrap(stream).ok().unwrap().into_inner().unwrap();
    Command::new("kill")
        .args(["-TERM", &last.child.id().to_string()])
        .status()
        .unwrap();
    let status = last.child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&last.log).unwrap()
    );

    // Every acknowledged post is a document; duplicates come only from redelivery.
    let acked = acked.lock().unwrap();
    assert!(
        acked.iter().all(|a| *a),
        "the client got every post acknowledged"
    );
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut lines = 0u64;
    // The documents as they are in the embedded store (a redelivery from the journal
    // replaced itself there: same record id, same _id).
    let exported = out.with_extension("export");
    let store = search_store::Store::open(&out.join("store"), search_store::Mode::Read).unwrap();
    store.export(&exported).unwrap();
    for e in std::fs::read_dir(&exported).unwrap() {
        let mut text = String::new();
        std::fs::File::open(e.unwrap().path())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let doc: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a document line is cut: {e}: {line}"));
            *seen
                .entry(doc["post_id"].as_str().unwrap().to_string())
                .or_default() += 1;
            lines += 1;
        }
    }
    let missing: Vec<usize> = (0..total)
        .filter(|i| !seen.contains_key(&format!("post-{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged posts were lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let duplicates = lines - seen.len() as u64;
    let logs: Vec<PathBuf> = (0..=kills_done)
        .map(|run| out.with_extension(format!("run{run}.log")))
        .collect();
    let redelivered: u64 = logs.iter().map(|l| recovered(l)).sum();
    assert!(
        duplicates <= redelivered,
        "{duplicates} duplicates, but the journal redelivered only {redelivered} records"
    );
    assert!(
        kills_done >= 5,
        "the run ended before most kills: {kills_done}"
    );
    let journal_left = std::fs::read_dir(out.join("journal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count();
    assert_eq!(journal_left, 0, "a clean stop leaves no journal segment");
    eprintln!(
        "{total} posts, {kills_done} SIGKILLs in {:.0} s: 0 lost, {duplicates} duplicates, {redelivered} redelivered from the journal",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends one raw HTTP request and returns the status and body.
fn raw(url: &str, target: &str, body: &[u8], declared: Option<usize>) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: {target}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        declared.unwrap_or(body.len())
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[test]
fn the_wire_protocol_is_as_strict_as_firehose() {
    let dir = std::env::temp_dir().join(format!("strict-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut stream = start(&dir.join("out"), 0);
    let batch = "Firehose_20150804.PutRecordBatch";
    let record = |n: usize| format!(r#"{{"Data":"{}"}}"#, "QUFB".repeat(n / 3));
    let records = |count: usize, size: usize| {
        let list: Vec<String> = (0..count).map(|_| record(size)).collect();
        format!(
            r#"{{"DeliveryStreamName":"social-posts","Records":[{}]}}"#,
            list.join(",")
        )
    };
    let kind = |(status, body): (u16, String)| {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        (status, v["__type"].as_str().unwrap_or("").to_string())
    };
    let cases: Vec<(&str, (u16, &str))> = vec![
        ("not json", (400, "SerializationException")),
        (
            r#"{"DeliveryStreamName":7,"Records":[]}"#,
            (400, "SerializationException"),
        ),
        (
            r#"{"DeliveryStreamName":"social-posts","Records":{"Data":"eA=="}}"#,
            (400, "SerializationException"),
        ),
        (
            r#"{"DeliveryStreamName":"social-posts","Records":[{"Data":5}]}"#,
            (400, "SerializationException"),
        ),
        (
            r#"{"DeliveryStreamName":"social-posts","Records":[{"Data":"@@@"}]}"#,
            (400, "SerializationException"),
        ),
        (
            r#"{"DeliveryStreamName":"social-posts","Records":[]}"#,
            (400, "ValidationException"),
        ),
        (
            r#"{"DeliveryStreamName":"other","Records":[{"Data":"eA=="}]}"#,
            (400, "ResourceNotFoundException"),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            kind(raw(&stream.url, batch, body.as_bytes(), None)),
            (want.0, want.1.to_string()),
            "{body}"
        );
    }
    assert_eq!(
        kind(raw(&stream.url, batch, records(501, 3).as_bytes(), None)),
        (400, "ValidationException".into())
    );
    // 5 records of 850 KB: 4.25 MB of data in one call.
    assert_eq!(
        kind(raw(
            &stream.url,
            batch,
            records(5, 850_000).as_bytes(),
            None
        )),
        (400, "InvalidArgumentException".into())
    );
    // A body announced at 50 MB is refused before it is read.
    let started = Instant::now();
    assert_eq!(
        kind(raw(&stream.url, batch, b"", Some(50_000_000))),
        (413, "InvalidArgumentException".into())
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A good call is answered per record.
    let (status, body) = raw(&stream.url, batch, records(2, 3).as_bytes(), None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["FailedPutCount"], 0);
    assert_eq!(v["RequestResponses"].as_array().unwrap().len(), 2);
    stream.child.kill().unwrap();
    stream.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
