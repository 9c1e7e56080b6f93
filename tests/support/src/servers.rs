//! Real servers from registry packages, started by the tests on free ports of 127.0.0.1
//! and stopped when dropped: `osmem-server` (PyPI `osmem-server`, an OpenSearch-compatible
//! server) and `moto_server` (PyPI `moto[server]`, an S3-compatible server). `tests/run`
//! installs both into `.venv`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, root};

/// A server process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
}

impl ServerProcess {
    /// The process id (to pause it with SIGSTOP, as a server that stops answering).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server now (for tests of an outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn venv(name: &str) -> PathBuf {
    let path = root().join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run tests/run, which installs the test servers into .venv",
        path.display()
    );
    path
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not start on 127.0.0.1:{port}");
}

/// The `osmem-server` binary shipped in the PyPI package.
pub fn osmem_binary() -> PathBuf {
    let out = Command::new(venv("python"))
        .args([
            "-c",
            "import osmem_server; print(osmem_server.resolve_binary())",
        ])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "osmem-server is not installed in .venv: run tests/run"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Starts an OpenSearch-compatible server on `port` (0: a free one).
pub fn opensearch_on(port: u16) -> ServerProcess {
    let port = if port == 0 { free_port() } else { port };
    let child = Command::new(osmem_binary())
        .args([
            "-addr",
            &format!("127.0.0.1:{port}"),
            "-no-stdin-watch",
            "-no-ja",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("osmem-server starts");
    wait_for_port(port, "osmem-server");
    ServerProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
        port,
    }
}

/// Starts an OpenSearch-compatible server on a free port.
pub fn opensearch() -> ServerProcess {
    opensearch_on(0)
}

/// Starts an S3-compatible server (moto) on a free port.
pub fn s3() -> ServerProcess {
    let port = free_port();
    let child = Command::new(venv("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    wait_for_port(port, "moto_server");
    ServerProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
        port,
    }
}

/// The stand-in for an OpenSearch Service domain endpoint (`tests/support/domain_server.py`, on
/// botocore from `.venv`) in front of `upstream` (an osmem-server URL), started with
/// `args` (`--key AKID:SECRET:ARN`, `--fine-grained`, `--fault PATH=KIND`, ...).
pub fn domain(upstream: &str, args: &[&str]) -> ServerProcess {
    use std::io::BufRead;
    let mut child = Command::new(venv("python"))
        .arg(root().join("tests/support/domain_server.py"))
        .args(["--upstream", upstream])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("domain_server.py starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("domain_server.py prints its URL");
    let url = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v["url"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("domain_server.py did not start: {line:?}"));
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    ServerProcess { child, url, port }
}

/// The reason setup's answer gives on a fresh domain.
pub const SET_UP_FRESH: &str =
    "setup: retention created, index template created, dashboards created";

/// The dashboard URL setup reports for the domain stand-in at `domain_url`.
pub fn dashboard_url(domain_url: &str) -> String {
    format!("{domain_url}/_dashboards/app/dashboards#/view/cats-vs-dogs")
}

/// A CloudFormation request for `Custom::SearchSetup` on the domain stand-in at
/// `domain_url`, its response URL the stand-in's; `props` add to or replace the
/// resource's properties. Update and Delete carry the id Create answered.
pub fn cfn_request(
    kind: &str,
    domain_url: &str,
    props: serde_json::Value,
    id: &str,
) -> serde_json::Value {
    let mut properties = serde_json::json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:social-sentiment-dev-setup",
        "Endpoint": domain_url,
        "Region": "eu-west-1",
        "IndexName": "social-posts",
        "RetentionDays": "30",
        "ContentHash": "0123456789abcdef",
    });
    for (k, v) in props.as_object().into_iter().flatten() {
        properties[k] = v.clone();
    }
    let mut request = serde_json::json!({
        "RequestType": kind,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": format!("{domain_url}/cfn-response/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"),
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/social-sentiment-dev/1",
        "RequestId": id,
        "LogicalResourceId": "SearchSetup",
        "ResourceType": "Custom::SearchSetup",
        "ResourceProperties": properties,
    });
    if kind != "Create" {
        request["PhysicalResourceId"] = serde_json::json!(cfn_physical_id(domain_url));
    }
    request
}

/// The resource id setup gives the stand-in at `domain_url` with the default index.
pub fn cfn_physical_id(domain_url: &str) -> String {
    format!(
        "search-setup:{}:social-posts",
        domain_url.trim_start_matches("http://")
    )
}

/// The answers the stand-in's CloudFormation response URL received, in order.
pub async fn cfn_answers(domain_url: &str) -> Vec<serde_json::Value> {
    let all: serde_json::Value = reqwest::get(format!("{domain_url}/_test/cfn"))
        .await
        .expect("the domain stand-in answers")
        .json()
        .await
        .expect("JSON");
    all.as_array()
        .into_iter()
        .flatten()
        .map(|a| a["answer"].clone())
        .collect()
}
