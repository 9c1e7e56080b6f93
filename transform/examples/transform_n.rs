//! Runs the transform on one event file, for measurements beside the Python seed Lambda:
//!
//! - `transform_n EVENT N [clean|vader] [handler|e2e]` runs it N times (default `clean
//!   handler`), for instruction counts under `valgrind --tool=callgrind`
//!   (`transform/benches/instructions.sh`);
//! - `transform_n EVENT serve` answers every request line on stdin (`clean handler`,
//!   `vader e2e`, ...) with the nanoseconds of one run, so `transform/benches/paired.py`
//!   can pair each run with a Python run right beside it.
//!
//! `handler` runs `Transformer::transform_taking_ids` on the parsed event (the Lambda
//! runtime has already parsed it); `e2e` also reads the event JSON and writes the response JSON each
//! time, as the Lambda runtime does.

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::time::Instant;

use tokio::runtime::Runtime;
use transform::SentimentBackend;
use transform::{Backend, Config, FirehoseEvent, Transformer};

const USAGE: &str =
    "usage: transform_n EVENT N [clean|vader] [handler|e2e] | transform_n EVENT serve";

/// What one run does.
struct Run {
    backend: SentimentBackend,
    e2e: bool,
}

impl Run {
    fn parse(mode: Option<&str>, timing: Option<&str>) -> Run {
        let backend = match mode {
            None | Some("clean") => SentimentBackend::None,
            Some("vader") => SentimentBackend::Vader,
            Some(other) => panic!("unknown mode {other:?}; {USAGE}"),
        };
        let e2e = match timing {
            None | Some("handler") => false,
            Some("e2e") => true,
            Some(other) => panic!("unknown timing {other:?}; {USAGE}"),
        };
        Run { backend, e2e }
    }
}

/// The event as read and as parsed, and one transformer per mode.
struct Bench {
    raw: Vec<u8>,
    event: RefCell<FirehoseEvent>,
    runtime: Runtime,
    clean: Transformer<Backend>,
    vader: Transformer<Backend>,
}

impl Bench {
    fn new(path: &str) -> Bench {
        let raw = std::fs::read(path).expect("read the event");
        let event: FirehoseEvent = serde_json::from_slice(&raw).expect("a Firehose event");
        let transformer = |backend| {
            let config = Config {
                sentiment_backend: backend,
                ..Config::default()
            };
            Transformer::new(config, Backend::local(backend).expect("a local analyzer"))
        };
        Bench {
            raw,
            event: RefCell::new(event),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            clean: transformer(SentimentBackend::None),
            vader: transformer(SentimentBackend::Vader),
        }
    }

    fn run(&self, run: &Run) {
        let t = match run.backend {
            SentimentBackend::Vader => &self.vader,
            _ => &self.clean,
        };
        if run.e2e {
            let mut event: FirehoseEvent = serde_json::from_slice(&self.raw).expect("event");
            let (resp, _) = self
                .runtime
                .block_on(t.transform_taking_ids(&mut event, chrono::Utc::now(), None))
                .expect("fits");
            std::hint::black_box(serde_json::to_vec(&resp).expect("serialises"));
        } else {
            // As the Lambda: the ids move into the response; they go back to the event
            // (a move each) so the next run starts from the same event.
            let mut event = self.event.borrow_mut();
            let (mut resp, report) = self
                .runtime
                .block_on(t.transform_taking_ids(&mut event, chrono::Utc::now(), None))
                .expect("fits");
            for (record, answered) in event.records.iter_mut().zip(&mut resp.records) {
                record.record_id = std::mem::take(&mut answered.record_id);
            }
            std::hint::black_box((resp, report));
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect(USAGE);
    let times = args.next().expect(USAGE);
    let bench = Bench::new(&path);
    if times == "serve" {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for line in std::io::stdin().lock().lines() {
            let line = line.expect("read a request");
            let mut words = line.split_whitespace();
            let run = Run::parse(words.next(), words.next());
            let started = Instant::now();
            bench.run(&run);
            writeln!(out, "{}", started.elapsed().as_nanos()).expect("answer");
            out.flush().expect("flush");
        }
        return;
    }
    let times: usize = times.parse().expect(USAGE);
    let run = Run::parse(args.next().as_deref(), args.next().as_deref());
    for _ in 0..times {
        bench.run(&run);
    }
    println!("{} records x {times}", bench.event.borrow().records.len());
}
