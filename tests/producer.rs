//! The producer against servers on 127.0.0.1, through its real clients: the Firehose
//! sink (`aws-sdk-firehose`) against the Firehose wire-protocol server, the X stream
//! (`reqwest`) against the fake X API, Jetstream (`tokio-tungstenite`) against a
//! websocket server replaying recorded messages.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::{Arc, Mutex};
use std::time::Duration;

use producer::record::{Record, Stats};
use producer::rules::{LocalMatcher, RuleSet};
use producer::sink::{Fate, Sink, SinkConfig, MAX_BATCH_BYTES, MAX_BATCH_RECORDS};
use producer::source::reconnect::Sleeper;
use producer::source::x::{plan, XClient, XError};
use producer::source::{file, jetstream};
use retry::Stop;
use test_support::firehose_server::{self, FirehoseServer};
use test_support::jetstream_server::JetstreamServer;
use test_support::runtime;
use test_support::x_server::{Step, XServer, TOKEN};
use tokio::sync::{mpsc, watch};

fn firehose_client(url: &str) -> aws_sdk_firehose::Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_firehose::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_firehose::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "tests",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

fn temp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("producer-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn sink_config(name: &str) -> SinkConfig {
    SinkConfig {
        linger: Duration::from_millis(20),
        backoff: retry::Schedule::new(Duration::from_millis(2), Duration::from_millis(20)),
        spill_after: Duration::from_secs(30),
        spill_path: temp(&format!("{name}-spill.ndjson")),
        rejects_path: temp(&format!("{name}-rejects.ndjson")),
        ..SinkConfig::new("social-posts")
    }
}

/// Sends `records` through a sink into the server; returns the stats and how many
/// records the sink reported as delivered.
fn deliver(
    rt: &tokio::runtime::Runtime,
    url: &str,
    config: SinkConfig,
    records: Vec<Record>,
) -> (Arc<Stats>, usize) {
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(64);
    let sink = Sink::new(firehose_client(url), config, Arc::clone(&stats));
    let reported = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&reported);
    rt.block_on(async move {
        let task = tokio::spawn(sink.run(rx, Stop::never(), move |batch, fate| {
            if fate == Fate::Delivered {
                counter.fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
            }
        }));
        for r in records {
            tx.send(r).await.unwrap();
        }
        drop(tx);
        task.await.unwrap();
    });
    let n = reported.load(std::sync::atomic::Ordering::SeqCst);
    (stats, n)
}

fn post(i: usize, extra: &str) -> Record {
    Record::new(format!(r#"{{"data":{{"id":"{i}","text":"post {i} {extra}"}},"matching_rules":[{{"tag":"cats"}}]}}"#).into_bytes())
}

#[test]
fn sink_resends_only_failed_entries_and_delivers_every_byte() {
    let server = FirehoseServer::start(firehose_server::Behaviour {
        fail_marker: Some("FAILME".into()),
        fail_times: 2,
        throttle_next: 1,
        ..Default::default()
    });
    let rt = runtime();
    let mut records: Vec<Record> = (0..1_300)
        .map(|i| post(i, if i % 97 == 0 { "FAILME" } else { "" }))
        .collect();
    // Big records: four of these exceed one call's 4 MiB.
    for i in 0..6 {
        records.push(Record::new(
            format!(
                r#"{{"data":{{"id":"big{i}","text":"{}"}}}}"#,
                "y".repeat(900_000)
            )
            .into_bytes(),
        ));
    }
    let too_big = Record::new(
        format!(
            r#"{{"data":{{"id":"huge","text":"{}"}}}}"#,
            "z".repeat(1_100_000)
        )
        .into_bytes(),
    );
    records.insert(700, too_big.clone());
    let config = sink_config("resend");
    let rejects = config.rejects_path.clone();
    let (stats, reported) = deliver(&rt, server.url(), config, records.clone());
    assert_eq!(
        reported,
        records.len() - 1,
        "every record but the rejected one reported delivered"
    );

    let seen = server.seen();
    let mut want: Vec<Vec<u8>> = records
        .iter()
        .filter(|r| r.data != too_big.data)
        .map(|r| r.data.clone())
        .collect();
    let mut got = seen.accepted.clone();
    assert_eq!(got.len(), want.len(), "every record exactly once");
    want.sort();
    got.sort();
    assert_eq!(got, want, "the bytes that reach firehose are the input's");
    let marked = records
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.data).contains("FAILME"))
        .count() as u64;
    assert_eq!(
        seen.failed_entries,
        marked * 2,
        "each marked entry failed twice"
    );
    // Only failed entries are resent: every entry received beyond one per record was a
    // resend, and the producer counts exactly those.
    assert_eq!(Stats::get(&stats.delivered), want.len() as u64);
    assert_eq!(
        seen.entries_received - want.len() as u64,
        Stats::get(&stats.retried)
    );
    assert!(Stats::get(&stats.retried) >= marked * 2);
    assert!(seen.max_batch_records <= MAX_BATCH_RECORDS);
    assert!(seen.max_batch_bytes <= MAX_BATCH_BYTES);
    assert_eq!(seen.failed_calls, 1);
    assert_eq!(Stats::get(&stats.rejected), 1);
    // The rejects file says why, beside the record.
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim_end()).unwrap();
    assert_eq!(
        format!("{}\n", line["data"].as_str().unwrap()).into_bytes(),
        too_big.data
    );
    assert_eq!(line["bytes"], too_big.data.len());
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("over Firehose's 1024000-byte limit"),
        "{line}"
    );
    assert!(seen.streams.iter().all(|s| s == "social-posts"));
    // Unmarked records keep their order.
    let order: Vec<&Vec<u8>> = seen
        .accepted
        .iter()
        .filter(|d| !String::from_utf8_lossy(d).contains("FAILME"))
        .collect();
    let input: Vec<&Vec<u8>> = records
        .iter()
        .map(|r| &r.data)
        .filter(|d| !String::from_utf8_lossy(d).contains("FAILME") && **d != too_big.data)
        .collect();
    assert_eq!(order, input);
}

#[test]
fn an_unreachable_sink_spills_and_replay_sends_the_spill_later() {
    let down = FirehoseServer::start(firehose_server::Behaviour {
        unavailable: true,
        ..Default::default()
    });
    let rt = runtime();
    let records: Vec<Record> = (0..120).map(|i| post(i, "spill me")).collect();
    let config = SinkConfig {
        spill_after: Duration::from_millis(150),
        ..sink_config("spill")
    };
    let spill = config.spill_path.clone();
    let (stats, reported) = deliver(&rt, down.url(), config, records.clone());
    assert_eq!(reported, 0, "spilled records are not reported delivered");
    assert_eq!(Stats::get(&stats.spilled), 120);
    assert_eq!(Stats::get(&stats.delivered), 0);
    let spilled = std::fs::read(&spill).unwrap();
    let want: Vec<u8> = records.iter().flat_map(|r| r.data.clone()).collect();
    assert_eq!(spilled, want, "the spill file holds every record, in order");

    // Later: `producer replay` sends the spill file to a healthy stream.
    let up = FirehoseServer::start(firehose_server::Behaviour::default());
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(16);
    let (_stop_tx, stop) = watch::channel(false);
    let sink = Sink::new(
        firehose_client(up.url()),
        sink_config("replay"),
        Arc::clone(&stats),
    );
    rt.block_on(async {
        let task = tokio::spawn(sink.run(rx, Stop::never(), |_, _| {}));
        file::replay(spill.clone(), None, false, tx, Arc::clone(&stats), stop)
            .await
            .unwrap();
        task.await.unwrap();
    });
    let got: Vec<u8> = up.seen().accepted.concat();
    assert_eq!(got, want);
    std::fs::remove_file(spill).unwrap();
}

fn x_post(i: usize) -> String {
    format!(
        r#"{{"data":{{"id":"{i}","text":"tweet {i}"}},"matching_rules":[{{"id":"1","tag":"cats"}}]}}"#
    )
}

/// Runs the X stream until `want` posts arrived or it stopped; returns (posts, waits, result).
fn run_x(
    server: &XServer,
    token: &str,
    want: usize,
) -> (Vec<Vec<u8>>, Vec<Duration>, Result<(), XError>) {
    run_x_limited(server, token, want, None)
}

fn run_x_limited(
    server: &XServer,
    token: &str,
    want: usize,
    max_posts: Option<u64>,
) -> (Vec<Vec<u8>>, Vec<Duration>, Result<(), XError>) {
    let rt = runtime();
    let client = XClient::new(&server.url, token)
        .unwrap()
        .max_posts(max_posts);
    let waits = Arc::new(Mutex::new(Vec::new()));
    let sleeper = Sleeper::Recorded(Arc::clone(&waits));
    let stats = Arc::new(Stats::default());
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop) = watch::channel(false);
    let (posts, result) = rt.block_on(async move {
        let task = tokio::spawn(async move {
            client
                .stream(tx, stats, Duration::from_millis(300), sleeper, stop)
                .await
        });
        let mut posts = Vec::new();
        while posts.len() < want {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(r)) => posts.push(r.data),
                _ => break,
            }
        }
        let _ = stop_tx.send(true);
        (posts, task.await.unwrap())
    });
    let waits = waits.lock().unwrap().clone();
    (posts, waits, result)
}

#[test]
fn x_stream_reconnects_on_x_schedule_and_forwards_every_post_once_in_order() {
    let reset = chrono::Utc::now().timestamp() + 600;
    let op_disconnect = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;
    let post5 = x_post(5);
    let (head, tail) = post5.split_at(20);
    let server = XServer::start(vec![
        Step::Send(vec![
            "\r\n".into(),
            format!("{}\r\n", x_post(1)),
            "\r\n".into(),
            format!("{}\r\n", x_post(2)),
        ]),
        Step::SendThenStall(vec![format!("{}\r\n", x_post(3)), "\r\n".into()]),
        Step::Status(429, Some(reset)),
        Step::Status(503, None),
        Step::Send(vec![
            format!("{}\r\n", x_post(4)),
            format!("{op_disconnect}\r\n"),
        ]),
        Step::Send(vec![head.to_string(), format!("{tail}\r\n")]),
        Step::Status(401, None),
    ]);
    let (posts, waits, result) = run_x(&server, TOKEN, 99);
    let want: Vec<Vec<u8>> = (1..=5)
        .map(|i| format!("{}\n", x_post(i)).into_bytes())
        .collect();
    assert_eq!(posts, want, "every post once, in order, byte for byte");
    assert!(
        matches!(result, Err(XError::Unauthorized { status: 401, .. })),
        "{result:?}"
    );
    assert_eq!(waits.len(), 6, "{waits:?}");
    assert_eq!(waits[0], Duration::from_millis(250), "closed after data");
    assert_eq!(waits[1], Duration::from_millis(250), "stalled after data");
    assert!(
        waits[2] >= Duration::from_secs(590) && waits[2] <= Duration::from_secs(600),
        "429 waits for the reset: {:?}",
        waits[2]
    );
    assert_eq!(waits[3], Duration::from_secs(5), "first HTTP error");
    assert_eq!(
        waits[4],
        Duration::from_millis(250),
        "operational disconnect"
    );
    assert_eq!(waits[5], Duration::from_millis(250));
    let seen = server.seen();
    assert_eq!(seen.connections.len(), 7);
    assert!(seen.connections[0]
        .contains("expansions=author_id,attachments.media_keys,referenced_tweets.id,geo.place_id"));
    assert!(seen.connections[0].contains("user.fields=username,name,public_metrics"));
    assert!(seen.connections[0].contains("place.fields=full_name,name,country_code,place_type,geo"));
    assert!(seen.connections[0].contains("tweet.fields=") && seen.connections[0].contains(",geo&"));
}

#[test]
fn the_x_stream_stops_itself_at_max_posts() {
    let server = XServer::start(vec![
        Step::Send((1..=2).map(|i| format!("{}\r\n", x_post(i))).collect()),
        Step::Send((3..=6).map(|i| format!("{}\r\n", x_post(i))).collect()),
    ]);
    let (posts, waits, result) = run_x_limited(&server, TOKEN, 99, Some(4));
    let want: Vec<Vec<u8>> = (1..=4)
        .map(|i| format!("{}\n", x_post(i)).into_bytes())
        .collect();
    assert_eq!(
        posts, want,
        "four posts, across a reconnect, then nothing more"
    );
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        waits.len(),
        1,
        "one reconnect, then it stopped on its own: {waits:?}"
    );
    assert_eq!(server.seen().connections.len(), 2);
}

#[test]
fn x_backoff_grows_while_nothing_arrives() {
    let server = XServer::start(vec![
        Step::Send(vec![]),
        Step::Send(vec![]),
        Step::Send(vec![]),
        Step::Status(503, None),
        Step::Status(500, None),
        Step::Status(429, None),
        Step::Status(429, None),
        Step::Status(403, None),
    ]);
    let (posts, waits, result) = run_x(&server, TOKEN, 1);
    assert!(posts.is_empty());
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [250, 500, 750, 5_000, 10_000, 60_000, 120_000]);
    assert!(matches!(
        result,
        Err(XError::Unauthorized { status: 403, .. })
    ));
}

#[test]
fn a_bad_token_stops_at_once_with_a_clear_error() {
    let server = XServer::start(vec![]);
    let (_, waits, result) = run_x(&server, "wrong-token", 1);
    let err = result.unwrap_err();
    assert!(waits.is_empty());
    assert!(err.to_string().contains("check the bearer token"), "{err}");
}

#[test]
fn rules_sync_validates_then_changes_only_the_difference() {
    let server = XServer::start(vec![]);
    server.set_rules(&[
        ("(cat OR cats) has:images -is:retweet", "cats"),
        ("old rule", "old"),
    ]);
    let kept_id = server.rules()[0].0.clone();
    let rules = RuleSet::parse(
        r#"{"rules":[{"tag":"cats","value":"(cat OR cats) has:images -is:retweet"},{"tag":"dogs","value":"(dog OR dogs) has:images -is:retweet"}]}"#,
    )
    .unwrap();
    let rt = runtime();
    let client = XClient::new(&server.url, TOKEN).unwrap();
    rt.block_on(async {
        let existing = client.list_rules().await.unwrap();
        let p = plan(&rules.x_rules(), &existing);
        client.apply(&p).await.unwrap();
    });
    let after = server.rules();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].0, kept_id, "an unchanged rule keeps its id");
    assert_eq!(after[1].2, "dogs");
    let requests: Vec<(String, bool)> = server
        .seen()
        .rule_requests
        .iter()
        .map(|(m, d, _)| (m.clone(), *d))
        .collect();
    assert_eq!(
        requests,
        [
            ("POST".into(), true),
            ("POST".into(), true),
            ("POST".into(), false),
            ("POST".into(), false)
        ]
    );

    // An invalid rule fails the dry run: nothing changes.
    let bad = RuleSet::parse(r#"{"rules":[{"tag":"x","value":"INVALID ("}]}"#).unwrap();
    let err = rt.block_on(async {
        let existing = client.list_rules().await.unwrap();
        client
            .apply(&plan(&bad.x_rules(), &existing))
            .await
            .unwrap_err()
    });
    assert!(matches!(err, XError::Rules(_)), "{err}");
    assert_eq!(server.rules(), after);
}

fn jet_message(time_us: u64, text: &str, kind: &str) -> (u64, String) {
    let msg = match kind {
        "post" => format!(
            r#"{{"did":"did:plc:u{time_us}","time_us":{time_us},"kind":"commit","commit":{{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k{time_us}","record":{{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"{text}"}},"cid":"c"}}}}"#
        ),
        "delete" => format!(
            r#"{{"did":"did:plc:u","time_us":{time_us},"kind":"commit","commit":{{"operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}}}"#
        ),
        _ => format!(r#"{{"did":"did:plc:u","time_us":{time_us},"kind":"identity"}}"#),
    };
    (time_us, msg)
}

fn recorded_jetstream() -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for i in 1..=12u64 {
        let t = i * 1_000;
        out.push(jet_message(t, &format!("my cat number {i}"), "post"));
        out.push(jet_message(t + 1, "a bird", "post"));
        if i % 4 == 0 {
            out.push(jet_message(t + 2, "", "delete"));
            out.push(jet_message(t + 3, "", "identity"));
        }
    }
    out
}

fn run_jetstream(url: &str, cursor: Option<u64>, want: usize) -> (Vec<Record>, Vec<Duration>) {
    let rt = runtime();
    let matcher = LocalMatcher::new(
        &RuleSet::parse(r#"{"rules":[{"tag":"cats","keywords":["cat"]}]}"#).unwrap(),
    )
    .unwrap();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let sleeper = Sleeper::Recorded(Arc::clone(&waits));
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop) = watch::channel(false);
    let url = url.to_string();
    let got = rt.block_on(async move {
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(async move {
            jetstream::stream(&url, matcher, cursor, tx, stats, sleeper, stop).await
        });
        let mut got = Vec::new();
        while got.len() < want {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(r)) => got.push(r),
                _ => break,
            }
        }
        let _ = stop_tx.send(true);
        task.await.unwrap().unwrap();
        got
    });
    let waits = waits.lock().unwrap().clone();
    (got, waits)
}

#[test]
fn jetstream_cut_off_mid_stream_resumes_without_gap_or_duplicate() {
    // Cut the first connection after 9 messages (in the middle of the recording).
    let server = JetstreamServer::start(recorded_jetstream(), Some(9));
    let (got, waits) = run_jetstream(&server.url, None, 12);
    let times: Vec<u64> = got.iter().filter_map(|r| r.cursor).collect();
    assert_eq!(
        times,
        (1..=12).map(|i| i * 1_000).collect::<Vec<_>>(),
        "every cat post once, in order"
    );
    for r in &got {
        let v: serde_json::Value = serde_json::from_slice(&r.data).unwrap();
        assert_eq!(v["source"], "bluesky");
        assert_eq!(v["matching_rules"][0]["tag"], "cats");
    }
    assert_eq!(waits, [Duration::from_millis(250)]);
    let cursors = server.seen().cursors;
    assert_eq!(cursors.len(), 2);
    assert_eq!(cursors[0], None);
    // The resume asks from the last event received (inclusive on the server, skipped here).
    assert!(
        cursors[1].is_some_and(|c| (4_000..5_000).contains(&c)),
        "{cursors:?}"
    );
}

#[test]
fn jetstream_restart_from_the_cursor_file_skips_what_was_delivered() {
    let server = JetstreamServer::start(recorded_jetstream(), None);
    let path = temp("cursor");
    jetstream::write_cursor(&path, 7_000).unwrap();
    let cursor = jetstream::read_cursor(&path);
    let (got, _) = run_jetstream(&server.url, cursor, 5);
    let times: Vec<u64> = got.iter().filter_map(|r| r.cursor).collect();
    assert_eq!(times, [8_000, 9_000, 10_000, 11_000, 12_000]);
    assert_eq!(server.seen().cursors, [Some(7_000)]);
    std::fs::remove_file(path).unwrap();
}
