//! The Mastodon source through its real client (`reqwest`, `eventsource-stream`) against
//! a local instance speaking the streaming API's server-sent events and the REST
//! timelines (`test_support::mastodon_server`): one stream per hashtag, a status on two
//! streams sent once, a cut-off stream reconnecting after 250 ms and reading the gap back
//! from the timeline (`min_id`), a restart from the cursor file, `Last-Event-ID` when the
//! server gives ids, and a refused token ending the run; then `producer mastodon` itself
//! into the Firehose test server (SIGTERM, the summary, the cursor file).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::{Arc, Mutex};
use std::time::Duration;

use producer::record::{Record, Stats};
use producer::rules::RuleSet;
use producer::source::mastodon::{self, MastodonConfig, MastodonError, Tagger, Timeline};
use producer::source::reconnect::Sleeper;
use serde_json::Value;
use test_support::mastodon_server::{status, MastodonServer, Statuses, TOKEN};
use test_support::runtime;
use tokio::sync::{mpsc, watch};

const RULES: &str =
    r#"{"rules":[{"tag":"cats","hashtags":["cats","kitten"]},{"tag":"dogs","hashtags":["dogs"]}]}"#;

fn config(url: &str, token: &str) -> MastodonConfig {
    let set = RuleSet::parse(RULES).unwrap();
    MastodonConfig {
        url: url.to_string(),
        token: token.to_string(),
        timeline: Timeline::Hashtags(mastodon::hashtags(&set)),
        tagger: Tagger::new(&set),
        stall: Duration::from_secs(10),
        backfill_max: 400,
    }
}

struct Run {
    records: Vec<Record>,
    waits: Vec<Duration>,
    stats: Arc<Stats>,
    result: Result<(), MastodonError>,
}

/// Streams until `want` records came (or 10 s of nothing), then stops.
fn run(config: MastodonConfig, cursor: Option<u64>, want: usize) -> Run {
    let rt = runtime();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let sleeper = Sleeper::Recorded(Arc::clone(&waits));
    let stats = Arc::new(Stats::default());
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop) = watch::channel(false);
    let s = Arc::clone(&stats);
    let (records, result) = rt.block_on(async move {
        let task = tokio::spawn(mastodon::stream(config, cursor, tx, s, sleeper, stop));
        let mut got = Vec::new();
        while got.len() < want {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(r)) => got.push(r),
                _ => break,
            }
        }
        // Anything more would be a duplicate: give it a moment to show.
        if let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            got.push(r);
        }
        let _ = stop_tx.send(true);
        (got, task.await.unwrap())
    });
    let waits = waits.lock().unwrap().clone();
    Run {
        records,
        waits,
        stats,
        result,
    }
}

fn ids(records: &[Record]) -> Vec<u64> {
    let mut ids: Vec<u64> = records.iter().filter_map(|r| r.cursor).collect();
    ids.sort();
    ids
}

/// Status ids grow with time, as on a real instance. Dogs: 102, 107, 112; a bird (104)
/// no rule wants; the rest cats (108 and 110 with #kitten too, 114 with #kitten only).
/// Live: up to 108; the gap: 109..=112; later: 113, 114.
fn statuses() -> Statuses {
    let cat = |id: u64, tags: &[&str]| status(id, &format!("<p>my cat no. {id}</p>"), tags);
    Statuses {
        live: vec![
            cat(101, &["cats"]),
            status(102, "<p>a dog &amp; a ball</p>", &["dogs"]),
            cat(103, &["cats"]),
            status(104, "<p>a bird</p>", &["birds"]),
            cat(105, &["cats"]),
            cat(106, &["cats"]),
            status(107, "<p>good dog</p>", &["dogs"]),
            cat(108, &["cats", "kitten"]),
        ],
        gap: vec![
            cat(109, &["cats"]),
            cat(110, &["cats", "kitten"]),
            cat(111, &["cats"]),
            status(112, "<p>dog again</p>", &["dogs"]),
        ],
        later: vec![cat(113, &["cats"]), cat(114, &["kitten"])],
    }
}

const DOGS: [u64; 3] = [102, 107, 112];

/// Every status a rule wants.
fn wanted() -> Vec<u64> {
    (101..=114).filter(|i| *i != 104).collect()
}

#[test]
fn a_cut_off_stream_reads_the_gap_back_and_sends_every_post_once() {
    let server = MastodonServer::start(statuses(), false);
    let want = wanted();
    let r = run(config(&server.url, TOKEN), None, want.len());
    r.result.unwrap();
    assert_eq!(ids(&r.records), want, "every post once");
    for rec in &r.records {
        let v: Value = serde_json::from_slice(&rec.data).unwrap();
        assert_eq!(v["source"], "mastodon");
        let tag = match DOGS.contains(&rec.cursor.unwrap()) {
            true => "dogs",
            false => "cats",
        };
        assert_eq!(rec.tags, [tag], "{v}");
        assert_eq!(v["matching_rules"][0]["tag"], tag);
        assert!(!v["data"]["text"].as_str().unwrap().contains('<'), "{v}");
        // The transform reads it.
        let post: transform::StreamPost = serde_json::from_slice(&rec.data).unwrap();
        assert!(post.data.id.starts_with("https://remote.example/"));
    }
    let dog: Value = serde_json::from_slice(
        &r.records
            .iter()
            .find(|r| r.cursor == Some(102))
            .unwrap()
            .data,
    )
    .unwrap();
    assert_eq!(dog["data"]["text"], "a dog & a ball");

    // One stream per hashtag, each cut once and reconnected after 250 ms.
    let seen = server.seen();
    let mut streams: Vec<&str> = seen.streams.iter().map(|(s, _)| s.as_str()).collect();
    streams.sort();
    assert_eq!(
        streams,
        [
            "/api/v1/streaming/hashtag?tag=cats",
            "/api/v1/streaming/hashtag?tag=cats",
            "/api/v1/streaming/hashtag?tag=dogs",
            "/api/v1/streaming/hashtag?tag=dogs",
            "/api/v1/streaming/hashtag?tag=kitten",
            "/api/v1/streaming/hashtag?tag=kitten",
        ]
    );
    assert!(
        r.waits.len() >= 3 && r.waits.iter().all(|w| *w == Duration::from_millis(250)),
        "{:?}",
        r.waits
    );
    // Each read back from the last status its own stream had.
    for (timeline, from) in [("cats", 108), ("dogs", 107), ("kitten", 108)] {
        let asked = format!("/api/v1/timelines/tag/{timeline}?min_id={from}&limit=40");
        assert!(
            seen.timelines.contains(&asked),
            "{asked} in {:?}",
            seen.timelines
        );
    }
    assert!(
        Stats::get(&r.stats.backfilled) >= 4,
        "the gap came from the timelines"
    );
    // 108 and 110 are on two streams; 113 and 114 come from a timeline and a stream.
    assert!(Stats::get(&r.stats.duplicates) >= 3);
    assert_eq!(Stats::get(&r.stats.received), want.len() as u64);
}

#[test]
fn a_restart_reads_back_from_the_cursor_file_and_skips_what_was_delivered() {
    // Before the restart: up to 108 was delivered (the cursor file says so).
    let path = std::env::temp_dir().join(format!("mastodon-cursor-{}", std::process::id()));
    producer::source::cursor::write_cursor(&path, 108).unwrap();
    let cursor = producer::source::cursor::read_cursor(&path);
    // The first connections send up to 108 again: skipped, as delivered before.
    let server = MastodonServer::start(statuses(), false);
    let r = run(config(&server.url, TOKEN), cursor, 6);
    r.result.unwrap();
    assert_eq!(ids(&r.records), [109, 110, 111, 112, 113, 114]);
    let seen = server.seen();
    for timeline in ["cats", "dogs", "kitten"] {
        let asked = format!("/api/v1/timelines/tag/{timeline}?min_id=108&limit=40");
        assert!(
            seen.timelines.contains(&asked),
            "{asked} in {:?}",
            seen.timelines
        );
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_server_with_event_ids_gets_last_event_id_on_reconnect() {
    let server = MastodonServer::start(statuses(), true);
    let mut c = config(&server.url, TOKEN);
    c.timeline = Timeline::Hashtags(vec!["dogs".into()]);
    let r = run(c, None, 3);
    r.result.unwrap();
    assert_eq!(ids(&r.records), DOGS);
    let streams = server.seen().streams;
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert_eq!(streams[0].1, None);
    assert_eq!(streams[1].1.as_deref(), Some("107"), "the last event's id");
}

#[test]
fn a_refused_token_ends_the_run_with_the_reason() {
    let server = MastodonServer::start(statuses(), false);
    let r = run(config(&server.url, "wrong-token"), None, 1);
    assert!(r.records.is_empty());
    let err = r.result.unwrap_err();
    assert!(
        matches!(err, MastodonError::Unauthorized { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("MASTODON_ACCESS_TOKEN"), "{err}");
    assert!(
        r.waits.is_empty(),
        "no reconnect on a refused token: {:?}",
        r.waits
    );
    assert_eq!(server.seen().unauthorized, 3, "one try per stream");
}

#[test]
fn the_public_timeline_is_matched_locally() {
    let server = MastodonServer::start(statuses(), false);
    let set = RuleSet::parse(
        r#"{"rules":[{"tag":"cats","keywords":["cat"]},{"tag":"dogs","keywords":["dog"]}]}"#,
    )
    .unwrap();
    let c = MastodonConfig {
        timeline: Timeline::Public,
        tagger: Tagger::new(&set),
        ..config(&server.url, TOKEN)
    };
    let r = run(c, None, wanted().len());
    r.result.unwrap();
    assert_eq!(
        ids(&r.records),
        wanted(),
        "the bird is not a post any rule wants"
    );
    assert!(Stats::get(&r.stats.skipped) >= 1);
    let seen = server.seen();
    assert!(seen
        .streams
        .iter()
        .all(|(s, _)| s == "/api/v1/streaming/public?"));
    assert!(seen
        .timelines
        .contains(&"/api/v1/timelines/public?min_id=108&limit=40".to_string()));
}

/// `producer mastodon` against the local instance, into the Firehose test server.
fn command(mastodon: &str, firehose: &str, token: &str, tag: &str) -> std::process::Command {
    let dir = std::env::temp_dir();
    let file = |what: &str| dir.join(format!("mastodon-cli-{}-{tag}-{what}", std::process::id()));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_producer"));
    cmd.args(["mastodon", "--mastodon-url", mastodon, "--rules"])
        .arg(file("rules.json"))
        .arg("--cursor-file")
        .arg(file("cursor"))
        .args([
            "--stream",
            "social-posts",
            "--firehose-endpoint-url",
            firehose,
        ])
        .arg("--spill-file")
        .arg(file("spill.ndjson"))
        .arg("--rejects-file")
        .arg(file("rejects.ndjson"))
        .env("MASTODON_ACCESS_TOKEN", token)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("PRODUCER_RULES")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    std::fs::write(file("rules.json"), RULES).unwrap();
    let _ = std::fs::remove_file(file("cursor"));
    cmd
}

fn summary_value(stderr: &str, row: &str) -> u64 {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with(row))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no summary row {row:?} in:\n{stderr}"))
}

#[test]
fn the_command_delivers_every_post_once_stops_on_sigterm_and_keeps_the_cursor() {
    use std::io::Read;
    use test_support::firehose_server::{Behaviour, FirehoseServer};
    let server = MastodonServer::start(statuses(), false);
    let firehose = FirehoseServer::start(Behaviour::default());
    let mut child = command(&server.url, firehose.url(), TOKEN, "run")
        .spawn()
        .unwrap();
    let want = wanted();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while firehose.seen().accepted.len() < want.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A moment for a duplicate to show, then a stop.
    std::thread::sleep(Duration::from_millis(500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", "--", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    let accepted: Vec<Value> = firehose
        .seen()
        .accepted
        .iter()
        .map(|r| serde_json::from_slice(r).unwrap())
        .collect();
    let mut ids: Vec<u64> = accepted
        .iter()
        .map(|v| {
            let uri = v["data"]["id"].as_str().unwrap();
            uri.rsplit('/').next().unwrap().parse().unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, want, "every post once: {stderr}");
    assert_eq!(summary_value(&stderr, "read"), want.len() as u64);
    assert_eq!(
        summary_value(&stderr, "delivered to firehose"),
        want.len() as u64
    );
    assert!(
        summary_value(&stderr, "read back after a gap") >= 4,
        "{stderr}"
    );
    assert!(
        summary_value(&stderr, "duplicates (not sent)") >= 3,
        "{stderr}"
    );
    let cursor =
        std::env::temp_dir().join(format!("mastodon-cli-{}-run-cursor", std::process::id()));
    assert_eq!(
        producer::source::cursor::read_cursor(&cursor),
        want.iter().max().copied(),
        "the cursor file holds the last settled status"
    );
}

#[test]
fn the_command_with_a_refused_token_exits_non_zero_naming_it() {
    use test_support::firehose_server::{Behaviour, FirehoseServer};
    let server = MastodonServer::start(statuses(), false);
    let firehose = FirehoseServer::start(Behaviour::default());
    let out = command(&server.url, firehose.url(), "wrong", "refused")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("refused the access token (HTTP 401)"),
        "{stderr}"
    );
    assert!(stderr.contains("MASTODON_ACCESS_TOKEN"), "{stderr}");
    assert!(firehose.seen().accepted.is_empty());
}
