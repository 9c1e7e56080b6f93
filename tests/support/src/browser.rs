//! A real browser for the page tests: Debian's headless Chromium driven through
//! `chromedriver` (WebDriver) with `fantoccini`, each session in a fresh profile; the
//! browser's console log read through chromedriver's log endpoint; and what a dashboard
//! preview page shows, read from the page (every panel's state and figures, the verdict).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use crate::free_port;

/// Where Debian puts them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver and a browser session; both end when dropped.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free port of 127.0.0.1 and a headless Chromium session
    /// (`width` × `height` window) in a fresh profile.
    pub async fn start(width: u32, height: u32) -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(caps) = caps else {
            unreachable!("an object")
        };
        let client = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The browser console's entries since the last call (`level`, `message`).
    pub async fn console(&self) -> Vec<Value> {
        let logs = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        logs.as_array().cloned().unwrap_or_default()
    }

    /// Waits until `script` (a function body) returns true, or panics naming `what`.
    pub async fn wait_for(&self, script: &str, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self
                .client
                .execute(script, vec![])
                .await
                .expect("script runs");
            if done == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let errors = self
                    .client
                    .execute("return window.__errors || []", vec![])
                    .await
                    .unwrap_or_default();
                panic!("{what}: not within {timeout:?} (page errors: {errors})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the dashboard page shows: per panel `{state, rows: [[data-value...]], drawn}`
    /// (`drawn`: a chart whose canvas has painted pixels, or a table), the verdict, the
    /// outcome counts, the page's own error list, and its refresh count.
    pub async fn dashboard(&self) -> Value {
        self.client
            .execute(
                r#"
                const panels = {};
                for (const card of document.querySelectorAll('section.panel')) {
                  const rows = [...card.querySelectorAll('details.figures tbody tr')]
                    .map(tr => [...tr.children].map(td => td.dataset.value));
                  const canvas = card.querySelector('canvas');
                  let painted = 0;
                  if (canvas && canvas.width > 0 && canvas.height > 0) {
                    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
                  }
                  const chart = canvas ? Chart.getChart(canvas) : null;
                  panels[card.dataset.panel] = {
                    state: card.dataset.state,
                    text: card.innerText,
                    rows,
                    chart: chart ? chart.config.type : null,
                    painted,
                    table: !!card.querySelector('.body table'),
                  };
                }
                const outcomes = {};
                for (const o of document.querySelectorAll('[data-outcome]')) outcomes[o.dataset.outcome] = o.querySelector('b').textContent;
                const tags = [...document.querySelectorAll('#verdict .tag')].map(t => ({tag: t.dataset.tag, n: Number(t.dataset.n), mean: Number(t.dataset.mean)}));
                const verdict = document.getElementById('verdict-text');
                return {
                  panels, outcomes, tags,
                  verdict: verdict ? verdict.textContent : null,
                  winner: verdict ? verdict.dataset.winner : null,
                  errors: window.__errors,
                  refreshes: Number(document.body.dataset.refreshes || 0),
                };
                "#,
                vec![],
            )
            .await
            .expect("the page answers")
    }

    /// A PNG of the whole window.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }
}

/// chromedriver's `POST /session/{id}/se/log` (`{"type": "browser"}`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type": "browser"}"#.into()))
    }
}

/// The console entries that are errors (`SEVERE`).
pub fn console_errors(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Where a regenerated screenshot goes: `target/screenshots/NAME`.
pub fn screenshot_path(name: &str) -> PathBuf {
    let dir = crate::root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    dir.join(name)
}
