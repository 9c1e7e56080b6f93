//! Criterion benchmarks of the transform on a full 3 MB Lambda buffer (about 2,400
//! synthetic posts from `../shared/baselines/gen_tweets.py`), with and without VADER,
//! handler-only and end to end (event JSON bytes in, response JSON bytes out), plus the
//! cold-start initialisation.
//!
//! The event is `$TRANSFORM_BENCH_EVENT`, or `target/bench/event_3mb.json`, generated
//! on first use. `transform/benches/compare.sh` runs these beside the Python seed Lambda.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use transform::config::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

fn event_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TRANSFORM_BENCH_EVENT") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("target/bench/event_3mb.json");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create target/bench");
        let status = Command::new("python3")
            .arg(root.join("../shared/baselines/gen_tweets.py"))
            .args(["--target-bytes", "3000000", "--out"])
            .arg(&path)
            .status()
            .expect("python3 runs gen_tweets.py");
        assert!(status.success(), "gen_tweets.py failed");
    }
    path
}

fn transformer(backend: SentimentBackend) -> Transformer<Backend> {
    let config = Config {
        sentiment_backend: backend,
        ..Config::default()
    };
    Transformer::new(config, Backend::local(backend).expect("a local backend"))
}

fn benches(c: &mut Criterion) {
    let raw = std::fs::read(event_path()).expect("read the bench event");
    let event: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("transform_3mb");
    group.throughput(Throughput::Elements(event.records.len() as u64));
    group.sample_size(20);
    for (name, backend) in [
        ("clean", SentimentBackend::None),
        ("vader", SentimentBackend::Vader),
    ] {
        let t = transformer(backend);
        // As the Lambda: the record ids move into the response; between iterations (not
        // timed) they go back to the event.
        group.bench_function(format!("handler/{name}"), |b| {
            let mut ev = event.clone();
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let (mut resp, report) = rt
                        .block_on(t.transform_taking_ids(&mut ev, Utc::now(), None))
                        .expect("fits");
                    took += started.elapsed();
                    for (record, answered) in ev.records.iter_mut().zip(&mut resp.records) {
                        record.record_id = std::mem::take(&mut answered.record_id);
                    }
                    let started = Instant::now();
                    drop(std::hint::black_box((resp, report)));
                    took += started.elapsed();
                }
                took
            })
        });
        group.bench_function(format!("e2e/{name}"), |b| {
            b.iter(|| {
                let mut ev: FirehoseEvent = serde_json::from_slice(&raw).expect("event");
                let (resp, _) = rt
                    .block_on(t.transform_taking_ids(&mut ev, Utc::now(), None))
                    .expect("fits");
                serde_json::to_vec(&resp).expect("serialises")
            })
        });
    }
    group.finish();

    // The payload reader alone: the one-pass scanner against serde_json.
    let payloads: Vec<String> = event
        .records
        .iter()
        .map(|r| {
            let bytes = base64_simd::STANDARD
                .decode_to_vec(r.data.as_bytes())
                .expect("base64");
            String::from_utf8(bytes).expect("UTF-8")
        })
        .collect();
    let mut parse = c.benchmark_group("parse_3mb");
    parse.throughput(Throughput::Elements(payloads.len() as u64));
    parse.sample_size(20);
    parse.bench_function("scan", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter(|p| transform::scan::post(p).is_some())
                .count()
        })
    });
    parse.bench_function("serde_json", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter(|p| serde_json::from_str::<transform::post::StreamPost>(p).is_ok())
                .count()
        })
    });
    parse.finish();

    let mut init = c.benchmark_group("cold_start");
    init.bench_function("config_and_vader", |b| {
        b.iter_batched(
            || (),
            |()| {
                let config = Config::from_env().expect("config");
                Transformer::new(
                    config,
                    Backend::local(SentimentBackend::Vader).expect("vader"),
                )
            },
            BatchSize::PerIteration,
        )
    });
    init.finish();
}

criterion_group!(transform_benches, benches);
criterion_main!(transform_benches);
