//! The `producer` command as a user runs it, against the Firehose wire-protocol server
//! on 127.0.0.1: a recording replayed in full, and a looping replay stopped by SIGTERM,
//! which must flush, print the summary and exit 0 with nothing lost.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::firehose_server::{Behaviour, FirehoseServer};

fn recording(name: &str, n: usize) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("producer-cli-{}-{name}.ndjson", std::process::id()));
    let mut text = String::new();
    for i in 0..n {
        let tag = if i % 3 == 0 { "dogs" } else { "cats" };
        text.push_str(&format!(
            "{{\"data\":{{\"id\":\"{i}\",\"text\":\"post {i}\"}},\"matching_rules\":[{{\"id\":\"1\",\"tag\":\"{tag}\"}}]}}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn producer(server: &FirehoseServer, args: &[&str], tag: &str) -> Command {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_producer"));
    cmd.args(args)
        .args([
            "--stream",
            "social-posts",
            "--firehose-endpoint-url",
            server.url(),
        ])
        .arg("--spill-file")
        .arg(dir.join(format!(
            "producer-cli-{}-{tag}-spill.ndjson",
            std::process::id()
        )))
        .arg("--rejects-file")
        .arg(dir.join(format!(
            "producer-cli-{}-{tag}-rejects.ndjson",
            std::process::id()
        )))
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
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

/// `producer file INPUT --local --out OUT_DIR`, with no AWS credentials in sight.
fn local_run(input: &std::path::Path, out_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_producer"))
        .arg("file")
        .arg(input)
        .arg("--local")
        .arg("--out")
        .arg(out_dir)
        .arg("--spill-file")
        .arg(out_dir.join("spill.ndjson"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("FIREHOSE_ENDPOINT_URL")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

#[test]
fn a_recording_is_delivered_whole_with_a_summary() {
    let server = FirehoseServer::start(Behaviour::default());
    let rec = recording("whole", 3_000);
    let out = producer(&server, &["file", rec.to_str().unwrap()], "whole")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(summary_value(&stderr, "read"), 3_000);
    assert_eq!(summary_value(&stderr, "delivered to firehose"), 3_000);
    assert_eq!(summary_value(&stderr, "delivered: dogs"), 1_000);
    assert_eq!(summary_value(&stderr, "delivered: cats"), 2_000);
    let accepted = server.seen().accepted;
    assert_eq!(accepted.concat(), std::fs::read(&rec).unwrap());
    std::fs::remove_file(rec).unwrap();
}

#[test]
fn sigterm_stops_reading_flushes_and_exits_zero() {
    let server = FirehoseServer::start(Behaviour::default());
    let rec = recording("loop", 500);
    let mut child = producer(
        &server,
        &["file", rec.to_str().unwrap(), "--loop", "--rate", "2000"],
        "loop",
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let status = Command::new("kill")
        .args(["-TERM", "--", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    let read = summary_value(&stderr, "read");
    let delivered = summary_value(&stderr, "delivered to firehose");
    assert!(read > 500, "it looped: {read}");
    assert_eq!(read, delivered, "everything read was flushed: {stderr}");
    assert_eq!(server.seen().accepted.len() as u64, delivered);
    std::fs::remove_file(rec).unwrap();
}

#[test]
fn local_mode_runs_the_whole_pipeline_on_the_bundled_recording() {
    let out_dir = std::env::temp_dir().join(format!("producer-cli-{}-local", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = local_run(
        &root.join("fixtures/recorded/cats-dogs-2000.ndjson.gz"),
        &out_dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(summary_value(&stderr, "read"), 2_000);
    assert_eq!(summary_value(&stderr, "records in"), 2_000);
    let indexed = summary_value(&stderr, "indexed");
    let dropped: u64 = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Dropped: "))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    assert_eq!(indexed + dropped, 2_000, "{stderr}");
    assert!(stderr.contains("verdict: "), "{stderr}");
    // The documents are in the embedded store; `producer export` writes them out as
    // NDJSON, one file per index, one document per line.
    let exported = out_dir.join("export");
    let export = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["export", "--out"])
        .arg(&out_dir)
        .arg("--to")
        .arg(&exported)
        .output()
        .unwrap();
    let export_err = String::from_utf8_lossy(&export.stderr);
    assert!(export.status.success(), "{export_err}");
    assert!(
        export_err.contains(&format!("exported {indexed} documents")),
        "{export_err}"
    );
    let mut lines = 0;
    for entry in std::fs::read_dir(&exported).unwrap() {
        let path = entry.unwrap().path();
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("social-posts-"));
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(doc["schema_version"], 1);
            lines += 1;
        }
    }
    assert_eq!(lines, indexed);
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn failed_records_are_listed_shown_and_replayed() {
    let out_dir = std::env::temp_dir().join(format!("producer-cli-{}-failed", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let rec = out_dir.join("rec.ndjson");
    let bad: Vec<&[u8]> = vec![
        br#"{"data":{"id":"t","text":"cut"#,
        b"[1,2]",
        b"{\"data\":{\"id\":\"u\",\"text\":\"caf\xe9\"}}",
    ];
    let mut bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tweets/basic.ndjson"),
    )
    .unwrap();
    for b in &bad {
        bytes.extend_from_slice(b);
        bytes.push(b'\n');
    }
    std::fs::write(&rec, bytes).unwrap();
    let local = local_run(&rec, &out_dir);
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );

    let store = out_dir.join("s3");
    let list = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["failed", "list", "--from-dir"])
        .arg(&store)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with("processing-failed"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row, ["processing-failed", "Lambda.ProcessingFailed", "3"]);

    let show = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["failed", "show", "--from-dir"])
        .arg(&store)
        .output()
        .unwrap();
    let shown: Vec<serde_json::Value> = String::from_utf8_lossy(&show.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(shown.len(), 3);
    let mut reasons: Vec<&str> = shown
        .iter()
        .map(|v| v["errorMessage"].as_str().unwrap())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["invalid_json", "invalid_utf8", "wrong_type"]);

    let server = FirehoseServer::start(Behaviour::default());
    let replay = producer(
        &server,
        &["failed", "replay", "--from-dir", store.to_str().unwrap()],
        "failed",
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{stderr}");
    assert_eq!(summary_value(&stderr, "delivered to firehose"), 3);
    let mut got = server.seen().accepted;
    got.sort();
    let mut want: Vec<Vec<u8>> = bad.iter().map(|b| [*b, b"\n"].concat()).collect();
    want.sort();
    assert_eq!(got, want, "the original bytes, sent again");
    let refused = producer(
        &server,
        &[
            "failed",
            "replay",
            "--from-dir",
            store.to_str().unwrap(),
            "--prefix",
            "AmazonOpenSearchService-failed/",
        ],
        "refused",
    )
    .output()
    .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only processing-failed/ records"));
    std::fs::remove_dir_all(out_dir).unwrap();
}
