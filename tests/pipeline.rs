//! The whole pipeline on one machine, against real servers on 127.0.0.1: records go
//! from a recording through the producer's sink (the real `aws-sdk-firehose` client)
//! into the local delivery stream, through the transform, into an OpenSearch-compatible
//! server (`osmem-server`), with failures backed up to an S3-compatible server (moto).
//! Every input record ends as exactly one of: indexed, dropped by policy, backed up.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use firehose_backup::{Store, Writer};
use firehose_local::{
    BackupMode, Destination, LocalConfig, LocalStream, LocalSummary, Processor, Rotation,
};
use producer::record::{Record, Stats};
use producer::sink::{Sink, SinkConfig};
use producer::source::file;
use retry::Stop;
use serde_json::{json, Value};
use test_support::runtime;
use test_support::servers::{opensearch, opensearch_on, s3};
use test_support::{expected, root};
use tokio::sync::{mpsc, watch};

fn config(dir: &std::path::Path) -> LocalConfig {
    LocalConfig {
        journal: dir.join("journal"),
        stream: "social-posts".into(),
        processor_buffer_bytes: 1_000_000,
        processor_interval: Duration::from_millis(200),
        buffer_bytes: 5_000_000,
        buffer_interval: Duration::from_millis(200),
        index: "social-posts".into(),
        rotation: Rotation::OneDay,
        backup_mode: BackupMode::FailedDocumentsOnly,
    }
}

fn in_process() -> Processor {
    let config = transform::Config::default();
    let backend = transform::Backend::local(config.sentiment_backend).unwrap();
    Processor::InProcess(Box::new(transform::Transformer::new(config, backend)))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pipeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The recording: the ten basic posts, then records that must fail or be dropped.
fn recording(dir: &std::path::Path) -> (PathBuf, Vec<Vec<u8>>) {
    let mut lines: Vec<Vec<u8>> =
        std::fs::read_to_string(root().join("fixtures/tweets/basic.ndjson"))
            .unwrap()
            .lines()
            .map(|l| l.as_bytes().to_vec())
            .collect();
    lines.push(br#"{"data":{"id":"t1","text":"truncated"#.to_vec());
    lines.push(b"{\"data\":{\"id\":\"u1\",\"text\":\"caf\xe9\"}}".to_vec());
    lines.push(b"[1,2,3]".to_vec());
    lines.push(br#"{"data":{"id":"rt1","text":"RT @a: my cat","lang":"en"},"matching_rules":[{"tag":"cats"}]}"#.to_vec());
    lines.push(br#"{"data":{"id":"bad-date","text":"a dog with a bad date","created_at":"yesterday","lang":"en"},"matching_rules":[{"tag":"dogs"}]}"#.to_vec());
    let path = dir.join("recording.ndjson");
    let mut bytes = Vec::new();
    for l in &lines {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    std::fs::write(&path, bytes).unwrap();
    (path, lines)
}

/// Producer sink -> local stream; returns the local stream's summary.
fn run(rt: &tokio::runtime::Runtime, recording: PathBuf, local: LocalStream) -> LocalSummary {
    run_with_grace(rt, recording, local, Duration::from_secs(3600))
}

/// The same, the local stream given `grace` to finish (as after a Ctrl-C).
fn run_with_grace(
    rt: &tokio::runtime::Runtime,
    recording: PathBuf,
    local: LocalStream,
    grace: Duration,
) -> LocalSummary {
    rt.block_on(async move {
        let stats = Arc::new(Stats::default());
        let client = producer::sink::client(Some(&local.url)).await;
        let (tx, rx) = mpsc::channel(1024);
        let (_stop_tx, stop) = watch::channel(false);
        let sink = Sink::new(
            client,
            SinkConfig {
                linger: Duration::from_millis(20),
                ..SinkConfig::new("social-posts")
            },
            Arc::clone(&stats),
        );
        let task = tokio::spawn(sink.run(rx, Stop::never(), |_, _| {}));
        file::replay(recording, None, false, tx, Arc::clone(&stats), stop)
            .await
            .unwrap();
        task.await.unwrap();
        local.finish(grace).await.unwrap()
    })
}

fn search(url: &str, body: Value) -> Value {
    let rt = runtime();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/social-posts*/_search"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

/// A terms aggregation's answer: documents per key.
fn term_counts(terms: &Value) -> BTreeMap<String, u64> {
    terms["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn s3_lines(
    rt: &tokio::runtime::Runtime,
    endpoint: &str,
    bucket: &str,
    prefix: &str,
) -> Vec<Value> {
    rt.block_on(async {
        let client = firehose_backup::s3_client(Some(endpoint)).await;
        let list = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for obj in list.contents() {
            let key = obj.key().unwrap();
            assert!(
                regex_like_layout(key, prefix),
                "key {key} does not follow PREFIX/YYYY/MM/DD/HH/"
            );
            let body = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap();
            for line in String::from_utf8(body.to_vec()).unwrap().lines() {
                out.push(serde_json::from_str(line).unwrap());
            }
        }
        out
    })
}

fn regex_like_layout(key: &str, prefix: &str) -> bool {
    let rest = &key[prefix.len()..];
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 5
        && parts[0].len() == 4
        && parts[1..4]
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()))
        && parts[4].starts_with("social-posts-1-")
}

#[test]
fn records_are_indexed_dropped_or_backed_up_exactly_once() {
    let os = opensearch();
    let s3_server = s3();
    let rt = runtime();
    let dir = temp_dir("e2e");
    let (rec, lines) = recording(&dir);
    let local = rt.block_on(async {
        let client = firehose_backup::s3_client(Some(&s3_server.url)).await;
        client
            .create_bucket()
            .bucket("backup")
            .send()
            .await
            .unwrap();
        LocalStream::start(
            config(&dir),
            in_process(),
            Destination::opensearch(&os.url, Duration::from_secs(30)).unwrap(),
            Writer::new(
                Store::S3 {
                    client,
                    bucket: "backup".into(),
                    endpoint: None,
                },
                "social-posts",
            ),
        )
        .await
        .unwrap()
    });
    let summary = run(&rt, rec, local);

    // Accounting: every record exactly once.
    assert_eq!(summary.received, lines.len() as u64);
    assert_eq!(summary.accounted(), lines.len() as u64, "{summary:?}");
    assert_eq!(summary.indexed(), 10);
    assert_eq!(
        summary.processed.dropped,
        BTreeMap::from([("retweet".to_string(), 1)])
    );
    assert_eq!(
        summary.delivered.failed,
        BTreeMap::from([("mapper_parsing_exception".to_string(), 1)])
    );
    // The truncated line ends in a newline inside a string: a syntax error, not an EOF.
    assert_eq!(
        summary.processed.failed,
        BTreeMap::from([
            ("invalid_json".to_string(), 1),
            ("invalid_utf8".to_string(), 1),
            ("wrong_type".to_string(), 1)
        ])
    );

    // OpenSearch: the documents are there, and aggregations equal the expected values.
    std::thread::sleep(Duration::from_millis(300));
    let want: Vec<Value> = expected("basic")
        .into_iter()
        .filter_map(|r| r.document)
        .collect();
    let r = search(
        &os.url,
        json!({
            "size": 0,
            "track_total_hits": true,
            "aggs": {
                "cat": {"terms": {"field": "category"}},
                "mood": {"avg": {"field": "sentiment.score"}},
                "per_second": {"date_histogram": {"field": "created_at", "fixed_interval": "1s"}}
            }
        }),
    );
    assert_eq!(r["hits"]["total"]["value"], 10);
    let mut want_cats: BTreeMap<String, u64> = BTreeMap::new();
    for d in &want {
        *want_cats
            .entry(d["category"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(term_counts(&r["aggregations"]["cat"]), want_cats);
    let want_mood = want
        .iter()
        .map(|d| d["sentiment"]["score"].as_f64().unwrap())
        .sum::<f64>()
        / want.len() as f64;
    let got_mood = r["aggregations"]["mood"]["value"].as_f64().unwrap();
    assert!(
        (got_mood - want_mood).abs() < 1e-4,
        "{got_mood} vs {want_mood}"
    );
    let buckets: u64 = r["aggregations"]["per_second"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 10);
    let hit = search(&os.url, json!({"query": {"match": {"text": "rescue"}}}));
    assert_eq!(
        hit["hits"]["hits"][0]["_source"]["post_id"],
        "1636001000000000009"
    );

    // S3: the malformed records under processing-failed/, with their original bytes.
    let failed = s3_lines(&rt, &s3_server.url, "backup", "processing-failed/");
    let mut raw: Vec<Vec<u8>> = failed
        .iter()
        .map(|l| STANDARD.decode(l["rawData"].as_str().unwrap()).unwrap())
        .collect();
    raw.sort();
    let mut want_raw: Vec<Vec<u8>> = lines[10..13]
        .iter()
        .map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    want_raw.sort();
    assert_eq!(raw, want_raw);
    for l in &failed {
        assert_eq!(l["errorCode"], "Lambda.ProcessingFailed");
        assert!(
            ["invalid_json", "invalid_utf8", "wrong_type"]
                .contains(&l["errorMessage"].as_str().unwrap()),
            "{l}"
        );
        assert!(l["lambdaArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:lambda:"));
        assert_eq!(l["attemptsMade"], 1);
        assert!(
            l["arrivalTimestamp"].as_i64().unwrap()
                <= l["attemptEndingTimestamp"].as_i64().unwrap()
        );
    }
    // The document that breaks the mapping, under the failed-documents prefix.
    let docs = s3_lines(
        &rt,
        &s3_server.url,
        "backup",
        "AmazonOpenSearchService-failed/",
    );
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["errorCode"], "mapper_parsing_exception");
    assert!(docs[0]["esIndexName"]
        .as_str()
        .unwrap()
        .starts_with("social-posts-"));
    let doc: Value = serde_json::from_slice(
        &STANDARD
            .decode(docs[0]["rawData"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["post_id"], "bad-date");
    assert_eq!(doc["created_at"], "yesterday");

    // `producer failed`: the same records read back from the bucket, and the
    // processing-failed ones sent again byte for byte.
    let store = rt.block_on(async {
        Store::S3 {
            client: firehose_backup::s3_client(Some(&s3_server.url)).await,
            bucket: "backup".into(),
            endpoint: None,
        }
    });
    let again = rt.block_on(store.read("processing-failed/")).unwrap();
    let mut all = again.clone();
    all.extend(
        rt.block_on(store.read("AmazonOpenSearchService-failed/"))
            .unwrap(),
    );
    let counts = firehose_backup::records::summary(&all);
    assert_eq!(
        counts[&(
            "processing-failed".to_string(),
            "Lambda.ProcessingFailed".to_string()
        )],
        3
    );
    assert_eq!(
        counts[&(
            "AmazonOpenSearchService-failed".to_string(),
            "mapper_parsing_exception".to_string()
        )],
        1
    );
    let firehose = test_support::firehose_server::FirehoseServer::start(Default::default());
    rt.block_on(async {
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel(16);
        let sink = Sink::new(
            producer::sink::client(Some(firehose.url())).await,
            SinkConfig::new("social-posts"),
            stats,
        );
        let task = tokio::spawn(sink.run(rx, Stop::never(), |_, _| {}));
        for r in &again {
            tx.send(Record::new(r.data.clone())).await.unwrap();
        }
        drop(tx);
        task.await.unwrap();
    });
    let mut resent = firehose.seen().accepted;
    resent.sort();
    assert_eq!(resent, want_raw, "replayed records are the original bytes");
    let _ = std::fs::remove_dir_all(dir);
}

/// The region the bundled example (`fixtures/regions/cities.geojson`) gives a post from
/// each of the generator's places: the file outlines each city around the whole of its
/// places' bounding boxes, so a post's own point and its place's centre agree.
fn example_region(place_name: &str) -> &'static str {
    match place_name {
        "Manhattan" | "Brooklyn" | "Queens" | "The Bronx" => "New York City",
        "London" => "London",
        "Paris" => "Paris",
        "Tokyo" => "Tokyo",
        "São Paulo" => "São Paulo",
        other => panic!("a place the example does not outline: {other}"),
    }
}

#[test]
fn posts_per_region_in_opensearch_are_those_of_the_generated_places() {
    let os = opensearch();
    let rt = runtime();
    let dir = temp_dir("regions");
    // X and Bluesky posts; every X post with a place, half of them with their own point.
    let posts = transform_tools::generate::posts(&transform_tools::generate::Options {
        count: 400,
        places: 1.0,
        coordinates: 0.5,
        retweets: 0.0,
        ..Default::default()
    });
    let rec = dir.join("places.ndjson");
    let mut lines = String::new();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut placed = 0u64;
    for p in &posts {
        lines.push_str(&p.json);
        lines.push('\n');
        let v: Value = serde_json::from_str(&p.json).unwrap();
        if let Some(name) = v["includes"]["places"][0]["name"].as_str() {
            placed += 1;
            *want.entry(example_region(name).to_string()).or_default() += 1;
        }
    }
    std::fs::write(&rec, lines).unwrap();
    assert!(placed > 100 && want.len() >= 4, "{want:?}");
    assert!(
        (placed as usize) < posts.len(),
        "Bluesky posts have no place"
    );

    // The transform with the bundled example regions.
    let regions = test_support::fixture_config();
    let backend = transform::Backend::local(regions.sentiment_backend).unwrap();
    let processor = Processor::InProcess(Box::new(transform::Transformer::new(regions, backend)));
    let local = rt.block_on(async {
        LocalStream::start(
            config(&dir),
            processor,
            Destination::opensearch(&os.url, Duration::from_secs(30)).unwrap(),
            Writer::new(Store::Dir(dir.join("backup")), "social-posts"),
        )
        .await
        .unwrap()
    });
    let summary = run(&rt, rec, local);
    assert_eq!(summary.indexed(), posts.len() as u64, "{summary:?}");

    std::thread::sleep(Duration::from_millis(300));
    let r = search(
        &os.url,
        json!({
            "size": 0,
            "track_total_hits": true,
            "query": {"exists": {"field": "location"}},
            "aggs": {
                "region": {"terms": {"field": "region", "size": 20}},
                "country": {"terms": {"field": "place.country_code", "size": 20}},
            }
        }),
    );
    assert_eq!(r["hits"]["total"]["value"], placed, "{r}");
    assert_eq!(
        term_counts(&r["aggregations"]["region"]),
        want,
        "posts per region"
    );
    let countries: u64 = term_counts(&r["aggregations"]["country"]).values().sum();
    assert_eq!(countries, placed);
}

#[test]
fn an_opensearch_outage_is_retried_within_the_retry_duration() {
    let mut os = opensearch();
    let port = os.port;
    let rt = runtime();
    let dir = temp_dir("outage");
    let (rec, _) = recording(&dir);
    let local = rt
        .block_on(LocalStream::start(
            config(&dir),
            in_process(),
            Destination::opensearch(&os.url, Duration::from_secs(60)).unwrap(),
            Writer::new(Store::Dir(dir.join("s3")), "social-posts"),
        ))
        .unwrap();
    os.stop();
    // Back after a while, on the same port.
    let restarted = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        opensearch_on(port)
    });
    let summary = run(&rt, rec, local);
    let os = restarted.join().unwrap();
    // All ten documents made it once the server was back; the bad date is refused by
    // the mapping (dynamic date detection on the restarted, template-less server), not
    // by the outage.
    assert_eq!(summary.indexed(), 10, "{summary:?}");
    assert_eq!(
        summary.delivered.failed,
        BTreeMap::from([("mapper_parsing_exception".to_string(), 1)])
    );
    assert!(
        summary.delivered.busy >= Duration::from_secs(1),
        "it waited for the server: {summary:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let r = search(&os.url, json!({"size": 0, "track_total_hits": true}));
    assert_eq!(r["hits"]["total"]["value"], 10);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_opensearch_outage_longer_than_the_retry_duration_is_backed_up() {
    let mut os = opensearch();
    let rt = runtime();
    let dir = temp_dir("outage-long");
    let (rec, _) = recording(&dir);
    let local = rt
        .block_on(LocalStream::start(
            config(&dir),
            in_process(),
            Destination::opensearch(&os.url, Duration::from_millis(1_500)).unwrap(),
            Writer::new(Store::Dir(dir.join("s3")), "social-posts"),
        ))
        .unwrap();
    os.stop();
    let summary = run(&rt, rec, local);
    assert_eq!(summary.indexed(), 0);
    assert_eq!(
        summary.delivered.failed.values().sum::<u64>(),
        11,
        "{summary:?}"
    );
    assert_eq!(summary.accounted(), 15);
    let backed_up = backup_lines(&dir, "AmazonOpenSearchService-failed");
    for v in &backed_up {
        assert_eq!(v["errorCode"], "OS.ConnectionFailed");
        assert!(v["attemptsMade"].as_u64().unwrap() > 1, "it was retried");
    }
    assert_eq!(backed_up.len(), 11);
    let _ = std::fs::remove_dir_all(dir);
}

/// A local stream whose processor is the Lambda at `url`, writing to directories in `dir`.
fn with_lambda(rt: &tokio::runtime::Runtime, url: &str, dir: &std::path::Path) -> LocalStream {
    rt.block_on(async {
        LocalStream::start(
            config(dir),
            Processor::Lambda {
                client: firehose_local::processor::lambda_client(url).await,
                function: "transform".into(),
            },
            Destination::dir(dir.join("opensearch")),
            Writer::new(Store::Dir(dir.join("s3")), "social-posts"),
        )
        .await
        .unwrap()
    })
}

/// Every JSON line of every backup object under `dir/s3/PREFIX`.
fn backup_lines(dir: &std::path::Path, prefix: &str) -> Vec<Value> {
    walk(&dir.join("s3").join(prefix))
        .into_iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_bad_processor_response_sends_the_batch_to_processing_failed_with_firehose_codes() {
    // A Lambda Invoke endpoint that answers with one record id missing.
    let server =
        test_support::http::serve(|req: hyper::Request<hyper::body::Incoming>| async move {
            use http_body_util::BodyExt;
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let event: Value = serde_json::from_slice(&body).unwrap();
            let records: Vec<Value> = event["records"]
                .as_array()
                .unwrap()
                .iter()
                .skip(1)
                .map(|r| json!({"recordId": r["recordId"], "result": "Ok", "data": r["data"]}))
                .collect();
            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                hyper::body::Bytes::from(json!({"records": records}).to_string()),
            )))
        });
    let rt = runtime();
    let dir = temp_dir("bad-processor");
    let (rec, lines) = recording(&dir);
    let local = with_lambda(&rt, &server.url, &dir);
    let summary = run(&rt, rec, local);
    assert_eq!(summary.indexed(), 0);
    assert_eq!(
        summary.processed.failed,
        BTreeMap::from([("Lambda.MissingRecordId".to_string(), lines.len() as u64)])
    );
    let mut raw = Vec::new();
    for v in backup_lines(&dir, "processing-failed") {
        assert_eq!(v["errorCode"], "Lambda.MissingRecordId");
        raw.push(STANDARD.decode(v["rawData"].as_str().unwrap()).unwrap());
    }
    let want: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    raw.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(raw, want_sorted);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_lambda_invoke_path_runs_against_cargo_lambda_watch() {
    let (_watch, port) = test_support::cargo_lambda_watch();
    let rt = runtime();
    let dir = temp_dir("lambda");
    let (rec, lines) = recording(&dir);
    let url = format!("http://127.0.0.1:{port}");
    let local = with_lambda(&rt, &url, &dir);
    let summary = run(&rt, rec, local);
    assert_eq!(summary.accounted(), lines.len() as u64, "{summary:?}");
    // Through a real Lambda there are no reasons, only results; the directory
    // destination takes the bad date too. (On failure, say why the records failed.)
    assert_eq!(
        summary.indexed(),
        11,
        "{summary:?}; backed up: {:?}",
        backup_lines(&dir, "processing-failed")
            .iter()
            .map(|v| (v["errorCode"].clone(), v["errorMessage"].clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(summary.processed.dropped.values().sum::<u64>(), 1);
    assert_eq!(
        summary.processed.failed,
        BTreeMap::from([("Lambda.ProcessingFailed".to_string(), 3)])
    );
    let files = walk(&dir.join("opensearch"));
    let docs: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert_eq!(docs, 11);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failing_function_is_invoked_four_times_then_backed_up() {
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let server = test_support::http::serve(move |_req: hyper::Request<hyper::body::Incoming>| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let mut resp = hyper::Response::new(http_body_util::Full::new(
                hyper::body::Bytes::from(r#"{"errorType":"Panic","errorMessage":"boom"}"#),
            ));
            resp.headers_mut().insert(
                "x-amz-function-error",
                hyper::header::HeaderValue::from_static("Unhandled"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let rt = runtime();
    let dir = temp_dir("failing-function");
    let (rec, lines) = recording(&dir);
    let local = with_lambda(&rt, &server.url, &dir);
    let summary = run(&rt, rec, local);
    assert_eq!(
        summary.processed.failed,
        BTreeMap::from([("Lambda.FunctionError".to_string(), lines.len() as u64)])
    );
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        4 * summary.processed.invocations,
        "1 try + 3 retries per batch"
    );
    let backed_up = backup_lines(&dir, "processing-failed");
    for v in &backed_up {
        assert_eq!(v["errorCode"], "Lambda.FunctionError");
        assert_eq!(v["attemptsMade"], 4);
        assert!(v["errorMessage"].as_str().unwrap().contains("boom"));
    }
    assert_eq!(backed_up.len(), lines.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_shutdown_during_an_opensearch_outage_backs_up_after_the_grace_period() {
    let mut os = opensearch();
    let rt = runtime();
    let dir = temp_dir("outage-shutdown");
    let (rec, _) = recording(&dir);
    let local = rt
        .block_on(LocalStream::start(
            config(&dir),
            in_process(),
            // Five minutes of retries, as Firehose's default.
            Destination::opensearch(&os.url, Duration::from_secs(300)).unwrap(),
            Writer::new(Store::Dir(dir.join("s3")), "social-posts"),
        ))
        .unwrap();
    os.stop();
    let started = std::time::Instant::now();
    let summary = run_with_grace(&rt, rec, local, Duration::from_secs(2));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "it waited the retry duration: {took:?}"
    );
    assert_eq!(summary.indexed(), 0);
    assert_eq!(
        summary.delivered.failed.values().sum::<u64>(),
        11,
        "{summary:?}"
    );
    assert_eq!(summary.accounted(), 15);
    assert_eq!(summary.journaled, 0, "everything is in the backup");
    let backed_up = backup_lines(&dir, "AmazonOpenSearchService-failed");
    assert_eq!(backed_up.len(), 11);
    assert!(
        backed_up
            .iter()
            .all(|v| v["errorCode"] == "OS.ConnectionFailed"),
        "{backed_up:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
