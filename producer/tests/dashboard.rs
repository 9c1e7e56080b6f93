//! The quick start's last mile, through the real `producer` binary and a real browser
//! (headless Chromium): `--local --dashboard` prints the page's URL, the page refreshes
//! while the stream runs and its counts grow, the run ends with the URL and keeps serving
//! until Ctrl-C (then exits 0), and the figures on the page equal those of the documents
//! in the store. The screenshot in the README (`docs/dashboard.png`) is made again here
//! (`UPDATE_SCREENSHOT=1` writes it; otherwise it goes to `target/screenshots/` and is
//! compared in size). Also: two runs on one store, and a store that cannot be read.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use test_support::browser::{console_errors, screenshot_path, Browser};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("producer-dashboard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `producer ARGS` with its stderr lines on a channel.
fn spawn(args: &[&str], out: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(args)
        .arg("--out")
        .arg(out)
        .env("RUST_LOG", "warn")
        // As the quick start runs it: the bundled example regions, for the regions panel.
        .env(
            "REGIONS_GEOJSON",
            root().join("fixtures/regions/cities.geojson"),
        )
        .env_remove("FIREHOSE_ENDPOINT_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `needle`; returns it and what came before.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(e) => panic!(
                "no line with {needle:?} ({e}); so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn url_in(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap()
        .to_string()
}

fn signal(child: &Child, name: &str) {
    Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
}

/// Per tag: documents, from the store's export.
fn exported_per_tag(out: &Path) -> BTreeMap<String, u64> {
    let to = out.join("export");
    let status = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["export", "--out"])
        .arg(out)
        .arg("--to")
        .arg(&to)
        .status()
        .unwrap();
    assert!(status.success());
    let mut per_tag = BTreeMap::new();
    for e in std::fs::read_dir(&to).unwrap() {
        for line in std::fs::read_to_string(e.unwrap().path()).unwrap().lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            for tag in doc["categories"].as_array().unwrap() {
                *per_tag
                    .entry(tag.as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    per_tag
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_ends_on_a_live_dashboard() {
    let out = scratch("quick-start");
    let rec = root().join("fixtures/recorded/cats-dogs-2000.ndjson.gz");
    // Paced, so the page is seen while the stream runs (about 8 s).
    let (mut child, rx) = spawn(
        &[
            "file",
            rec.to_str().unwrap(),
            "--rate",
            "250",
            "--local",
            "--dashboard",
        ],
        &out,
    );
    let mut seen = Vec::new();
    let url = url_in(&wait_line(&rx, "dashboard: ", &mut seen));
    let browser = Browser::start(1400, 3200).await;
    browser.client.goto(&url).await.unwrap();
    browser
        .wait_for(
            "return Number(document.body.dataset.refreshes || 0) >= 1",
            "the first refresh",
            Duration::from_secs(30),
        )
        .await;
    let first = browser.dashboard().await;
    let indexed = |page: &Value| -> u64 {
        page["outcomes"]["indexed"]
            .as_str()
            .unwrap_or("0")
            .replace(',', "")
            .parse()
            .unwrap()
    };
    // It refreshes on its own, and the counts grow while the stream runs.
    browser
        .wait_for(
            "return Number(document.body.dataset.refreshes || 0) >= 3",
            "live refreshes",
            Duration::from_secs(30),
        )
        .await;
    let later = browser.dashboard().await;
    assert!(
        indexed(&later) > indexed(&first),
        "the page is live: {} then {}",
        indexed(&first),
        indexed(&later)
    );

    // The run ends with the URL and keeps serving.
    let last = wait_line(&rx, "serving until Ctrl-C", &mut seen);
    assert_eq!(url_in(&last), url);
    assert!(
        seen.iter()
            .any(|l| l.contains("freshness (read to searchable)")),
        "{}",
        seen.join("\n")
    );
    assert!(
        seen.iter().any(|l| l.contains("verdict: ")),
        "{}",
        seen.join("\n")
    );
    let refreshes = browser.dashboard().await["refreshes"].as_u64().unwrap();
    browser.client.refresh().await.unwrap();
    browser
        .wait_for("return Number(document.body.dataset.refreshes || 0) >= 1 && !document.querySelector('section.panel[data-state=loading]')", "the final figures", Duration::from_secs(30))
        .await;
    let page = browser.dashboard().await;
    assert!(refreshes >= 3);
    assert_eq!(
        console_errors(&browser.console().await),
        Vec::<String>::new()
    );
    assert_eq!(page["errors"], serde_json::json!([]));
    for (id, p) in page["panels"].as_object().unwrap() {
        assert_eq!(p["state"], "drawn", "{id}: {}", p["text"]);
    }
    // The page's posts per tag are the store's documents per tag.
    let per_tag = exported_per_tag(&out);
    let shown: BTreeMap<String, u64> = page["panels"]["posts-per-category"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, per_tag);
    // The burst of dogs from 14:00 to 14:30 is the highest point of posts over time.
    let over_time = page["panels"]["posts-over-time"]["rows"]
        .as_array()
        .unwrap();
    let peak = over_time
        .iter()
        .max_by_key(|r| r[2].as_str().unwrap().parse::<u64>().unwrap())
        .unwrap();
    assert_eq!(
        (peak[0].as_str().unwrap(), peak[1].as_str().unwrap()),
        ("2026-11-30T14:00:00.000Z", "dogs"),
        "{over_time:?}"
    );
    assert!(
        page["verdict"].as_str().unwrap().contains("Welch"),
        "{page}"
    );

    let png = browser.screenshot().await;
    let size = png_size(&png);
    std::fs::write(screenshot_path("dashboard.png"), &png).unwrap();
    let committed = root().join("docs/dashboard.png");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::write(&committed, &png).unwrap();
    }
    let committed =
        std::fs::read(&committed).expect("docs/dashboard.png (UPDATE_SCREENSHOT=1 makes it)");
    // Same width; the height within 2 %: text wraps a little differently with each
    // machine's fonts.
    let (width, height) = png_size(&committed);
    assert!(
        width == size.0 && height.abs_diff(size.1) * 50 <= size.1,
        "the README's screenshot is of this page at this size: {:?} vs {size:?}",
        (width, height)
    );

    // Ctrl-C ends it, cleanly.
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn two_runs_on_one_store_the_second_is_refused() {
    let out = scratch("two-runs");
    let rec = root().join("fixtures/tweets/basic.ndjson");
    let (mut first, rx) = spawn(
        &[
            "file",
            rec.to_str().unwrap(),
            "--rate",
            "5",
            "--loop",
            "--local",
        ],
        &out,
    );
    let mut seen = Vec::new();
    // The first run is up once its store exists.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !out.join("store/meta.json").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["file", rec.to_str().unwrap(), "--local", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains("in use by another run")
            && stderr.contains(&out.join("store").display().to_string()),
        "{stderr}"
    );
    signal(&first, "-TERM");
    assert!(first.wait().unwrap().success());
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    // Nothing was corrupted: the store opens and holds what the first run indexed.
    let store = search_store::Store::open(&out.join("store"), search_store::Mode::Read).unwrap();
    assert!(store.count() > 0, "{}", seen.join("\n"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_store_that_cannot_be_read_is_named() {
    let out = scratch("unreadable");
    let run = |out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_producer"))
            .args(["dashboard", "--out"])
            .arg(out)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, stderr) = run(&out);
    assert!(
        !ok && stderr.contains("no store here")
            && stderr.contains(&out.join("store").display().to_string()),
        "{stderr}"
    );
    std::fs::create_dir_all(out.join("store")).unwrap();
    std::fs::write(out.join("store/meta.json"), "{ not json").unwrap();
    let (ok, stderr) = run(&out);
    assert!(
        !ok && stderr.contains("cannot open the store at")
            && stderr.contains(&out.join("store").display().to_string()),
        "{stderr}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
