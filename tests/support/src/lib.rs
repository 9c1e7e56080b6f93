//! What the workspace's tests share, and nothing they test: where the fixtures are, how
//! to run the transform on an event the way the Lambda does, the tools `tests/run`
//! installs (`cargo-lambda`), and the servers the tests start on 127.0.0.1 ([`servers`]:
//! osmem-server, moto, the domain stand-in; and fakes of the Firehose, Comprehend, X,
//! Jetstream and Lambda Runtime APIs). It depends on no crate it serves as a test server
//! for, so no crate's tests depend on themselves.

use std::path::{Path, PathBuf};

pub mod browser;
pub mod comprehend_server;
pub mod firehose_server;
pub mod http;
pub mod jetstream_server;
pub mod mastodon_server;
pub mod runtime_api;
pub mod servers;
pub mod x_server;

use chrono::{DateTime, Utc};
use transform::{Backend, Config, FirehoseEvent, FirehoseResponse, Report, Transformer};
use transform_tools::events::{decode_response, DecodedRecord};

/// `processed_at` of the expected documents in `fixtures/expected/`.
pub const FIXTURE_NOW: &str = "2023-03-14T16:00:00.000Z";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("tests/support sits two levels below the workspace root")
}

/// The names of the bundled fixture events (`fixtures/firehose/NAME.json`).
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures/firehose"))
        .expect("fixtures/firehose exists")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "json").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

/// Reads `fixtures/firehose/NAME.json`.
pub fn fixture_event(name: &str) -> FirehoseEvent {
    let path = root().join(format!("fixtures/firehose/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads `fixtures/expected/NAME.ndjson`, the decoded response expected for an event.
pub fn expected(name: &str) -> Vec<DecodedRecord> {
    let path = root().join(format!("fixtures/expected/{name}.ndjson"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// The configuration the expected fixture responses were made with: the defaults, and
/// the bundled example regions (`fixtures/regions/cities.geojson`, as `fixtures/rebuild.sh`
/// sets `REGIONS_GEOJSON`).
pub fn fixture_config() -> Config {
    let regions = root().join("fixtures/regions/cities.geojson");
    Config::from_lookup(|k| (k == "REGIONS_GEOJSON").then(|| regions.display().to_string()))
        .expect("the bundled regions load")
}

/// The time the fixtures were processed at.
pub fn fixture_now() -> DateTime<Utc> {
    FIXTURE_NOW.parse().expect("FIXTURE_NOW is ISO-8601")
}

/// Runs the transform on an event with this configuration, as the Lambda would.
pub fn transform(config: Config, event: &FirehoseEvent) -> (FirehoseResponse, Report) {
    let analyzer = Backend::local(config.sentiment_backend).expect("a local analyzer");
    let transformer = Transformer::new(config, analyzer);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
        .block_on(transformer.transform(event, fixture_now()))
        .expect("the response fits")
}

/// Decodes a response into readable records.
pub fn decoded(response: &FirehoseResponse) -> Vec<DecodedRecord> {
    decode_response(response)
}

/// The `cargo-lambda` executable: `$CARGO_LAMBDA`, the repo's `.venv`, or `PATH`.
pub fn cargo_lambda() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CARGO_LAMBDA") {
        return Some(PathBuf::from(p));
    }
    let venv = root().join(".venv/bin/cargo-lambda");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("cargo-lambda"))
            .find(|p| p.exists())
    })
}

/// A two-worker runtime for tests that drive async code from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running `cargo lambda watch`; stopped when dropped (SIGTERM, so it stops the
/// function it started; SIGKILL after five seconds).
pub struct Watch(std::process::Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &pid])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cargo lambda invoke transform` with an event file against the watch on `port`.
pub fn cargo_lambda_invoke(port: u16, event: &Path) -> Result<FirehoseResponse, String> {
    let tool = cargo_lambda().ok_or("cargo-lambda not found")?;
    let out = std::process::Command::new(tool)
        .args(["lambda", "invoke", "transform", "--data-file"])
        .arg(event)
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

/// Starts `cargo lambda watch` for the transform on a free port of 127.0.0.1 and waits
/// until the function answers (the first invoke compiles it).
pub fn cargo_lambda_watch() -> (Watch, u16) {
    let tool = cargo_lambda().expect(
        "cargo-lambda not found: run tests/run (it installs PyPI cargo-lambda into .venv), or set CARGO_LAMBDA",
    );
    let port = free_port();
    let child = std::process::Command::new(&tool)
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
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cargo lambda watch starts");
    let watch = Watch(child);
    let empty = std::env::temp_dir().join(format!("empty-event-{}.json", std::process::id()));
    std::fs::write(&empty, r#"{"records":[]}"#).expect("write an empty event");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        match cargo_lambda_invoke(port, &empty) {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("cargo lambda watch never answered: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
    let _ = std::fs::remove_file(empty);
    (watch, port)
}

/// Asserts a response to `fixtures/firehose/NAME.json` decodes to
/// `fixtures/expected/NAME.ndjson`, but for `processed_at` (the invocation's real time
/// when a real Lambda answers), which must be an RFC 3339 time.
pub fn assert_matches_expected(fixture: &str, response: &FirehoseResponse) {
    let got = decoded(response);
    let want = expected(fixture);
    assert_eq!(got.len(), want.len(), "{fixture}: records");
    for (mut g, mut w) in got.into_iter().zip(want) {
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

/// The build's target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// Builds the deployed arm64 Lambda zips (`cargo lambda build --release --arm64 --bin
/// transform --bin setup --output-format zip --include fixtures/regions`, zig from `.venv`) and returns the directory
/// holding `transform/bootstrap.zip` and `setup/bootstrap.zip`. Cargo rebuilds only what
/// changed, so the zips are always this checkout's.
pub fn arm64_lambda_zips() -> PathBuf {
    let tool = cargo_lambda()
        .expect("cargo-lambda not found: run tests/run, which installs it into .venv");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![root().join(".venv/bin")];
    paths.extend(std::env::split_paths(&path));
    let status = std::process::Command::new(tool)
        .args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--bin",
            "transform",
            "--bin",
            "setup",
            "--output-format",
            "zip",
            // The example regions, as the README's build puts them in the zips.
            "--include",
            "fixtures/regions",
        ])
        .current_dir(root())
        .env("PATH", std::env::join_paths(paths).expect("a PATH"))
        .status()
        .expect("cargo lambda build runs");
    assert!(
        status.success(),
        "cargo lambda build --release --arm64 failed"
    );
    target_dir().join("lambda")
}
