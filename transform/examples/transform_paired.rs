//! The Rust side of `transform/benches/paired.py`: holds one event and one transformer per
//! mode, and for every request line on stdin (`clean handler`, `vader e2e`, ...) runs the
//! transform once and answers with the elapsed nanoseconds. The driver alternates these
//! runs with the Python seed Lambda's, one by one, so both sides of each pair meet the
//! same machine: `transform_paired EVENT`.
//!
//! `handler` times `Transformer::transform` on the parsed event (the Lambda runtime has
//! already parsed it); `e2e` adds reading the event JSON and writing the response JSON.

use std::io::{BufRead, Write};
use std::time::Instant;

use chrono::Utc;
use transform::config::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

fn transformer(backend: SentimentBackend) -> Transformer<Backend> {
    let config = Config {
        sentiment_backend: backend,
        ..Config::default()
    };
    Transformer::new(config, Backend::local(backend).expect("a local backend"))
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: transform_paired EVENT");
    let raw = std::fs::read(&path).expect("read the event");
    let event: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let clean = transformer(SentimentBackend::None);
    let vader = transformer(SentimentBackend::Vader);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("read a request");
        let mut words = line.split_whitespace();
        let t = match words.next() {
            Some("clean") => &clean,
            Some("vader") => &vader,
            other => panic!("unknown mode {other:?}"),
        };
        let e2e = match words.next() {
            Some("handler") => false,
            Some("e2e") => true,
            other => panic!("unknown timing {other:?}"),
        };
        let started = Instant::now();
        if e2e {
            let ev: FirehoseEvent = serde_json::from_slice(&raw).expect("event");
            let (resp, _) = runtime
                .block_on(t.transform(&ev, Utc::now()))
                .expect("fits");
            std::hint::black_box(serde_json::to_vec(&resp).expect("serialises"));
        } else {
            std::hint::black_box(
                runtime
                    .block_on(t.transform(&event, Utc::now()))
                    .expect("fits"),
            );
        }
        let ns = started.elapsed().as_nanos();
        writeln!(out, "{ns}").expect("answer");
        out.flush().expect("flush");
    }
}
