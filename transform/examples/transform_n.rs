//! Runs the transform (no sentiment) on one event file a given number of times, for
//! instruction counts under `valgrind --tool=callgrind` (see
//! `transform/benches/instructions.sh`): `transform_n EVENT N`.

use transform::config::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: transform_n EVENT N");
    let times: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: transform_n EVENT N");
    let raw = std::fs::read(&path).expect("read the event");
    let event: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let transformer = Transformer::new(
        Config::default(),
        Backend::local(SentimentBackend::None).expect("no analyzer"),
    );
    for _ in 0..times {
        let out = runtime
            .block_on(transformer.transform(&event, chrono::Utc::now()))
            .expect("fits");
        std::hint::black_box(out);
    }
    println!("{} records x {times}", event.records.len());
}
