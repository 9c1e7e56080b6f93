//! The deploy artifacts themselves: the arm64 zips `serverless.yml` deploys, built with
//! `cargo lambda build --release --arm64`, each `bootstrap` run under
//! `qemu-aarch64-static` against a Lambda Runtime API server on 127.0.0.1. The transform
//! answers the fixture events exactly as `fixtures/expected/` says; the setup function
//! answers CloudFormation requests through their response URL; both log plain text lines
//! (no ANSI colour codes, which CloudWatch shows raw), or JSON objects with Lambda's JSON
//! log format.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use test_support::runtime_api::{Answer, RuntimeApi};
use test_support::{assert_matches_expected, root, servers};
use transform::FirehoseResponse;

const QEMU: &str = "/usr/bin/qemu-aarch64-static";
const SYSROOT: &str = "/usr/aarch64-linux-gnu";
/// Emulated arm64 is slow; a cold start and an invocation take seconds.
const WAIT: Duration = Duration::from_secs(180);

fn zips() -> &'static Path {
    static ZIPS: OnceLock<PathBuf> = OnceLock::new();
    ZIPS.get_or_init(test_support::arm64_lambda_zips)
}

/// Unpacks `NAME/bootstrap.zip` into a fresh directory; returns the `bootstrap` path.
fn bootstrap(name: &str) -> PathBuf {
    let zip = zips().join(name).join("bootstrap.zip");
    assert!(zip.exists(), "{} was not built", zip.display());
    let dir = std::env::temp_dir().join(format!("arm64-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new(root().join(".venv/bin/python"))
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let path = dir.join("bootstrap");
    let out = Command::new("file").arg(&path).output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("aarch64") || text.contains("ARM aarch64"),
            "{text}"
        );
    }
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

/// A function process under qemu; its output goes to a log file; killed when dropped.
struct Function {
    child: Child,
    log: PathBuf,
}

impl Function {
    fn start(bootstrap: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        assert!(
            Path::new(QEMU).exists(),
            "{QEMU} is missing: install Debian qemu-user-static (and libc6-arm64-cross), as .ci/run does"
        );
        let log = bootstrap.with_extension("log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(QEMU)
            .args(["-L", SYSROOT])
            .arg(bootstrap)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/under-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]0")
            .env("AWS_REGION", "eu-west-1")
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Function { child, log }
    }

    /// Stops the function and returns everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn response(answer: Option<Answer>) -> Vec<u8> {
    match answer {
        Some(Answer::Response(body)) => body,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// The category names of a `batch transformed` line's `categories=cats=5,dogs=5` field.
fn report_categories(line: &str) -> Vec<String> {
    let field = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("categories="))
        .unwrap_or_else(|| panic!("no categories= in {line}"));
    field
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect()
}

fn assert_plain(log: &str) {
    assert!(!log.contains('\u{1b}'), "ANSI escapes in the logs:\n{log}");
}

#[test]
fn the_arm64_transform_answers_the_fixtures_with_plain_or_json_logs() {
    let bootstrap = bootstrap("transform");
    let api = RuntimeApi::start();
    let function = Function::start(
        &bootstrap,
        &api,
        &[("AWS_LAMBDA_FUNCTION_NAME", "transform")],
    );
    for fixture in ["basic", "ugly"] {
        let event =
            std::fs::read(root().join(format!("fixtures/firehose/{fixture}.json"))).unwrap();
        api.invoke(fixture, &event, Duration::from_secs(120));
        let body = response(api.answer(fixture, WAIT));
        let answered: FirehoseResponse = serde_json::from_slice(&body).unwrap();
        assert_matches_expected(fixture, &answered);
    }
    let log = function.stop();
    assert_plain(&log);
    let reports: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("batch transformed"))
        .collect();
    assert_eq!(reports.len(), 2, "{log}");
    assert!(
        reports.iter().all(|l| l.trim_start().starts_with("INFO")),
        "{log}"
    );
    let emf: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    // One batch line per invocation, then one line per category its report counts.
    let (per_category, per_batch): (Vec<&Value>, Vec<&Value>) =
        emf.iter().partition(|v| v.get("Category").is_some());
    assert_eq!(
        per_batch.len(),
        2,
        "one batch EMF line per invocation: {log}"
    );
    let mut reported: Vec<String> = reports.iter().flat_map(|l| report_categories(l)).collect();
    let mut emitted: Vec<String> = per_category
        .iter()
        .map(|v| v["Category"].as_str().unwrap().to_owned())
        .collect();
    reported.sort();
    emitted.sort();
    assert!(!emitted.is_empty(), "{log}");
    assert_eq!(
        emitted, reported,
        "one EMF line per reported category: {log}"
    );

    // The zip carries the example regions (`--include fixtures/regions`), beside
    // `bootstrap` as on Lambda (/var/task): the places fixture gets its regions from them.
    let regions = bootstrap
        .parent()
        .unwrap()
        .join("fixtures/regions/cities.geojson");
    assert!(regions.exists(), "the zip carries {}", regions.display());
    let api = RuntimeApi::start();
    let function = Function::start(
        &bootstrap,
        &api,
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "transform"),
            ("REGIONS_GEOJSON", regions.to_str().unwrap()),
        ],
    );
    let event = std::fs::read(root().join("fixtures/firehose/places.json")).unwrap();
    api.invoke("places", &event, Duration::from_secs(120));
    let answered: FirehoseResponse =
        serde_json::from_slice(&response(api.answer("places", WAIT))).unwrap();
    assert_matches_expected("places", &answered);
    function.stop();

    // Lambda's JSON log format: every line a JSON object.
    let api = RuntimeApi::start();
    let function = Function::start(
        &bootstrap,
        &api,
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "transform"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    let event = std::fs::read(root().join("fixtures/firehose/basic.json")).unwrap();
    api.invoke("json", &event, Duration::from_secs(120));
    let answered: FirehoseResponse =
        serde_json::from_slice(&response(api.answer("json", WAIT))).unwrap();
    assert_matches_expected("basic", &answered);
    let log = function.stop();
    assert_plain(&log);
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|v| v["level"] == "INFO" && v["fields"]["message"] == "batch transformed"),
        "{log}"
    );
}

#[test]
fn the_arm64_setup_function_answers_cloudformation() {
    let osmem = servers::opensearch();
    let domain = servers::domain(
        &osmem.url,
        &[
            "--region",
            "eu-west-1",
            "--key",
            "AKIDSETUP:setup-secret:arn:aws:iam::123456789012:role/setup",
        ],
    );
    let bootstrap = bootstrap("setup");
    let api = RuntimeApi::start();
    let function = Function::start(
        &bootstrap,
        &api,
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "setup"),
            ("AWS_ACCESS_KEY_ID", "AKIDSETUP"),
            ("AWS_SECRET_ACCESS_KEY", "setup-secret"),
        ],
    );
    let request = |kind: &str, id: &str| {
        serde_json::to_vec(&servers::cfn_request(kind, &domain.url, json!({}), id)).unwrap()
    };
    api.invoke(
        "create-1",
        &request("Create", "create-1"),
        Duration::from_secs(120),
    );
    let body: Value = serde_json::from_slice(&response(api.answer("create-1", WAIT))).unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    api.invoke(
        "delete-1",
        &request("Delete", "delete-1"),
        Duration::from_secs(120),
    );
    let body: Value = serde_json::from_slice(&response(api.answer("delete-1", WAIT))).unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");

    let answers = test_support::runtime().block_on(servers::cfn_answers(&domain.url));
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["Status"], "SUCCESS");
    assert_eq!(answers[0]["RequestId"], "create-1");
    assert_eq!(answers[0]["Reason"], servers::SET_UP_FRESH);
    assert_eq!(
        answers[0]["Data"]["DashboardsUrl"],
        servers::dashboard_url(&domain.url)
    );
    assert_eq!(
        answers[1]["PhysicalResourceId"],
        servers::cfn_physical_id(&domain.url)
    );
    let template = reqwest_get(&format!("{}/_index_template/social-posts", osmem.url));
    assert_eq!(template["index_templates"][0]["name"], "social-posts");
    let log = function.stop();
    assert_plain(&log);
    assert!(
        log.lines()
            .any(|l| l.trim_start().starts_with("INFO") && l.contains("answering CloudFormation")),
        "{log}"
    );
}

fn reqwest_get(url: &str) -> Value {
    test_support::runtime().block_on(async {
        reqwest::get(url)
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}
