//! Criterion benchmarks of the transform on a full 3 MB Lambda buffer (X-shaped posts
//! from the repo's generator, `gen-posts`), with and without VADER,
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
use transform::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

fn event_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TRANSFORM_BENCH_EVENT") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("target/bench/event_3mb.json");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create target/bench");
        let status = Command::new(env!("CARGO"))
            .args([
                "run",
                "-q",
                "--release",
                "-p",
                "transform-tools",
                "--bin",
                "gen-posts",
                "--",
            ])
            .args([
                "--source",
                "x",
                "--seed",
                "3",
                "--target-bytes",
                "3000000",
                "--event",
                "--out",
            ])
            .arg(&path)
            .current_dir(&root)
            .status()
            .expect("cargo runs gen-posts");
        assert!(status.success(), "gen-posts failed");
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
                .filter(|p| transform::bench::scan_post(p).is_some())
                .count()
        })
    });
    parse.bench_function("serde_json", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter(|p| serde_json::from_str::<transform::StreamPost>(p).is_ok())
                .count()
        })
    });
    parse.finish();

    // The document writer alone: the hand writer against serde_json on the same documents.
    let config = Config::default();
    let docs: Vec<transform::bench::Document<'_>> = payloads
        .iter()
        .filter_map(|p| transform::bench::scan_post(p))
        .filter_map(|post| {
            match transform::bench::clean(
                post,
                1_700_000_000_000,
                "2026-12-01T00:00:00.000Z",
                &config,
            ) {
                Ok(transform::bench::Cleaned::Keep(doc)) => Some(doc),
                _ => None,
            }
        })
        .collect();
    let mut write = c.benchmark_group("write_3mb");
    write.throughput(Throughput::Elements(docs.len() as u64));
    write.sample_size(20);
    write.bench_function("hand", |b| {
        let mut out = Vec::with_capacity(8 << 20);
        b.iter(|| {
            out.clear();
            for d in &docs {
                d.write_json(&mut out);
                out.push(b'\n');
            }
            out.len()
        })
    });
    write.bench_function("serde_json", |b| {
        let mut out = Vec::with_capacity(8 << 20);
        b.iter(|| {
            out.clear();
            for d in &docs {
                serde_json::to_writer(&mut out, d).expect("serialises");
                out.push(b'\n');
            }
            out.len()
        })
    });
    write.finish();

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
