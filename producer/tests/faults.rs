//! Faults, as a careful user would inject them, against the `producer` command and real
//! servers on 127.0.0.1. Each test counts every record's fate — delivered, backed up,
//! kept in the local stream's journal, spilled, rejected, or reported lost with a
//! non-zero exit — and finds nothing else: a full disk under `--out` (a 512 KiB tmpfs;
//! CI runs as root), an S3 server that stops answering mid-run, a Firehose endpoint that
//! accepts and never answers (with and without SIGTERM), malformed answers and entries
//! refused for good, a backup replayed twice, a spill file given as its own replay target.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use test_support::firehose_server::{Behaviour, FirehoseServer};
use test_support::servers;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` posts with ids `p0`... (every `bad`-th one, when given, a truncated JSON record).
fn recording(dir: &Path, n: usize, bad: Option<usize>) -> PathBuf {
    let mut text = String::new();
    for i in 0..n {
        if bad.is_some_and(|b| i % b == b - 1) {
            text.push_str(&format!(
                "{{\"data\":{{\"id\":\"p{i}\",\"text\":\"truncated\n"
            ));
            continue;
        }
        text.push_str(&format!(
            r#"{{"data":{{"id":"p{i}","text":"my cat number {i} sat on the keyboard again today","lang":"en","author_id":"u{i}","created_at":"2026-12-01T10:00:00.000Z"}},"includes":{{"users":[{{"id":"u{i}","username":"user{i}"}}]}},"matching_rules":[{{"id":"1","tag":"cats"}}]}}"#
        ));
        text.push('\n');
    }
    let path = dir.join("recording.ndjson");
    std::fs::write(&path, text).unwrap();
    path
}

fn producer(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_producer"));
    cmd.current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn row(stderr: &str, name: &str) -> u64 {
    stderr
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .and_then(|l| l.trim_start()[name.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no summary row {name:?} in:\n{stderr}"))
}

/// The post id (`data.id`) of a post payload.
fn post_id(payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    let start = text.find("\"id\":\"")? + 6;
    Some(text[start..].split('"').next()?.to_string())
}

/// Where posts ended, by id.
#[derive(Default, Debug)]
struct Fates {
    docs: Vec<String>,
    backed_up: Vec<String>,
    journal: Vec<String>,
    spilled: Vec<String>,
    rejected: Vec<String>,
}

impl Fates {
    fn all(&self) -> HashSet<String> {
        [
            &self.docs,
            &self.backed_up,
            &self.journal,
            &self.spilled,
            &self.rejected,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Reads every place a post can be after a local run in `out`, plus the spill and rejects files.
fn fates(out: &Path, spill: &Path, rejects: &Path) -> Fates {
    let mut f = Fates::default();
    // Documents: in the embedded store (exported beside OUT, which may be a full disk),
    // or in OUT/opensearch with --ndjson.
    let mut document_files = files(&out.join("opensearch"));
    if out.join("store/meta.json").exists() {
        let exported = out.with_extension("export");
        let _ = std::fs::remove_dir_all(&exported);
        let store = search_store::Store::open(&out.join("store"), search_store::Mode::Read)
            .unwrap_or_else(|e| panic!("{e}"));
        store.export(&exported).unwrap_or_else(|e| panic!("{e}"));
        document_files.extend(files(&exported));
    }
    for file in document_files {
        for l in lines(&file) {
            let doc: Value = serde_json::from_str(&l)
                .unwrap_or_else(|e| panic!("{}: a line is cut ({e}): {l}", file.display()));
            f.docs.push(doc["post_id"].as_str().unwrap().to_string());
        }
    }
    for file in files(&out.join("s3")) {
        if file.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        for l in lines(&file) {
            let v: Value = serde_json::from_str(&l)
                .unwrap_or_else(|e| panic!("{}: a line is cut ({e})", file.display()));
            let raw = STANDARD.decode(v["rawData"].as_str().unwrap()).unwrap();
            let id = serde_json::from_slice::<Value>(&raw)
                .ok()
                .and_then(|d| d["post_id"].as_str().map(String::from))
                .or_else(|| post_id(&raw))
                .unwrap();
            f.backed_up.push(id);
        }
    }
    // The journal: segments minus what is marked done.
    let journal = out.join("journal");
    let mut done = HashSet::new();
    let mut entries = Vec::new();
    for file in files(&journal) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".done") {
            done.extend(lines(&file));
        } else if name.ends_with(".log") {
            for l in lines(&file) {
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    entries.push((
                        v["id"].as_str().unwrap().to_string(),
                        STANDARD.decode(v["data"].as_str().unwrap()).unwrap(),
                    ));
                }
            }
        }
    }
    f.journal = entries
        .into_iter()
        .filter(|(id, _)| !done.contains(id))
        .filter_map(|(_, d)| post_id(&d))
        .collect();
    f.spilled = lines(spill)
        .iter()
        .filter_map(|l| post_id(l.as_bytes()))
        .collect();
    f.rejected = lines(rejects)
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| post_id(v["data"].as_str()?.as_bytes()))
        .collect();
    f
}

fn ids(n: usize) -> HashSet<String> {
    (0..n).map(|i| format!("p{i}")).collect()
}

/// A tmpfs of `kib` KiB at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: u32) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "mounting a tmpfs at {} failed: this test needs root (CI runs as root)",
            dir.display()
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_under_out_loses_nothing_and_says_so() {
    let dir = temp("full-disk");
    let rec = recording(&dir, 3000, None);
    let out = dir.join("out");
    let _disk = Tmpfs::mount(&out, 512);
    let (spill, rejects) = (dir.join("spill.ndjson"), dir.join("rejects.ndjson"));
    let started = Instant::now();
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args(["--local", "--out"])
        .arg(&out)
        .arg("--spill-file")
        .arg(&spill)
        .arg("--rejects-file")
        .arg(&rejects)
        .args([
            "--spill-after-secs",
            "2",
            "--write-retry-secs",
            "1",
            "--spill-retry-secs",
            "1",
        ])
        .output()
        .unwrap();
    let err = text(&o);
    assert!(started.elapsed() < Duration::from_secs(120), "{err}");
    let f = fates(&out, &spill, &rejects);
    let missing: Vec<String> = ids(3000).difference(&f.all()).cloned().collect();
    assert!(
        missing.is_empty(),
        "{} posts exist nowhere, e.g. {:?}\n{err}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    // The summary counts what is on disk.
    assert_eq!(row(&err, "indexed"), f.docs.len() as u64, "{err}");
    assert_eq!(row(&err, "spilled"), f.spilled.len() as u64, "{err}");
    assert!(
        f.docs.len() < 3000,
        "the disk filled up: {} documents",
        f.docs.len()
    );
    // Not everything was delivered, so the run says so and fails.
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("in its journal") || err.contains("records were lost"),
        "{err}"
    );
}

#[test]
fn an_out_that_cannot_be_written_fails_before_reading() {
    let dir = temp("proc-out");
    let rec = recording(&dir, 10, None);
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args(["--local", "--out", "/proc/x"])
        .output()
        .unwrap();
    let err = text(&o);
    assert!(!o.status.success());
    // The first thing it opens there (the store) is named.
    assert!(
        err.contains("cannot open the store at /proc/x/store"),
        "{err}"
    );
    assert!(!dir.join("producer-spill.ndjson").exists());
}

#[test]
fn an_s3_server_that_stops_answering_mid_run_keeps_the_records_in_the_journal() {
    let dir = temp("s3-stops");
    let rec = recording(&dir, 1000, Some(50));
    let s3 = servers::s3();
    let rt = test_support::runtime();
    rt.block_on(async {
        firehose_backup::s3_client(Some(&s3.url))
            .await
            .create_bucket()
            .bucket("backup")
            .send()
            .await
            .unwrap();
    });
    let out = dir.join("out");
    let child = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args(["--rate", "500", "--local", "--out"])
        .arg(&out)
        .args([
            "--s3-endpoint",
            &s3.url,
            "--s3-bucket",
            "backup",
            "--write-retry-secs",
            "1",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    Command::new("kill")
        .args(["-STOP", &s3.pid().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    Command::new("kill")
        .args(["-CONT", &s3.pid().to_string()])
        .status()
        .unwrap();
    let err = text(&o);
    // The 20 bad records: in the bucket (before it stopped) or in the journal.
    let in_bucket: Vec<String> = rt.block_on(async {
        let store = firehose_backup::Store::S3 {
            client: firehose_backup::s3_client(Some(&s3.url)).await,
            bucket: "backup".into(),
            endpoint: None,
        };
        store
            .read("processing-failed/")
            .await
            .unwrap()
            .iter()
            .filter_map(|r| post_id(&r.data))
            .collect()
    });
    let f = fates(
        &out,
        &dir.join("producer-spill.ndjson"),
        &dir.join("producer-rejects.ndjson"),
    );
    let bad: HashSet<String> = (0..1000)
        .filter(|i| i % 50 == 49)
        .map(|i| format!("p{i}"))
        .collect();
    let kept: HashSet<String> = f.journal.iter().cloned().collect();
    let found: HashSet<String> = in_bucket
        .iter()
        .cloned()
        .chain(kept.iter().cloned())
        .collect();
    assert!(
        bad.is_subset(&found),
        "bad records lost: {:?}\n{err}",
        bad.difference(&found).collect::<Vec<_>>()
    );
    assert!(
        !kept.is_empty(),
        "the server stopped answering before the end: {err}"
    );
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("in its journal"), "{err}");
    // Every good record is a document.
    let good: HashSet<String> = ids(1000).difference(&bad).cloned().collect();
    let docs: HashSet<String> = f.docs.iter().cloned().collect();
    assert!(good.is_subset(&docs), "{err}");
}

#[test]
fn a_firehose_that_never_answers_is_spilled_after_spill_after_and_sigterm_works() {
    let server = FirehoseServer::start(Behaviour {
        hang: true,
        ..Default::default()
    });
    let dir = temp("hang");
    let rec = recording(&dir, 200, None);
    let spill = dir.join("spill.ndjson");
    let started = Instant::now();
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args([
            "--firehose-endpoint-url",
            server.url(),
            "--spill-after-secs",
            "2",
        ])
        .arg("--spill-file")
        .arg(&spill)
        .output()
        .unwrap();
    let err = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let spilled: HashSet<String> = lines(&spill)
        .iter()
        .filter_map(|l| post_id(l.as_bytes()))
        .collect();
    assert_eq!(spilled, ids(200));
    assert_eq!(row(&err, "delivered to firehose"), 0);

    // A long spill time: SIGTERM ends the wait after the grace period.
    let spill = dir.join("spill-term.ndjson");
    let mut child = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args([
            "--firehose-endpoint-url",
            server.url(),
            "--spill-after-secs",
            "300",
            "--grace-secs",
            "1",
        ])
        .arg("--spill-file")
        .arg(&spill)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{err}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    let spilled: HashSet<String> = lines(&spill)
        .iter()
        .filter_map(|l| post_id(l.as_bytes()))
        .collect();
    assert_eq!(
        spilled,
        ids(200),
        "everything read was in flight or queued, and spilled: {err}"
    );
}

#[test]
fn malformed_answers_are_retried_and_entries_refused_for_good_are_rejected_with_the_reason() {
    let server = FirehoseServer::start(Behaviour {
        malformed_next: 3,
        invalid_marker: Some("number 7 sat".into()),
        ..Default::default()
    });
    let dir = temp("malformed");
    let rec = recording(&dir, 50, None);
    let (spill, rejects) = (dir.join("spill.ndjson"), dir.join("rejects.ndjson"));
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args([
            "--firehose-endpoint-url",
            server.url(),
            "--spill-after-secs",
            "30",
        ])
        .arg("--spill-file")
        .arg(&spill)
        .arg("--rejects-file")
        .arg(&rejects)
        .output()
        .unwrap();
    let err = text(&o);
    assert!(o.status.success(), "{err}");
    let accepted: HashSet<String> = server
        .seen()
        .accepted
        .iter()
        .filter_map(|d| post_id(d))
        .collect();
    let mut want = ids(50);
    want.remove("p7");
    assert_eq!(accepted, want, "{err}");
    assert_eq!(server.seen().accepted.len(), 49, "each once");
    assert!(
        !spill.exists() || lines(&spill).is_empty(),
        "nothing spilled: {err}"
    );
    let rejected = lines(&rejects);
    assert_eq!(rejected.len(), 1);
    let line: Value = serde_json::from_str(&rejected[0]).unwrap();
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .starts_with("InvalidArgumentException"),
        "{line}"
    );
    assert_eq!(
        post_id(line["data"].as_str().unwrap().as_bytes()).as_deref(),
        Some("p7")
    );
    assert_eq!(row(&err, "rejected (never accepted)"), 1);
    assert!(
        row(&err, "entries sent again") >= 49,
        "the malformed answers were retried: {err}"
    );
}

#[test]
fn a_backup_replayed_twice_is_sent_once_and_never_into_itself() {
    let dir = temp("replay-twice");
    let rec = recording(&dir, 40, Some(10));
    let out = dir.join("out");
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args(["--local", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let server = FirehoseServer::start(Behaviour::default());
    let replay = |extra: &[&str]| {
        producer(&dir)
            .args(["failed", "replay", "--from-dir"])
            .arg(out.join("s3"))
            .args(["--firehose-endpoint-url", server.url()])
            .args(extra)
            .output()
            .unwrap()
    };
    let first = replay(&[]);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(server.seen().accepted_count, 4);
    let second = replay(&[]);
    assert!(second.status.success(), "{}", text(&second));
    assert_eq!(
        server.seen().accepted_count,
        4,
        "nothing sent twice: {}",
        text(&second)
    );
    assert!(
        text(&second).contains("replayed before skipped"),
        "{}",
        text(&second)
    );
    let again = replay(&["--again"]);
    assert!(again.status.success());
    assert_eq!(server.seen().accepted_count, 8);
    // Into the very backup it reads from: refused.
    let into_itself = producer(&dir)
        .args(["failed", "replay", "--from-dir"])
        .arg(out.join("s3"))
        .args(["--local", "--out"])
        .arg(dir.join("out/../out"))
        .output()
        .unwrap();
    assert!(!into_itself.status.success());
    assert!(
        text(&into_itself).contains("the local stream's own backup"),
        "{}",
        text(&into_itself)
    );
}

#[test]
fn a_spill_file_is_never_its_own_replay_target() {
    let dir = temp("self-replay");
    let spill = dir.join("spill.ndjson");
    std::fs::write(&spill, "{\"data\":{\"id\":\"p0\",\"text\":\"x\"}}\n").unwrap();
    std::os::unix::fs::symlink(&spill, dir.join("link.ndjson")).unwrap();
    for (path, spill_arg) in [
        ("./spill.ndjson", "spill.ndjson"),
        (spill.to_str().unwrap(), "spill.ndjson"),
        ("link.ndjson", "./spill.ndjson"),
    ] {
        let o = producer(&dir)
            .args([
                "replay",
                path,
                "--spill-file",
                spill_arg,
                "--firehose-endpoint-url",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{path}");
        assert!(
            text(&o).contains("is the spill file this run spills into"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(lines(&spill).len(), 1, "the spill file is untouched");
    // And a backup directory that does not exist is an error, not 0 records.
    let o = producer(&dir)
        .args(["failed", "list", "--from-dir", "no-such-dir"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("no-such-dir"), "{}", text(&o));
}

#[test]
fn fates_are_counted_exactly() {
    // The counting itself: a clean local run puts every post in exactly one place.
    let dir = temp("clean");
    let rec = recording(&dir, 100, Some(25));
    let out = dir.join("out");
    let o = producer(&dir)
        .arg("file")
        .arg(&rec)
        .args(["--local", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let f = fates(
        &out,
        &dir.join("producer-spill.ndjson"),
        &dir.join("producer-rejects.ndjson"),
    );
    assert_eq!(f.docs.len(), 96);
    assert_eq!(f.backed_up.len(), 4);
    assert!(f.journal.is_empty() && f.spilled.is_empty() && f.rejected.is_empty());
    let counts: BTreeMap<&str, usize> =
        [("docs", f.docs.len()), ("backed_up", f.backed_up.len())].into();
    assert_eq!(f.all(), ids(100), "{counts:?}");
}
