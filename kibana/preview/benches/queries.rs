//! The dashboard's queries on 1,000,000 documents in the embedded store: every panel's
//! request, built from its saved `visState` as the page builds it, plus the verdict's,
//! over the 24 hours the documents arrived in (`auto`: 30-minute buckets). The documents
//! are real transform output: `gen-posts` posts (X and Bluesky, both tags, bursts of
//! neither) through the transform with VADER. The store is built once under
//! `target/bench/` and reused (`QUERY_BENCH_DOCS` changes the size).
//!
//! Criterion measures each panel's median; a second pass times 200 runs of each and
//! prints the 95th percentile, the figure the goal (≤ 200 ms) is about.
//!
//! `cargo bench -p dashboard-preview --bench queries`

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use criterion::{criterion_group, Criterion};
use dashboard_preview::{saved, SavedObjects, Spec, TimeRange};
use search_store::{Mode, Store};
use serde_json::{json, Value};
use transform_tools::generate::{posts, Options};

const START_MS: i64 = 1_796_083_200_000; // 2026-12-01T00:00:00Z
const DAY_MS: i64 = 86_400_000;

fn size() -> usize {
    std::env::var("QUERY_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Builds (or reuses) a store of `n` documents.
fn store(n: usize) -> Store {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/bench/query-store-{n}"));
    if let Ok(s) = Store::open(&dir, Mode::Read) {
        if s.count() == n as u64 {
            eprintln!("[1/3] reusing {} ({n} documents)", dir.display());
            return s;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let writer = Store::open(&dir, Mode::Write).expect("store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config = transform::Config::default();
    let backend = transform::Backend::local(config.sentiment_backend).expect("vader");
    let transformer = transform::Transformer::new(config, backend);
    let started = Instant::now();
    let chunk = 100_000;
    let mut done = 0usize;
    let mut seed = 1;
    while done < n {
        let count = chunk.min(n - done);
        let options = Options {
            seed,
            count,
            per_second: n as f64 / (DAY_MS as f64 / 1000.0),
            start_ms: START_MS + (done as f64 / n as f64 * DAY_MS as f64) as i64,
            retweets: 0.0,
            places: 0.15,
            ..Options::default()
        };
        seed += 1;
        let generated = posts(&options);
        let records: Vec<transform::FirehoseRecord> = generated
            .iter()
            .enumerate()
            .map(|(i, p)| transform::FirehoseRecord {
                record_id: format!("{:012}", done + i),
                approximate_arrival_timestamp: p.created_ms + 1_000,
                data: base64::engine::general_purpose::STANDARD.encode(&p.json),
                kinesis_record_metadata: None,
            })
            .collect();
        for part in records.chunks(5_000) {
            let event = transform::FirehoseEvent {
                records: part.to_vec(),
                ..Default::default()
            };
            let (response, _) = rt
                .block_on(transformer.transform(&event, chrono::Utc::now()))
                .expect("fits");
            let docs: Vec<(String, String, String)> = response
                .records
                .iter()
                .filter(|r| r.result == transform::RecordResult::Ok)
                .map(|r| {
                    let json = base64::engine::general_purpose::STANDARD
                        .decode(&r.data)
                        .expect("base64");
                    let json = String::from_utf8(json)
                        .expect("utf-8")
                        .trim_end()
                        .to_string();
                    (
                        r.record_id.clone(),
                        "social-posts-2026-12-01".to_string(),
                        json,
                    )
                })
                .collect();
            let refused = writer
                .add(
                    docs.iter()
                        .map(|(id, index, json)| (id.as_str(), index.as_str(), json.as_str())),
                )
                .expect("add");
            assert!(
                refused.iter().all(Option::is_none),
                "{:?}",
                refused.iter().flatten().next()
            );
        }
        writer.commit().expect("commit");
        done += count;
        eprintln!(
            "[1/3] {done} / {n} documents ({:.0} documents/s)",
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    drop(writer);
    Store::open(&dir, Mode::Read).expect("reopen")
}

fn requests() -> Vec<(String, Spec, Value)> {
    let saved = SavedObjects::parse(saved::BUNDLED).expect("saved objects");
    let range = TimeRange {
        from_ms: START_MS,
        to_ms: START_MS + DAY_MS,
    };
    let mut out: Vec<(String, Spec, Value)> = saved
        .visualizations
        .values()
        .map(|v| {
            let spec = Spec::from_vis_state(&v.vis_state).expect("drawable");
            let request = spec.request(&saved.time_field, range);
            (v.id.clone(), spec, request)
        })
        .collect();
    let verdict = json!({"size": 0, "aggs": {"tags": {"terms": {"field": "categories", "size": 20},
        "aggs": {"score": {"extended_stats": {"field": "sentiment.score"}}}}}});
    let first = out[0].1.clone();
    out.push(("verdict".into(), first, verdict));
    out
}

fn bench(c: &mut Criterion) {
    let n = size();
    let store = store(n);
    eprintln!(
        "[2/3] criterion: each panel's query on {} documents",
        store.count()
    );
    let requests = requests();
    let mut group = c.benchmark_group(format!("dashboard_queries_{n}"));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for (id, spec, request) in &requests {
        let answer = store.search("social-posts*", request).expect("answer");
        if id != "verdict" {
            let figures = spec.figures(&answer).expect("figures");
            assert!(
                !figures.rows.is_empty() && figures.total == n as u64,
                "{id}: {figures:?}"
            );
        }
        group.bench_function(id.as_str(), |b| {
            b.iter(|| store.search("social-posts*", request).expect("answer"))
        });
    }
    group.finish();
    eprintln!("[3/3] 200 timed runs of each query for the 95th percentile");
    println!("\n| query ({n} documents) | p50 ms | p95 ms | max ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (id, _, request) in &requests {
        let mut ms: Vec<f64> = (0..200)
            .map(|_| {
                let t = Instant::now();
                store.search("social-posts*", request).expect("answer");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "| {id} | {:.1} | {:.1} | {:.1} |",
            ms[100], ms[190], ms[199]
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
