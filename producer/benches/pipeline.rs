//! The whole pipeline, end to end: 100,000 recorded posts from a file through the
//! producer's sink, the local delivery stream and the transform (in-process, VADER) into
//! an OpenSearch-compatible server (`osmem-server`, installed by `tests/run`).
//! Reports records/s end to end and the share of the wall time each hop was busy.
//!
//! `cargo bench -p producer --bench pipeline`; `PIPELINE_BENCH_RECORDS` changes the size.
//! A custom harness, not criterion: one run is the measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use firehose_backup::{Store, Writer};
use firehose_local::{BackupMode, Destination, LocalConfig, LocalStream, Processor, Rotation};
use producer::record::Stats;
use producer::sink::{Sink, SinkConfig};
use producer::source::file;
use retry::Stop;
use test_support::servers::opensearch;
use tokio::sync::{mpsc, watch};

fn main() {
    let n: usize = std::env::var("PIPELINE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    // 2,000 recorded posts, repeated with distinct ids.
    let rec = dir.join(format!("pipeline-{n}.ndjson"));
    if !rec.exists() {
        eprintln!("[1/3] writing {n} posts to {}", rec.display());
        let gz = file::open(&root.join("fixtures/recorded/cats-dogs-2000.ndjson.gz"))
            .expect("recording");
        let posts: Vec<String> = std::io::BufRead::lines(gz).map_while(Result::ok).collect();
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&posts[i % posts.len()].replacen(
                "\"id\":\"158",
                &format!("\"id\":\"{i:09}"),
                1,
            ));
            text.push('\n');
        }
        std::fs::write(&rec, text).expect("write");
    }
    let os = opensearch();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    eprintln!(
        "[2/3] file -> producer sink -> local stream -> transform -> {}",
        os.url
    );
    let started = Instant::now();
    let (summary, stats) = rt.block_on(async {
        let config = transform::Config::default();
        let backend = transform::Backend::local(config.sentiment_backend).expect("vader");
        let local = LocalStream::start(
            LocalConfig {
                stream: "bench".into(),
                processor_buffer_bytes: 3_000_000,
                processor_interval: Duration::from_secs(1),
                buffer_bytes: 10_000_000,
                buffer_interval: Duration::from_secs(1),
                index: "social-posts".into(),
                rotation: Rotation::OneDay,
                backup_mode: BackupMode::FailedDocumentsOnly,
                journal: dir.join("pipeline-bench-journal"),
            },
            Processor::InProcess(Box::new(transform::Transformer::new(config, backend))),
            Destination::opensearch(&os.url, Duration::from_secs(300)).expect("opensearch"),
            Writer::new(Store::Dir(dir.join("pipeline-bench-s3")), "bench"),
        )
        .await
        .expect("local stream");
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel(10_000);
        let (_stop_tx, stop) = watch::channel(false);
        let client = producer::sink::client(Some(&local.url)).await;
        let sink = Sink::new(client, SinkConfig::new("bench"), Arc::clone(&stats));
        let task = tokio::spawn(sink.run(rx, Stop::never(), |_, _| {}));
        file::replay(rec.clone(), None, false, tx, Arc::clone(&stats), stop)
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
    });
    let wall = started.elapsed();
    eprintln!("[3/3] done");
    let share = |d: Duration| 100.0 * d.as_secs_f64() / wall.as_secs_f64();
    println!("| records | indexed | wall s | records/s end to end | transform busy | OpenSearch delivery busy |");
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
}
