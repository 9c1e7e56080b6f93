//! The `transform-local` commands as a user runs them: `event` rebuilds the committed
//! fixture events byte for byte from their NDJSON sources, `run` answers an event, and
//! `decode` turns a raw response into the expected readable records.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cli(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_transform-local"))
        .args(args)
        .current_dir(root())
        .env_remove("DROP_RETWEETS")
        .env_remove("LANGUAGES")
        .env_remove("MIN_TEXT_LENGTH")
        .env_remove("MULTI_CATEGORY")
        .env_remove("SENTIMENT_BACKEND")
        .output()
        .expect("transform-local runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "transform-local {args:?} failed: {stderr}"
    );
    (String::from_utf8(out.stdout).expect("UTF-8 output"), stderr)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).expect(path)
}

#[test]
fn event_rebuilds_the_committed_fixture_events() {
    for name in ["basic", "ugly"] {
        let (out, err) = cli(&["event", &format!("fixtures/tweets/{name}.ndjson")]);
        assert_eq!(
            out,
            read(&format!("fixtures/firehose/{name}.json")),
            "{name}: run fixtures/rebuild.sh"
        );
        assert!(err.contains("records from"), "{err}");
    }
    let (out, _) = cli(&[
        "event",
        "fixtures/tweets/basic.ndjson",
        "--kinesis-stream-arn",
        "arn:aws:kinesis:us-east-1:123456789012:stream/social-posts",
    ]);
    assert_eq!(out, read("fixtures/firehose/basic-kinesis.json"));
}

#[test]
fn run_and_decode_give_the_expected_documents_and_a_summary() {
    let (decoded, err) = cli(&[
        "run",
        "fixtures/firehose/ugly.json",
        "--now",
        "2023-03-14T16:00:00Z",
        "--decode",
    ]);
    assert_eq!(decoded, read("fixtures/expected/ugly.ndjson"));
    assert!(err.contains("summary"), "{err}");
    assert!(err.contains("failed: truncated_json"), "{err}");

    let (raw, _) = cli(&[
        "run",
        "fixtures/firehose/basic.json",
        "--now",
        "2023-03-14T16:00:00Z",
    ]);
    let response_path =
        std::env::temp_dir().join(format!("transform-cli-{}.json", std::process::id()));
    std::fs::write(&response_path, raw).unwrap();
    let (decoded, err) = cli(&["decode", response_path.to_str().unwrap()]);
    std::fs::remove_file(&response_path).ok();
    assert_eq!(decoded, read("fixtures/expected/basic.ndjson"));
    assert!(err.contains("decode: 10 records"), "{err}");
}

#[test]
fn a_bad_setting_fails_with_the_variable_and_allowed_values() {
    let out = Command::new(env!("CARGO_BIN_EXE_transform-local"))
        .args(["run", "fixtures/firehose/basic.json"])
        .current_dir(root())
        .env("SENTIMENT_BACKEND", "textblob")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "SENTIMENT_BACKEND=\"textblob\" is not valid: expected one of: vader, comprehend, none"
        ),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_an_event_is_refused() {
    let dir =
        std::env::temp_dir().join(format!("transform-local-not-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [
        ("array.json", "[]"),
        ("object.json", "{}"),
        ("records.json", r#"{"records":{}}"#),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_transform-local"))
            .arg("run")
            .arg(&path)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{body} was taken for an event");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is not a Firehose transformation event"),
            "{err}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_transform-local"))
        .args(["run", "fixtures/firehose/basic.json"])
        .current_dir(root())
        .env("LANGUAGES", ",,")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LANGUAGES"));
    std::fs::remove_dir_all(&dir).unwrap();
}
