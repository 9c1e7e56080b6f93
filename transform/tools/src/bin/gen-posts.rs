//! `gen-posts`: synthetic posts (X- and Bluesky-shaped) as NDJSON, or as a Firehose
//! transformation event; deterministic by seed. Makes the bundled recording, the
//! benchmark inputs and recordings with bursts or places.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use transform_tools::events::{build_event, EventOptions};
use transform_tools::generate::{posts, Burst, Options, Shape};

/// Write synthetic social posts: the shapes the producer sends into Firehose.
#[derive(Parser)]
#[command(name = "gen-posts", version)]
struct Args {
    /// Posts of the steady timeline (bursts add to them).
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Instead of --count: posts until their bytes reach this (a full processor buffer).
    #[arg(long)]
    target_bytes: Option<usize>,
    /// The seed: the same seed, the same posts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// x, bluesky, or mixed (20% Bluesky).
    #[arg(long, default_value = "mixed")]
    source: String,
    /// Event time of the first post (RFC 3339).
    #[arg(long, default_value = "2025-12-01T10:00:00Z")]
    start: String,
    /// Posts per second of event time.
    #[arg(long, default_value_t = 1.0)]
    per_second: f64,
    /// A burst: TAG:START_SECS:DURATION_SECS:FACTOR (e.g. dogs:3600:600:8). Repeatable.
    #[arg(long = "burst")]
    bursts: Vec<Burst>,
    /// Share of X posts with a place (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    places: f64,
    /// Share of retweets (0 to 1).
    #[arg(long, default_value_t = 0.08)]
    retweets: f64,
    /// Write a Firehose transformation event (one record per post) instead of NDJSON.
    #[arg(long)]
    event: bool,
    /// Where to write (default stdout); a name ending in .gz is gzipped.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let shape = match a.source.as_str() {
        "x" => Shape::X,
        "bluesky" => Shape::Bluesky,
        "mixed" => Shape::Mixed(0.2),
        other => anyhow::bail!("--source {other:?}: expected x, bluesky or mixed"),
    };
    let start = chrono::DateTime::parse_from_rfc3339(&a.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", a.start))?;
    for (name, v) in [("--places", a.places), ("--retweets", a.retweets)] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&v),
            "{name} {v}: expected a share from 0 to 1"
        );
    }
    anyhow::ensure!(
        a.per_second > 0.0 && a.per_second.is_finite(),
        "--per-second {}: expected a positive rate",
        a.per_second
    );
    let mut options = Options {
        seed: a.seed,
        count: a.count,
        shape,
        start_ms: start.timestamp_millis(),
        per_second: a.per_second,
        bursts: a.bursts,
        places: a.places,
        retweets: a.retweets,
        ..Options::default()
    };
    let mut all = if let Some(target) = a.target_bytes {
        // Grow the count until the posts fill the target, then cut at it.
        options.count = (target / 600).max(1);
        loop {
            let ps = posts(&options);
            let bytes: usize = ps.iter().map(|p| p.json.len() + 1).sum();
            if bytes >= target {
                let mut total = 0;
                break ps
                    .into_iter()
                    .take_while(|p| {
                        total += p.json.len() + 1;
                        total <= target
                    })
                    .collect::<Vec<_>>();
            }
            options.count = options.count * 3 / 2 + 1;
        }
    } else {
        posts(&options)
    };
    let mut text = String::new();
    for p in &all {
        text.push_str(&p.json);
        text.push('\n');
    }
    let body = if a.event {
        let event =
            build_event(&text, &EventOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        serde_json::to_string(&event)?
    } else {
        text
    };
    match &a.out {
        None => std::io::stdout().write_all(body.as_bytes())?,
        Some(path) if path.extension().is_some_and(|e| e == "gz") => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("while creating {}", path.display()))?;
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
            gz.write_all(body.as_bytes())?;
            gz.finish()?;
        }
        Some(path) => std::fs::write(path, body.as_bytes())
            .with_context(|| format!("while writing {}", path.display()))?,
    }
    let count =
        |f: &dyn Fn(&transform_tools::generate::Post) -> bool| all.iter().filter(|p| f(p)).count();
    eprintln!(
        "gen-posts: {} posts ({} X, {} Bluesky; {} cats, {} dogs, {} both; {} not English){}",
        all.len(),
        count(&|p| p.source == "x"),
        count(&|p| p.source == "bluesky"),
        count(&|p| p.tags == ["cats"]),
        count(&|p| p.tags == ["dogs"]),
        count(&|p| p.tags.len() == 2),
        count(&|p| p.lang != "en"),
        a.out
            .as_ref()
            .map(|p| format!(" -> {}", p.display()))
            .unwrap_or_default()
    );
    all.clear();
    Ok(())
}
