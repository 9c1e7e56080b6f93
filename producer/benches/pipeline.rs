//! The whole pipeline, end to end, with the local defaults (1 MB / 1 s processor buffer,
//! 5 MB destination buffer with zero buffering): recorded posts from a file through the
//! producer's sink, the local delivery stream and the transform (in-process, VADER) into
//! the embedded store (or, with `PIPELINE_BENCH_DESTINATION=opensearch`, into
//! `osmem-server`, installed by `tests/run`).
//!
//! 1. Throughput: 100,000 posts as fast as they go; records/s end to end and the share of
//!    the wall time each hop was busy.
//! 2. Freshness: 30,000 posts at 1,000 per second; from each post read by the producer to
//!    that post searchable, p50 and p95 (what the summary shows).
//!
//! `cargo bench -p producer --bench pipeline`; `PIPELINE_BENCH_RECORDS` changes the first
//! size. A custom harness, not criterion: one run is the measurement.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firehose_backup::{Store, Writer};
use firehose_local::{Destination, LocalConfig, LocalStream, LocalSummary, Processor};
use producer::record::Stats;
use producer::sink::{OnAccepted, Sink, SinkConfig};
use producer::source::file;
use retry::Stop;
use test_support::servers::{opensearch, ServerProcess};
use tokio::sync::{mpsc, watch};

/// `n` posts of the bundled recording, repeated with distinct ids.
fn recording(root: &Path, dir: &Path, n: usize) -> PathBuf {
    let rec = dir.join(format!("pipeline-{n}.ndjson"));
    if !rec.exists() {
        let gz = file::open(&root.join("fixtures/recorded/cats-dogs-2000.ndjson.gz"))
            .expect("recording");
        let posts: Vec<String> = std::io::BufRead::lines(gz).map_while(Result::ok).collect();
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&posts[i % posts.len()].replacen(
                "\"id\":\"",
                &format!("\"id\":\"{i:09}-"),
                1,
            ));
            text.push('\n');
        }
        std::fs::write(&rec, text).expect("write");
    }
    rec
}

/// One run: `rec` at `rate` (None: as fast as possible) into a fresh destination.
async fn run(
    dir: &Path,
    name: &str,
    rec: &Path,
    rate: Option<f64>,
    os: Option<&ServerProcess>,
) -> (LocalSummary, Arc<Stats>) {
    let out = dir.join(format!("pipeline-bench-{name}"));
    let _ = std::fs::remove_dir_all(&out);
    let config = transform::Config::default();
    let backend = transform::Backend::local(config.sentiment_backend).expect("vader");
    let destination = match os {
        Some(os) => Destination::opensearch(&os.url, Duration::from_secs(300)).expect("opensearch"),
        None => Destination::store(&out.join("store"), Duration::from_secs(30)).expect("store"),
    };
    let local = LocalStream::start(
        LocalConfig::new("bench", out.join("journal")),
        Processor::InProcess(Box::new(transform::Transformer::new(config, backend))),
        destination,
        Writer::new(Store::Dir(out.join("s3")), "bench"),
    )
    .await
    .expect("local stream");
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(10_000);
    let (_stop_tx, stop) = watch::channel(false);
    let client = producer::sink::client(Some(&local.url)).await;
    let live = local.live();
    let sink_config = SinkConfig {
        on_accepted: Some(OnAccepted(Arc::new(move |id, read_ms| {
            live.note_read(id, read_ms)
        }))),
        ..SinkConfig::new("bench")
    };
    let sink = Sink::new(client, sink_config, Arc::clone(&stats));
    let task = tokio::spawn(sink.run(rx, Stop::never(), |_, _| {}));
    file::replay(rec.to_path_buf(), rate, false, tx, Arc::clone(&stats), stop)
        .await
        .expect("replay");
    task.await.expect("sink");
    (
        local
            .finish(Duration::from_secs(3600))
            .await
            .expect("finish"),
        stats,
    )
}

fn main() {
    let n: usize = std::env::var("PIPELINE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let os = match std::env::var("PIPELINE_BENCH_DESTINATION").as_deref() {
        Ok("opensearch") => Some(opensearch()),
        _ => None,
    };
    let destination = if os.is_some() {
        "osmem-server"
    } else {
        "embedded store"
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    eprintln!("[1/2] {n} posts: file -> producer sink -> local stream -> transform (VADER) -> {destination}");
    let rec = recording(&root, &dir, n);
    let started = Instant::now();
    let (summary, stats) = rt.block_on(run(&dir, "throughput", &rec, None, os.as_ref()));
    let wall = started.elapsed();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / wall.as_secs_f64();
    println!("| records | indexed | wall s | records/s end to end | transform busy | {destination} busy |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {n} | {} | {:.2} | {:.0} | {:.0} % | {:.0} % |",
        summary.indexed(),
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        share(summary.processed.busy),
        share(summary.delivered.busy)
    );
    assert_eq!(Stats::get(&stats.delivered), n as u64);
    assert_eq!(summary.accounted(), n as u64);

    let paced = 30_000;
    eprintln!("[2/2] {paced} posts at 1,000/s: freshness from read to searchable");
    let rec = recording(&root, &dir, paced);
    let (summary, _) = rt.block_on(run(&dir, "freshness", &rec, Some(1_000.0), os.as_ref()));
    let f = summary.freshness.expect("measured");
    println!("\n| posts at 1,000/s | measured from the read | freshness p50 | p95 | max |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {paced} | {} | {:.2} s | {:.2} s | {:.2} s |",
        f.from_read,
        f.p50_ms as f64 / 1e3,
        f.p95_ms as f64 / 1e3,
        f.max_ms as f64 / 1e3
    );
}
