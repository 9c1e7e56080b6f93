//! `transform-local`: run the transform on your machine, without a Lambda runtime.
//!
//! `event` builds a Firehose event from NDJSON posts, `run` answers an event as the
//! Lambda would and prints the response, `decode` turns a response back into readable
//! documents.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use transform::log_report;
use transform::{Analyzer, Config, FirehoseEvent, FirehoseResponse, Report, Transformer};
use transform_tools::events::{build_event, decode_response, EventOptions};

/// Run the Firehose transformation locally: build events, answer them, decode responses.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a Firehose transformation event (base64 records) from NDJSON posts.
    Event {
        /// NDJSON file: one post payload (or `_fixture` directive) per line.
        ndjson: PathBuf,
        /// Make a Kinesis-stream-source event with this source stream ARN.
        #[arg(long, env = "KINESIS_STREAM_ARN")]
        kinesis_stream_arn: Option<String>,
        /// Arrival time of the first record, in ms since the epoch (then +250 ms each).
        #[arg(long, default_value_t = 1_678_806_566_000)]
        first_arrival_ms: i64,
        /// Write the event here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Answer an event as the Lambda would and print the Firehose response.
    ///
    /// The configuration comes from the same environment variables as the Lambda
    /// (DROP_RETWEETS, LANGUAGES, MIN_TEXT_LENGTH, MULTI_CATEGORY, SENTIMENT_BACKEND,
    /// COMPREHEND_*); with SENTIMENT_BACKEND=comprehend, AWS credentials and region come
    /// from the default provider chain.
    Run {
        /// Event JSON file(s); each is one invocation.
        #[arg(required = true)]
        events: Vec<PathBuf>,
        /// `processed_at` for every document (ISO-8601); defaults to now.
        #[arg(long, env = "TRANSFORM_NOW")]
        now: Option<DateTime<Utc>>,
        /// Print readable documents instead of the raw base64 response.
        #[arg(long)]
        decode: bool,
        /// Write the output here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Score texts with the local VADER analyzer: one text per input line (plain text,
    /// or a JSON string literal), one JSON sentiment per output line.
    Sentiment {
        /// Input file, or `-` for standard input.
        input: PathBuf,
        /// Write the output here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Decode a Firehose response into readable NDJSON (one line per record).
    Decode {
        /// Response JSON file.
        response: PathBuf,
        /// Write the output here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match Cli::parse().command {
        Command::Event {
            ndjson,
            kinesis_stream_arn,
            first_arrival_ms,
            out,
        } => {
            let src = std::fs::read_to_string(&ndjson)
                .with_context(|| format!("while reading {}", ndjson.display()))?;
            let options = EventOptions {
                kinesis_stream_arn,
                first_arrival_ms,
                ..EventOptions::default()
            };
            let event = build_event(&src, &options)
                .with_context(|| format!("while building an event from {}", ndjson.display()))?;
            let mut text = serde_json::to_string_pretty(&event)?;
            text.push('\n');
            write_out(out.as_deref(), &text)?;
            eprintln!(
                "event: {} records from {}",
                event.records.len(),
                ndjson.display()
            );
        }
        Command::Run {
            events,
            now,
            decode,
            out,
        } => run(&events, now, decode, out.as_deref())?,
        Command::Sentiment { input, out } => {
            let text = if input.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("while reading standard input")?
            } else {
                std::fs::read_to_string(&input)
                    .with_context(|| format!("while reading {}", input.display()))?
            };
            let vader = transform::Vader::new();
            let mut output = String::new();
            let mut labels: std::collections::BTreeMap<&str, u64> = Default::default();
            for line in text.lines() {
                let owned;
                let line = match serde_json::from_str::<String>(line) {
                    Ok(s) => {
                        owned = s;
                        owned.as_str()
                    }
                    Err(_) => line,
                };
                let s = vader.score(line);
                *labels.entry(s.label.as_str()).or_default() += 1;
                output.push_str(&serde_json::to_string(&s)?);
                output.push('\n');
            }
            write_out(out.as_deref(), &output)?;
            let counts: Vec<String> = labels.iter().map(|(k, v)| format!("{k} {v}")).collect();
            eprintln!(
                "sentiment: {} texts scored ({})",
                text.lines().count(),
                counts.join(", ")
            );
        }
        Command::Decode { response, out } => {
            let text = std::fs::read_to_string(&response)
                .with_context(|| format!("while reading {}", response.display()))?;
            let resp: FirehoseResponse = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a Firehose response", response.display()))?;
            let decoded = decode_lines(&resp)?;
            write_out(out.as_deref(), &decoded)?;
            eprintln!("decode: {} records", resp.records.len());
        }
    }
    Ok(())
}

fn run(
    events: &[PathBuf],
    now: Option<DateTime<Utc>>,
    decode: bool,
    out: Option<&Path>,
) -> Result<()> {
    let config = Config::from_env().context("while reading the configuration")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    let analyzer = runtime.block_on(config.analyzer());
    let transformer = Transformer::new(config, analyzer);
    let mut total = Report::default();
    let mut output = String::new();
    let progress = std::io::stderr().is_terminal() && events.len() > 1;
    for (i, path) in events.iter().enumerate() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("while reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        // `[]` and `{}` are not events: an event is an object with a list of records.
        anyhow::ensure!(
            value
                .get("records")
                .is_some_and(serde_json::Value::is_array),
            "{} is not a Firehose transformation event: expected an object with a \"records\" list",
            path.display()
        );
        let event: FirehoseEvent = serde_json::from_value(value).with_context(|| {
            format!("{} is not a Firehose transformation event", path.display())
        })?;
        let (response, report) = runtime
            .block_on(transformer.transform(&event, now.unwrap_or_else(Utc::now)))
            .with_context(|| format!("while transforming {}", path.display()))?;
        log_report(&report, transformer.analyzer().name());
        total.merge(&report);
        if decode {
            output.push_str(&decode_lines(&response)?);
        } else {
            output.push_str(&serde_json::to_string(&response)?);
            output.push('\n');
        }
        if progress {
            eprint!(
                "\r{}/{} events, {} records",
                i + 1,
                events.len(),
                total.records
            );
        }
    }
    if progress {
        eprintln!();
    }
    write_out(out, &output)?;
    eprint!("{}", summary(&total, transformer.analyzer().name()));
    Ok(())
}

fn decode_lines(resp: &FirehoseResponse) -> Result<String> {
    let mut s = String::new();
    for record in decode_response(resp) {
        s.push_str(&serde_json::to_string(&record)?);
        s.push('\n');
    }
    Ok(s)
}

fn write_out(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("while writing {}", p.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("while writing to standard output")
        }
    }
}

/// The end-of-run summary table.
fn summary(r: &Report, analyzer: &str) -> String {
    let mut s = String::from("\nsummary\n");
    let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<28} {v:>10}\n"));
    row("records", r.records.to_string());
    row("Ok", r.ok.to_string());
    row("Dropped", r.dropped.to_string());
    for (k, v) in &r.dropped_by_reason {
        row(&format!("  dropped: {k}"), v.to_string());
    }
    row("ProcessingFailed", r.failed.to_string());
    for (k, v) in &r.failed_by_reason {
        row(&format!("  failed: {k}"), v.to_string());
    }
    for (k, v) in &r.categories {
        row(&format!("category {k}"), v.to_string());
    }
    for (k, v) in &r.sentiment_labels {
        row(&format!("sentiment {k} ({analyzer})"), v.to_string());
    }
    if r.located > 0 || !r.geo_problems.is_empty() {
        row("located", r.located.to_string());
    }
    for (k, v) in &r.geo_problems {
        row(&format!("  kept without location: {k}"), v.to_string());
    }
    row(
        "bytes in / out",
        format!("{} / {}", r.bytes_in, r.bytes_out),
    );
    row(
        "transform time (ms)",
        format!("{:.1}", r.duration.as_secs_f64() * 1000.0),
    );
    s
}
