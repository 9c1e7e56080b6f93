//! The local spike rule on recordings made for it (`gen-posts`' generator, fixed seeds),
//! through the real `producer --local`: steady traffic with one burst of cats names cats,
//! and when, and not dogs; the same traffic without the burst names nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::{Path, PathBuf};
use std::process::Command;

use transform_tools::generate::{posts, Burst, Options};

const START_MS: i64 = 1_796_083_200_000; // 2026-12-01T00:00:00Z

fn recording(name: &str, bursts: Vec<Burst>) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("producer-spikes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 12 hours at 0.1 posts/s (about 15 posts of each tag per 5 minutes).
    let options = Options {
        seed: 11,
        count: 4_320,
        per_second: 0.1,
        start_ms: START_MS,
        bursts,
        retweets: 0.0,
        ..Options::default()
    };
    let mut text = String::new();
    for p in posts(&options) {
        text.push_str(&p.json);
        text.push('\n');
    }
    let rec = dir.join("recording.ndjson");
    std::fs::write(&rec, text).unwrap();
    (rec, dir)
}

fn summary(rec: &Path, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_producer"))
        .arg("file")
        .arg(rec)
        .args(["--local", "--out"])
        .arg(dir.join("out"))
        .arg("--spill-file")
        .arg(dir.join("spill.ndjson"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_burst_of_one_tag_is_named_with_its_time_and_nothing_else_is() {
    // Cats post five times as often for 20 minutes, six hours in (06:00 to 06:20).
    let (rec, dir) = recording("burst", vec!["cats:21600:1200:5".parse().unwrap()]);
    let s = summary(&rec, &dir);
    let spikes: Vec<&str> = s
        .lines()
        .skip_while(|l| l.trim() != "spikes:")
        .skip(1)
        .take_while(|l| l.starts_with("    ") && !l.contains("mean sentiment"))
        .collect();
    assert!(!spikes.is_empty(), "no spike named:\n{s}");
    assert!(
        spikes
            .iter()
            .all(|l| l.trim_start().starts_with("cats from 2026-12-01 06:")),
        "{spikes:?}\n{s}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn calm_traffic_names_no_spike() {
    let (rec, dir) = recording("calm", vec![]);
    let s = summary(&rec, &dir);
    assert!(s.contains("spikes: none"), "{s}");
    std::fs::remove_dir_all(dir).unwrap();
}
