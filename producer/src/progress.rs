//! What the user sees: a live progress line on a terminal (records/s, in flight,
//! retried, failed), a structured log line every 10 s otherwise, and a summary table at
//! the end.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tracing::info;

use crate::record::Stats;
use crate::sink::SinkReport;

/// Reports progress until `done` turns true.
pub async fn report(stats: Arc<Stats>, mut done: watch::Receiver<bool>) {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let tick = if terminal {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(10)
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = done.changed() => break,
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let delivered = Stats::get(&stats.delivered);
        let rate = delivered as f64 / elapsed;
        match &bar {
            Some(bar) => bar.set_message(format!(
                "{} read · {} delivered · {:.0}/s · {} in flight · {} retried · {} spilled · {} rejected",
                Stats::get(&stats.received),
                delivered,
                rate,
                Stats::get(&stats.in_flight),
                Stats::get(&stats.retried),
                Stats::get(&stats.spilled),
                Stats::get(&stats.rejected),
            )),
            None => info!(
                read = Stats::get(&stats.received),
                delivered,
                per_second = rate,
                in_flight = Stats::get(&stats.in_flight),
                retried = Stats::get(&stats.retried),
                spilled = Stats::get(&stats.spilled),
                rejected = Stats::get(&stats.rejected),
                "progress"
            ),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// The end-of-run summary table: what exists (delivered, in the spill or rejects file),
/// and what was lost, per cause.
pub fn summary(
    stats: &Stats,
    report: &SinkReport,
    elapsed: Duration,
    spill: &str,
    rejects: &str,
) -> String {
    let categories: &BTreeMap<String, u64> = &report.delivered_per_tag;
    let mut s = format!("\nsummary ({:.1} s)\n", elapsed.as_secs_f64());
    let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<30} {v:>12}\n"));
    row("read", Stats::get(&stats.received).to_string());
    row(
        "delivered to firehose",
        Stats::get(&stats.delivered).to_string(),
    );
    row("entries sent again", Stats::get(&stats.retried).to_string());
    row(
        "calls (failed)",
        format!(
            "{} ({})",
            Stats::get(&stats.calls),
            Stats::get(&stats.failed_calls)
        ),
    );
    let rejected = Stats::get(&stats.rejected);
    row(
        "rejected (never accepted)",
        if rejected > 0 {
            format!("{rejected} -> {rejects}")
        } else {
            "0".into()
        },
    );
    let spilled = Stats::get(&stats.spilled);
    row(
        "spilled",
        if spilled > 0 {
            format!("{spilled} -> {spill}")
        } else {
            "0".into()
        },
    );
    for (cause, n) in &report.lost {
        row(&format!("LOST: {cause}"), n.to_string());
    }
    if let Some(fatal) = &report.fatal {
        s.push_str(&format!("  firehose refused the calls: {fatal}\n"));
    }
    let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<30} {v:>12}\n"));
    row(
        "skipped (no rule, not a post)",
        Stats::get(&stats.skipped).to_string(),
    );
    row("reconnects", Stats::get(&stats.reconnects).to_string());
    for (name, counter) in [
        ("read back after a gap", &stats.backfilled),
        ("duplicates (not sent)", &stats.duplicates),
    ] {
        if Stats::get(counter) > 0 {
            row(name, Stats::get(counter).to_string());
        }
    }
    for (tag, n) in categories {
        row(&format!("delivered: {tag}"), n.to_string());
    }
    let rate = Stats::get(&stats.delivered) as f64 / elapsed.as_secs_f64().max(1e-9);
    row("records/s", format!("{rate:.0}"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_every_outcome_and_category() {
        let stats = Stats::default();
        Stats::add(&stats.received, 10);
        Stats::add(&stats.delivered, 8);
        Stats::add(&stats.spilled, 2);
        let report = SinkReport {
            delivered_per_tag: BTreeMap::from([("cats".to_string(), 5), ("dogs".to_string(), 3)]),
            lost: BTreeMap::from([("spill write failed: disk full".to_string(), 1)]),
            fatal: None,
        };
        let s = summary(
            &stats,
            &report,
            Duration::from_secs(2),
            "spill.ndjson",
            "rejects.ndjson",
        );
        assert!(
            s.contains("read                                     10"),
            "{s}"
        );
        assert!(s.contains("2 -> spill.ndjson"), "{s}");
        assert!(s.contains("delivered: dogs"), "{s}");
        assert!(s.contains("LOST: spill write failed: disk full"), "{s}");
        assert!(
            s.contains("records/s                                 4"),
            "{s}"
        );
    }
}
