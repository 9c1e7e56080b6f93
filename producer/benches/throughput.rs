//! Producer throughput: a 200,000-post recording replayed as fast as possible by the
//! release `producer` binary into the Firehose wire-protocol server on 127.0.0.1.
//! Reports records/s (wall) and records per CPU-second of the producer process (user +
//! system time, read from /proc), the per-core figure.
//!
//! `cargo bench -p producer --bench throughput`; `PRODUCER_BENCH_RECORDS` changes the
//! size. A custom harness, not criterion: one run is a whole process.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use test_support::firehose_server::{Behaviour, FirehoseServer};

fn main() {
    let n: usize = std::env::var("PRODUCER_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let basic =
        std::fs::read_to_string(root.join("fixtures/tweets/basic.ndjson")).expect("fixtures");
    let posts: Vec<&str> = basic.lines().collect();
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let rec = dir.join(format!("producer-{n}.ndjson"));
    if !rec.exists() {
        eprintln!("[1/3] writing {n} posts to {}", rec.display());
        let mut text = String::with_capacity(n * 700);
        for i in 0..n {
            // Same shape as the fixtures, a distinct id per line.
            text.push_str(&posts[i % posts.len()].replacen(
                "\"id\":\"16360010000",
                &format!("\"id\":\"{i:011}"),
                1,
            ));
            text.push('\n');
        }
        std::fs::write(&rec, text).expect("write recording");
    }
    let bytes = std::fs::metadata(&rec).expect("recording").len();
    let server = FirehoseServer::start(Behaviour {
        discard: true,
        ..Behaviour::default()
    });
    eprintln!("[2/3] producer file {} -> {}", rec.display(), server.url());
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_producer"))
        .arg("file")
        .arg(&rec)
        .args(["--stream", "bench", "--firehose-endpoint-url", server.url()])
        .arg("--spill-file")
        .arg(dir.join("producer-bench-spill.ndjson"))
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("producer starts");
    let pid = child.id();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    // stderr closed: the process has exited but is not reaped; its CPU times are still readable.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let wall = started.elapsed();
    let status = child.wait().expect("wait");
    assert!(status.success(), "producer failed: {stderr}");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    let cpu = ticks / 100.0; // USER_HZ
    let delivered = server.seen().accepted_count;
    assert_eq!(delivered, n as u64, "every record delivered");
    eprintln!("[3/3] done");
    println!("| records | MB | wall s | records/s | producer CPU s | records per CPU-second |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {n} | {:.1} | {:.2} | {:.0} | {:.2} | {:.0} |",
        bytes as f64 / 1e6,
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        cpu,
        n as f64 / cpu.max(1e-9)
    );
}
