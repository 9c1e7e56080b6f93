//! The real Lambda path, offline: `cargo lambda watch` runs the `transform` binary under
//! the Lambda runtime API emulator on 127.0.0.1, `cargo lambda invoke` sends a fixture
//! event, and the response must be the expected one (but for `processed_at`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline_tests::{cargo_lambda, decoded, expected, free_port, root};
use transform::FirehoseResponse;

/// Stops `cargo lambda watch` when the test ends, pass or fail: SIGTERM lets it stop the
/// function process it started; SIGKILL if it has not exited within five seconds.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", "--", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn invoke(tool: &std::path::Path, port: u16, fixture: &str) -> Result<FirehoseResponse, String> {
    let out = Command::new(tool)
        .args(["lambda", "invoke", "transform", "--data-file"])
        .arg(root().join(format!("fixtures/firehose/{fixture}.json")))
        .args([
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--output-format",
            "json",
        ])
        .current_dir(root().join("transform"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn cargo_lambda_watch_answers_fixture_events() {
    let tool = cargo_lambda().expect(
        "cargo-lambda not found: run tests/run (it installs PyPI cargo-lambda into .venv), or set CARGO_LAMBDA",
    );
    let port = free_port();
    let child = Command::new(&tool)
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .current_dir(root().join("transform"))
        .env("METRICS_EMF", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo lambda watch starts");
    let _watch = Watch(child);

    // The first invoke compiles the function; allow for a cold build.
    let deadline = Instant::now() + Duration::from_secs(600);
    let response = loop {
        match invoke(&tool, port, "ugly") {
            Ok(r) => break r,
            Err(e) if Instant::now() > deadline => {
                panic!("cargo lambda invoke never answered: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };

    for (fixture, response) in [
        ("ugly", response),
        (
            "basic",
            invoke(&tool, port, "basic").expect("second invoke"),
        ),
    ] {
        let got = decoded(&response);
        let want = expected(fixture);
        assert_eq!(got.len(), want.len());
        for (mut g, mut w) in got.into_iter().zip(want) {
            // processed_at is the invocation's real time here.
            for doc in [g.document.as_mut(), w.document.as_mut()]
                .into_iter()
                .flatten()
            {
                let at = doc["processed_at"].take();
                assert!(
                    at.as_str()
                        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
                    "processed_at {at}"
                );
            }
            assert_eq!(g, w, "{fixture}");
        }
    }
}
