//! Runs the transform on one event file a given number of times, for instruction counts
//! under `valgrind --tool=callgrind` (see `transform/benches/instructions.sh`):
//! `transform_n EVENT N [clean|vader] [handler|e2e]` (default `clean handler`).
//!
//! `handler` runs `Transformer::transform` on the parsed event; `e2e` also reads the
//! event JSON and writes the response JSON each time, as the Lambda runtime does.

use transform::config::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

const USAGE: &str = "usage: transform_n EVENT N [clean|vader] [handler|e2e]";

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect(USAGE);
    let times: usize = args.next().and_then(|n| n.parse().ok()).expect(USAGE);
    let backend = match args.next().as_deref() {
        None | Some("clean") => SentimentBackend::None,
        Some("vader") => SentimentBackend::Vader,
        Some(other) => panic!("unknown mode {other:?}; {USAGE}"),
    };
    let e2e = match args.next().as_deref() {
        None | Some("handler") => false,
        Some("e2e") => true,
        Some(other) => panic!("unknown timing {other:?}; {USAGE}"),
    };
    let raw = std::fs::read(&path).expect("read the event");
    let event: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config = Config {
        sentiment_backend: backend,
        ..Config::default()
    };
    let transformer = Transformer::new(config, Backend::local(backend).expect("an analyzer"));
    for _ in 0..times {
        if e2e {
            let ev: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
            let (resp, _) = runtime
                .block_on(transformer.transform(&ev, chrono::Utc::now()))
                .expect("fits");
            std::hint::black_box(serde_json::to_vec(&resp).expect("serialises"));
        } else {
            let out = runtime
                .block_on(transformer.transform(&event, chrono::Utc::now()))
                .expect("fits");
            std::hint::black_box(out);
        }
    }
    println!("{} records x {times}", event.records.len());
}
