//! `producer cost`: a monthly estimate of the pipeline at a posts-per-day rate, line by
//! line (X reads, Firehose, Lambda, Comprehend, OpenSearch, S3, CloudWatch), from unit
//! prices in one file (`producer/prices.json`, with its region and date; any price can be
//! overridden). The model is arithmetic on the stack's parameters; each line says what it
//! multiplied, so a reader can check it against the price pages.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// Hours in a month, as AWS bills them.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Days in a month (730 h).
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// Firehose bills each record rounded up to 5 KB.
pub const FIREHOSE_UNIT_BYTES: u64 = 5 * 1024;
/// Comprehend bills 100-character units, at least 3 per document.
pub const COMPREHEND_UNIT_CHARS: u64 = 100;
/// The fewest Comprehend units a document is billed.
pub const COMPREHEND_MIN_UNITS: u64 = 3;
/// A Lambda gets one vCPU at 1,769 MB and a share of one below it.
pub const LAMBDA_MB_PER_VCPU: f64 = 1769.0;
/// Metric series of the transform's stream-level EMF line (Records, Ok, Dropped,
/// ProcessingFailed, SentimentCalls, ComprehendUnits, SentimentFallback, BytesIn,
/// BytesOut, DurationMs) plus two drop reasons a clean stream has (retweet, language).
pub const STREAM_METRICS: u64 = 12;
/// Per category (and `other`): Posts, SentimentScored, SentimentSum.
pub const CATEGORY_METRICS: u64 = 3;
/// Alarm metrics of the fixed alarms (`serverless/alarms.js`): eight on one metric each,
/// and the ProcessingFailed share on two.
pub const FIXED_ALARM_METRICS: u64 = 8 + 2;
/// Per category: the volume anomaly alarm (3: the metric and its band's two edges) and
/// the sentiment-drop anomaly alarm on a two-metric expression (3 per metric).
pub const CATEGORY_ALARM_METRICS: u64 = 3 + 6;
/// Bytes of CloudWatch Logs per invocation: the runtime's START/END/REPORT lines, the
/// `batch transformed` line and the stream's EMF line.
pub const LOG_BYTES_PER_INVOCATION: u64 = 2_000;
/// Bytes of CloudWatch Logs per category EMF line.
pub const LOG_BYTES_PER_CATEGORY_LINE: u64 = 450;
/// An index holds about 1.5 bytes per byte of post (the document and its inverted index).
pub const INDEX_BYTES_PER_POST_BYTE: f64 = 1.5;

const GIB: f64 = 1_073_741_824.0;
const MIB: f64 = 1_048_576.0;

/// A bad price file, price or input.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The price file cannot be read or parsed.
    #[error("price file {path}: {reason}")]
    PricesFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The region is not in the price file.
    #[error("region {region:?} is not in the price file (it has: {known})")]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The regions it has.
        known: String,
    },
    /// The instance type has no price in the region.
    #[error("instance type {instance:?} has no price in {region} (the price file has: {known})")]
    UnknownInstance {
        /// The type asked for.
        instance: String,
        /// The region.
        region: String,
        /// The types it has.
        known: String,
    },
    /// An input is out of range.
    #[error("{flag} {value}: {expected}")]
    Input {
        /// The flag.
        flag: &'static str,
        /// Its value, as given.
        value: String,
        /// What is expected.
        expected: String,
    },
    /// A `--price KEY=VALUE` names no price, or its value is not a price.
    #[error("--price {given:?}: {reason}")]
    Price {
        /// The flag's value.
        given: String,
        /// What is wrong.
        reason: String,
    },
}

/// The price file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    /// When the prices were read.
    pub date: String,
    /// Their currency.
    pub currency: String,
    /// Where they come from.
    pub source: String,
    /// X API prices.
    pub x: XPrices,
    /// AWS prices per region.
    pub regions: BTreeMap<String, RegionPrices>,
}

/// X API (pay-per-use).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XPrices {
    /// One post read from the filtered stream.
    pub post_read: f64,
}

/// AWS unit prices of one region.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// Firehose Direct PUT ingestion, per GB (of 5 KB-rounded records).
    pub firehose_gb: f64,
    /// Lambda on arm64, per GB-second.
    pub lambda_arm64_gb_second: f64,
    /// Lambda, per million requests.
    pub lambda_million_requests: f64,
    /// Comprehend DetectSentiment, per 100-character unit.
    pub comprehend_unit: f64,
    /// OpenSearch Service instances, per hour.
    pub opensearch_instance_hour: BTreeMap<String, f64>,
    /// OpenSearch Service gp3 storage, per GB-month.
    pub opensearch_gp3_gb_month: f64,
    /// S3 Standard, per GB-month.
    pub s3_gb_month: f64,
    /// S3 PUT requests, per thousand.
    pub s3_thousand_puts: f64,
    /// CloudWatch custom metrics, per metric-month.
    pub cloudwatch_metric_month: f64,
    /// CloudWatch standard-resolution alarms, per alarm metric-month.
    pub cloudwatch_alarm_metric_month: f64,
    /// CloudWatch Logs ingestion, per GB.
    pub cloudwatch_logs_gb: f64,
    /// Secrets Manager, per secret-month (the Dashboards master user).
    pub secretsmanager_secret_month: f64,
}

impl PriceFile {
    /// The bundled price file.
    pub fn bundled() -> Self {
        #[allow(clippy::expect_used)] // the bundled file is checked by a test
        serde_json::from_str(include_str!("../prices.json")).expect("producer/prices.json parses")
    }

    /// Reads a price file.
    pub fn load(path: &Path) -> Result<Self, CostError> {
        let err = |reason: String| CostError::PricesFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// The prices of `region`.
    pub fn region(&self, region: &str) -> Result<&RegionPrices, CostError> {
        self.regions
            .get(region)
            .ok_or_else(|| CostError::UnknownRegion {
                region: region.to_string(),
                known: self.regions.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Applies `KEY=VALUE` overrides to `region`'s prices (`x.post_read`, a region price
    /// such as `firehose_gb`, or `opensearch_instance_hour.TYPE`).
    pub fn override_price(&mut self, region: &str, given: &str) -> Result<(), CostError> {
        let bad = |reason: &str| CostError::Price {
            given: given.to_string(),
            reason: reason.to_string(),
        };
        let (key, value) = given
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE"))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| bad("the value is not a number"))?;
        if !value.is_finite() || value < 0.0 {
            return Err(bad("a price is a number of 0 or more"));
        }
        if key == "x.post_read" {
            self.x.post_read = value;
            return Ok(());
        }
        self.region(region)?;
        let Some(p) = self.regions.get_mut(region) else {
            return Err(bad("no such region"));
        };
        if let Some(instance) = key.strip_prefix("opensearch_instance_hour.") {
            p.opensearch_instance_hour
                .insert(instance.to_string(), value);
            return Ok(());
        }
        let slot = match key {
            "firehose_gb" => &mut p.firehose_gb,
            "lambda_arm64_gb_second" => &mut p.lambda_arm64_gb_second,
            "lambda_million_requests" => &mut p.lambda_million_requests,
            "comprehend_unit" => &mut p.comprehend_unit,
            "opensearch_gp3_gb_month" => &mut p.opensearch_gp3_gb_month,
            "s3_gb_month" => &mut p.s3_gb_month,
            "s3_thousand_puts" => &mut p.s3_thousand_puts,
            "cloudwatch_metric_month" => &mut p.cloudwatch_metric_month,
            "cloudwatch_alarm_metric_month" => &mut p.cloudwatch_alarm_metric_month,
            "cloudwatch_logs_gb" => &mut p.cloudwatch_logs_gb,
            "secretsmanager_secret_month" => &mut p.secretsmanager_secret_month,
            _ => return Err(bad("no such price (see producer/prices.json for the keys)")),
        };
        *slot = value;
        Ok(())
    }
}

/// The sentiment backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// VADER in the Lambda.
    Vader,
    /// Amazon Comprehend.
    Comprehend,
    /// No sentiment.
    None,
}

/// Where posts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The X API filtered stream (pay-per-use: every post read is billed).
    X,
    /// Bluesky Jetstream (free).
    Bluesky,
    /// A recording (free).
    File,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::X => "x",
            Source::Bluesky => "bluesky",
            Source::File => "file",
        })
    }
}

/// What the estimate is for: the rate and the stack's parameters (`serverless.yml`).
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Posts a day.
    pub posts_per_day: f64,
    /// Mean size of a post's record, bytes.
    pub post_bytes: u64,
    /// Mean length of a post's text, characters (Comprehend bills it).
    pub text_chars: u64,
    /// Sentiment backend.
    pub backend: Backend,
    /// Source.
    pub source: Source,
    /// Lambda memory, MB.
    pub memory_mb: u64,
    /// Lambda processor buffer, MB.
    pub processor_buffer_mb: f64,
    /// Lambda processor interval, seconds.
    pub processor_interval_secs: u64,
    /// Measured Lambda duration per record, ms (default: from the benchmarks).
    pub ms_per_record: Option<f64>,
    /// OpenSearch instance type.
    pub instance_type: String,
    /// OpenSearch instances.
    pub instances: u64,
    /// OpenSearch volume per instance, GB.
    pub volume_gb: u64,
    /// Days each daily index is kept.
    pub retention_days: u64,
    /// Categories with their own metric series and alarms.
    pub categories: u64,
    /// Share of records that fail and go to the backup bucket, percent.
    pub failed_percent: f64,
}

impl Inputs {
    fn check(&self) -> Result<(), CostError> {
        let input = |flag, value: String, expected: &str| CostError::Input {
            flag,
            value,
            expected: expected.to_string(),
        };
        let r = self.posts_per_day;
        if !r.is_finite() || r < 0.0 {
            return Err(input(
                "--posts-per-day",
                r.to_string(),
                "a rate is a number of 0 or more",
            ));
        }
        if r > 1e9 {
            return Err(input(
                "--posts-per-day",
                r.to_string(),
                "is not a plausible rate (at most 1,000,000,000 a day; all of X is about 500 million)",
            ));
        }
        let range = |flag, v: f64, lo: f64, hi: f64, what: &str| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(input(flag, v.to_string(), what))
            }
        };
        range(
            "--post-bytes",
            self.post_bytes as f64,
            1.0,
            1_024_000.0,
            "a Firehose record is 1 byte to 1,000 KiB",
        )?;
        range(
            "--text-chars",
            self.text_chars as f64,
            0.0,
            100_000.0,
            "expected 0 to 100,000 characters",
        )?;
        range(
            "--memory-mb",
            self.memory_mb as f64,
            128.0,
            10_240.0,
            "Lambda memory is 128 to 10,240 MB",
        )?;
        range(
            "--processor-buffer-mb",
            self.processor_buffer_mb,
            0.2,
            3.0,
            "the processor buffer is 0.2 to 3 MB",
        )?;
        range(
            "--processor-interval-secs",
            self.processor_interval_secs as f64,
            1.0,
            900.0,
            "the processor interval is 1 to 900 s",
        )?;
        if let Some(ms) = self.ms_per_record {
            range(
                "--ms-per-record",
                ms,
                0.0,
                60_000.0,
                "expected 0 to 60,000 ms",
            )?;
        }
        range(
            "--instances",
            self.instances as f64,
            1.0,
            80.0,
            "a domain has 1 to 80 instances",
        )?;
        range(
            "--volume-gb",
            self.volume_gb as f64,
            10.0,
            24_576.0,
            "a gp3 volume is 10 to 24,576 GB",
        )?;
        range(
            "--categories",
            self.categories as f64,
            0.0,
            1_000.0,
            "expected 0 to 1,000 categories",
        )?;
        range(
            "--failed-percent",
            self.failed_percent,
            0.0,
            100.0,
            "a share is 0 to 100 percent",
        )
    }

    /// The Lambda's duration per record, ms: the given one, or the benchmarks' CPU time
    /// per record (RESULTS.md: about 16 µs with VADER, 4 µs without, on one core)
    /// stretched by the share of a vCPU the memory buys, plus, with Comprehend, its
    /// calls' wait (25 texts a call, 4 at a time, ~150 ms each: 1.5 ms a record).
    pub fn lambda_ms_per_record(&self) -> f64 {
        if let Some(ms) = self.ms_per_record {
            return ms;
        }
        let cpu_us = match self.backend {
            Backend::Vader => 16.0,
            Backend::Comprehend | Backend::None => 4.0,
        };
        let share = (LAMBDA_MB_PER_VCPU / self.memory_mb as f64).max(1.0);
        let wait_ms = if self.backend == Backend::Comprehend {
            1.5
        } else {
            0.0
        };
        cpu_us * share / 1000.0 + wait_ms
    }
}

/// One line of the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// What it is.
    pub item: &'static str,
    /// What was multiplied.
    pub detail: String,
    /// Dollars a month.
    pub usd: f64,
}

/// The estimate.
#[derive(Clone, Debug)]
pub struct Estimate {
    /// The heading.
    pub heading: String,
    /// Line by line.
    pub lines: Vec<Line>,
    /// Warnings (a volume that fills up).
    pub notes: Vec<String>,
}

impl Estimate {
    /// The total, dollars a month.
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.usd).sum()
    }

    /// The line named `item`.
    pub fn line(&self, item: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.item == item)
    }
}

fn money(usd: f64) -> String {
    let cents = (usd * 100.0).round() as u64;
    format!("${}.{:02}", thousands(cents / 100), cents % 100)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(x: f64) -> String {
    thousands(x.round() as u64)
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.heading)?;
        let width = self.lines.iter().map(|l| l.detail.len()).max().unwrap_or(0);
        for l in &self.lines {
            writeln!(
                f,
                "  {:<22} {:<width$}  {:>12}",
                l.item,
                l.detail,
                money(l.usd)
            )?;
        }
        writeln!(
            f,
            "  {:<22} {:<width$}  {:>12}",
            "total",
            "a month",
            money(self.total())
        )?;
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// The monthly estimate of `inputs` at `region`'s prices.
pub fn estimate(prices: &PriceFile, region: &str, inputs: &Inputs) -> Result<Estimate, CostError> {
    inputs.check()?;
    let p = prices.region(region)?;
    let hourly = *p
        .opensearch_instance_hour
        .get(&inputs.instance_type)
        .ok_or_else(|| CostError::UnknownInstance {
            instance: inputs.instance_type.clone(),
            region: region.to_string(),
            known: p
                .opensearch_instance_hour
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let posts = inputs.posts_per_day * DAYS_PER_MONTH;
    let mut lines = Vec::new();

    lines.push(match inputs.source {
        Source::X => Line {
            item: "X API reads",
            detail: format!("{} posts × ${}", count(posts), prices.x.post_read),
            usd: posts * prices.x.post_read,
        },
        other => Line {
            item: "X API reads",
            detail: format!("none ({other} is free)"),
            usd: 0.0,
        },
    });

    let units = inputs.post_bytes.div_ceil(FIREHOSE_UNIT_BYTES);
    let firehose_gb = posts * (units * FIREHOSE_UNIT_BYTES) as f64 / GIB;
    lines.push(Line {
        item: "Firehose ingestion",
        detail: format!(
            "{} records × {} KB = {:.2} GB × ${}",
            count(posts),
            units * 5,
            firehose_gb,
            p.firehose_gb
        ),
        usd: firehose_gb * p.firehose_gb,
    });

    // Firehose invokes the processor when its buffer fills or its interval passes.
    let bytes_per_day = inputs.posts_per_day * inputs.post_bytes as f64;
    let by_size = (bytes_per_day / (inputs.processor_buffer_mb * MIB)).ceil();
    let by_time = inputs
        .posts_per_day
        .min(86_400.0 / inputs.processor_interval_secs as f64);
    let invocations_per_day = by_size.max(by_time).ceil();
    let invocations = invocations_per_day * DAYS_PER_MONTH;
    let per_invocation = if invocations_per_day > 0.0 {
        inputs.posts_per_day / invocations_per_day
    } else {
        0.0
    };
    let ms = (per_invocation * inputs.lambda_ms_per_record())
        .ceil()
        .max(1.0);
    let gb_seconds = invocations * ms / 1000.0 * inputs.memory_mb as f64 / 1024.0;
    lines.push(Line {
        item: "Lambda requests",
        detail: format!(
            "{} invocations × ${}/million",
            count(invocations),
            p.lambda_million_requests
        ),
        usd: invocations / 1e6 * p.lambda_million_requests,
    });
    lines.push(Line {
        item: "Lambda compute",
        detail: format!(
            "{} × {ms} ms × {} MB = {:.1} GB-s × ${}",
            count(invocations),
            inputs.memory_mb,
            gb_seconds,
            p.lambda_arm64_gb_second
        ),
        usd: gb_seconds * p.lambda_arm64_gb_second,
    });

    lines.push(if inputs.backend == Backend::Comprehend {
        let units = inputs
            .text_chars
            .div_ceil(COMPREHEND_UNIT_CHARS)
            .max(COMPREHEND_MIN_UNITS);
        Line {
            item: "Comprehend",
            detail: format!(
                "{} posts × {units} units × ${}",
                count(posts),
                p.comprehend_unit
            ),
            usd: posts * units as f64 * p.comprehend_unit,
        }
    } else {
        Line {
            item: "Comprehend",
            detail: "none (sentiment in the Lambda)".into(),
            usd: 0.0,
        }
    });

    lines.push(Line {
        item: "OpenSearch instances",
        detail: format!(
            "{} × {} × {HOURS_PER_MONTH} h × ${hourly}",
            inputs.instances, inputs.instance_type
        ),
        usd: inputs.instances as f64 * HOURS_PER_MONTH * hourly,
    });
    let volume = (inputs.instances * inputs.volume_gb) as f64;
    lines.push(Line {
        item: "OpenSearch storage",
        detail: format!("{volume} GB gp3 × ${}", p.opensearch_gp3_gb_month),
        usd: volume * p.opensearch_gp3_gb_month,
    });

    let failed = posts * inputs.failed_percent / 100.0;
    let failed_gb = failed * inputs.post_bytes as f64 / GIB;
    // Firehose writes a backup object per 300 s buffer that has a failed record.
    let puts = failed.min(HOURS_PER_MONTH * 12.0).ceil();
    lines.push(Line {
        item: "S3 backup",
        detail: format!(
            "{} failed records = {failed_gb:.3} GB × ${} + {} puts × ${}/1000",
            count(failed),
            p.s3_gb_month,
            count(puts),
            p.s3_thousand_puts
        ),
        usd: failed_gb * p.s3_gb_month + puts / 1000.0 * p.s3_thousand_puts,
    });

    let series = STREAM_METRICS + CATEGORY_METRICS * (inputs.categories + 1);
    lines.push(Line {
        item: "CloudWatch metrics",
        detail: format!(
            "{series} series ({STREAM_METRICS} + {CATEGORY_METRICS} × {} categories with other) × ${}",
            inputs.categories + 1,
            p.cloudwatch_metric_month
        ),
        usd: series as f64 * p.cloudwatch_metric_month,
    });
    let alarm_metrics = FIXED_ALARM_METRICS + CATEGORY_ALARM_METRICS * inputs.categories;
    lines.push(Line {
        item: "CloudWatch alarms",
        detail: format!(
            "{alarm_metrics} alarm metrics ({FIXED_ALARM_METRICS} + {CATEGORY_ALARM_METRICS} × {} categories) × ${}",
            inputs.categories, p.cloudwatch_alarm_metric_month
        ),
        usd: alarm_metrics as f64 * p.cloudwatch_alarm_metric_month,
    });
    let log_bytes =
        LOG_BYTES_PER_INVOCATION + LOG_BYTES_PER_CATEGORY_LINE * (inputs.categories + 1);
    let logs_gb = invocations * log_bytes as f64 / GIB;
    lines.push(Line {
        item: "CloudWatch Logs",
        detail: format!(
            "{} invocations × {} bytes = {logs_gb:.3} GB × ${}",
            count(invocations),
            thousands(log_bytes),
            p.cloudwatch_logs_gb
        ),
        usd: logs_gb * p.cloudwatch_logs_gb,
    });

    lines.push(Line {
        item: "Secrets Manager",
        detail: format!(
            "1 secret (the Dashboards master user) × ${}",
            p.secretsmanager_secret_month
        ),
        usd: p.secretsmanager_secret_month,
    });

    let mut notes = Vec::new();
    let index_gb = inputs.posts_per_day
        * inputs.post_bytes as f64
        * INDEX_BYTES_PER_POST_BYTE
        * inputs.retention_days as f64
        / GIB;
    if inputs.retention_days == 0 {
        notes
            .push("retention 0 keeps every index: the volume fills; set retentionDays".to_string());
    } else if index_gb > volume * 0.85 {
        notes.push(format!(
            "{} days of indices take about {index_gb:.1} GB, past 85 % of the {volume} GB volume (OpenSearch stops allocating shards there): raise searchVolumeGb or lower retentionDays",
            inputs.retention_days
        ));
    }
    if inputs.source == Source::X {
        notes.push(
            "X bills every post the stream reads, retweets included; cap a run with `producer x --max-posts`"
                .to_string(),
        );
    }
    Ok(Estimate {
        heading: format!(
            "Monthly estimate at {} posts a day ({} in {:.1} days), {} source, {:?} sentiment, {region} prices of {} ({})",
            count(inputs.posts_per_day),
            count(posts),
            DAYS_PER_MONTH,
            inputs.source,
            inputs.backend,
            prices.date,
            prices.currency
        ),
        lines,
        notes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

    use super::*;

    /// Round prices, so every line below is computed by hand.
    fn prices() -> PriceFile {
        let mut instance = BTreeMap::new();
        instance.insert("t3.small.search".to_string(), 0.04);
        let mut regions = BTreeMap::new();
        regions.insert(
            "test-1".to_string(),
            RegionPrices {
                firehose_gb: 0.03,
                lambda_arm64_gb_second: 0.00001,
                lambda_million_requests: 0.2,
                comprehend_unit: 0.0001,
                opensearch_instance_hour: instance,
                opensearch_gp3_gb_month: 0.1,
                s3_gb_month: 0.02,
                s3_thousand_puts: 0.005,
                cloudwatch_metric_month: 0.3,
                cloudwatch_alarm_metric_month: 0.1,
                cloudwatch_logs_gb: 0.5,
                secretsmanager_secret_month: 0.4,
            },
        );
        PriceFile {
            date: "2026-12-01".into(),
            currency: "USD".into(),
            source: "test".into(),
            x: XPrices { post_read: 0.005 },
            regions,
        }
    }

    /// 24,000 posts a day: 730 days' hours make 30.416… days, so 730,000 posts a month.
    fn inputs() -> Inputs {
        Inputs {
            posts_per_day: 24_000.0,
            post_bytes: 2_048,
            text_chars: 250,
            backend: Backend::Comprehend,
            source: Source::X,
            memory_mb: 1024,
            processor_buffer_mb: 1.0,
            processor_interval_secs: 60,
            ms_per_record: Some(0.5),
            instance_type: "t3.small.search".into(),
            instances: 1,
            volume_gb: 10,
            retention_days: 30,
            categories: 2,
            failed_percent: 1.0,
        }
    }

    fn usd(e: &Estimate, item: &str) -> f64 {
        e.line(item).unwrap().usd
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn each_line_is_what_hand_arithmetic_gives() {
        let e = estimate(&prices(), "test-1", &inputs()).unwrap();
        // 730,000 posts × $0.005.
        assert!(close(usd(&e, "X API reads"), 3_650.0));
        // 2,048 bytes round up to one 5 KB unit: 730,000 × 5,120 bytes = 3.4808… GiB.
        assert!(close(
            usd(&e, "Firehose ingestion"),
            730_000.0 * 5_120.0 / GIB * 0.03
        ));
        // 24,000 × 2,048 B = 46.875 MiB a day: 47 invocations by size, 1,440 by time
        // (a minute's buffer); 1,440 a day × 30.416… = 43,800 a month.
        assert!(close(usd(&e, "Lambda requests"), 43_800.0 / 1e6 * 0.2));
        // 24,000 / 1,440 = 16.67 records × 0.5 ms = 8.33 → 9 ms billed; × 1 GB.
        assert!(close(usd(&e, "Lambda compute"), 43_800.0 * 0.009 * 0.00001));
        // 250 characters = 3 units (2.5 rounded up; 3 is also the minimum).
        assert!(close(usd(&e, "Comprehend"), 730_000.0 * 3.0 * 0.0001));
        assert!(close(usd(&e, "OpenSearch instances"), 730.0 * 0.04));
        assert!(close(usd(&e, "OpenSearch storage"), 1.0));
        // 1 % = 7,300 failed records of 2,048 bytes; 7,300 puts (fewer than 8,760 buffers).
        assert!(close(
            usd(&e, "S3 backup"),
            7_300.0 * 2_048.0 / GIB * 0.02 + 7.3 * 0.005
        ));
        // 12 + 3 × 3 = 21 series; 10 + 9 × 2 = 28 alarm metrics.
        assert!(close(usd(&e, "CloudWatch metrics"), 21.0 * 0.3));
        assert!(close(usd(&e, "CloudWatch alarms"), 28.0 * 0.1));
        // 2,000 + 450 × 3 = 3,350 bytes per invocation.
        assert!(close(
            usd(&e, "CloudWatch Logs"),
            43_800.0 * 3_350.0 / GIB * 0.5
        ));
        assert!(close(usd(&e, "Secrets Manager"), 0.4));
        let sum: f64 = e.lines.iter().map(|l| l.usd).sum();
        assert!(close(e.total(), sum));
        assert_eq!(e.lines.len(), 12);
    }

    #[test]
    fn the_minimum_units_the_5_kb_rounding_and_the_buffer_size_apply() {
        let mut i = inputs();
        i.text_chars = 40; // 1 unit of text, billed 3
        i.post_bytes = 5_121; // just over one 5 KB unit: two
        i.posts_per_day = 1_000_000.0; // 4,883.8 MiB a day: 4,884 invocations by size
        let e = estimate(&prices(), "test-1", &i).unwrap();
        let posts = 1_000_000.0 * DAYS_PER_MONTH;
        assert!(close(usd(&e, "Comprehend"), posts * 3.0 * 0.0001));
        assert!(close(
            usd(&e, "Firehose ingestion"),
            posts * 10_240.0 / GIB * 0.03
        ));
        let invocations = 4_884.0 * DAYS_PER_MONTH;
        assert!(close(usd(&e, "Lambda requests"), invocations / 1e6 * 0.2));
        // 1,000,000 / 4,884 = 204.75 records × 0.5 ms = 102.4 → 103 ms.
        assert!(close(
            usd(&e, "Lambda compute"),
            invocations * 0.103 * 0.00001
        ));
        // The backup writes at most one object per 300 s buffer: 8,760 a month.
        let failed = posts / 100.0;
        assert!(close(
            usd(&e, "S3 backup"),
            failed * 5_121.0 / GIB * 0.02 + 8.76 * 0.005
        ));
    }

    #[test]
    fn free_sources_and_local_sentiment_cost_nothing_for_reads_and_comprehend() {
        let mut i = inputs();
        i.source = Source::Bluesky;
        i.backend = Backend::Vader;
        let e = estimate(&prices(), "test-1", &i).unwrap();
        assert_eq!(usd(&e, "X API reads"), 0.0);
        assert_eq!(usd(&e, "Comprehend"), 0.0);
        assert!(e
            .line("X API reads")
            .unwrap()
            .detail
            .contains("bluesky is free"));
    }

    #[test]
    fn the_default_duration_scales_with_the_cpu_share_of_the_memory() {
        let mut i = inputs();
        i.ms_per_record = None;
        i.backend = Backend::Vader;
        i.memory_mb = 1769;
        assert!(close(i.lambda_ms_per_record(), 0.016));
        i.memory_mb = 512;
        assert!(close(i.lambda_ms_per_record(), 0.016 * 1769.0 / 512.0));
        i.memory_mb = 3538; // more than a vCPU does not make one thread faster
        assert!(close(i.lambda_ms_per_record(), 0.016));
        i.backend = Backend::Comprehend;
        assert!(close(i.lambda_ms_per_record(), 0.004 + 1.5));
    }

    #[test]
    fn no_posts_cost_only_what_stands() {
        let mut i = inputs();
        i.posts_per_day = 0.0;
        let e = estimate(&prices(), "test-1", &i).unwrap();
        for item in [
            "X API reads",
            "Firehose ingestion",
            "Lambda requests",
            "Comprehend",
        ] {
            assert_eq!(usd(&e, item), 0.0, "{item}");
        }
        assert!(close(usd(&e, "OpenSearch instances"), 29.2));
    }

    #[test]
    fn bad_input_names_the_value() {
        let err = |f: &dyn Fn(&mut Inputs)| {
            let mut i = inputs();
            f(&mut i);
            estimate(&prices(), "test-1", &i).unwrap_err().to_string()
        };
        assert_eq!(
            err(&|i| i.posts_per_day = -5.0),
            "--posts-per-day -5: a rate is a number of 0 or more"
        );
        assert!(err(&|i| i.posts_per_day = 5e12)
            .starts_with("--posts-per-day 5000000000000: is not a plausible rate"));
        assert!(err(&|i| i.posts_per_day = f64::NAN).starts_with("--posts-per-day NaN"));
        assert!(err(&|i| i.memory_mb = 64).starts_with("--memory-mb 64: "));
        assert!(err(&|i| i.failed_percent = 120.0).starts_with("--failed-percent 120: "));
        assert_eq!(
            err(&|i| i.instance_type = "t2.nano.search".into()),
            "instance type \"t2.nano.search\" has no price in test-1 (the price file has: t3.small.search)"
        );
        let region = estimate(&prices(), "mars-1", &inputs()).unwrap_err();
        assert_eq!(
            region.to_string(),
            "region \"mars-1\" is not in the price file (it has: test-1)"
        );
    }

    #[test]
    fn prices_are_overridden_by_key_and_bad_overrides_are_refused() {
        let mut p = prices();
        p.override_price("test-1", "x.post_read=0.01").unwrap();
        p.override_price("test-1", "firehose_gb=0.06").unwrap();
        p.override_price("test-1", "opensearch_instance_hour.m6g.large.search=0.2")
            .unwrap();
        let mut i = inputs();
        let e = estimate(&p, "test-1", &i).unwrap();
        assert!(close(usd(&e, "X API reads"), 7_300.0));
        assert!(close(
            usd(&e, "Firehose ingestion"),
            730_000.0 * 5_120.0 / GIB * 0.06
        ));
        i.instance_type = "m6g.large.search".into();
        let e = estimate(&p, "test-1", &i).unwrap();
        assert!(close(usd(&e, "OpenSearch instances"), 146.0));
        for (given, want) in [
            ("firehose_gb", "expected KEY=VALUE"),
            ("firehose_gb=-1", "a price is a number of 0 or more"),
            ("firehose_gb=cheap", "the value is not a number"),
            ("lamda_gb=1", "no such price"),
        ] {
            let e = p.override_price("test-1", given).unwrap_err().to_string();
            assert!(e.contains(want), "{given}: {e}");
        }
        let e = p.override_price("mars-1", "firehose_gb=1").unwrap_err();
        assert!(e.to_string().contains("\"mars-1\""), "{e}");
    }

    #[test]
    fn the_bundled_price_file_has_every_region_and_the_stack_default_instance() {
        let p = PriceFile::bundled();
        assert!(!p.date.is_empty());
        for region in ["us-east-1", "eu-west-1"] {
            let r = p.region(region).unwrap();
            assert!(r.opensearch_instance_hour.contains_key("t3.small.search"));
            assert!(r.firehose_gb > 0.0 && r.lambda_arm64_gb_second > 0.0);
        }
    }

    #[test]
    fn a_full_volume_is_noted() {
        let mut i = inputs();
        i.posts_per_day = 1_000_000.0; // 2 KB × 1.5 × 30 days ≈ 86 GB
        let e = estimate(&prices(), "test-1", &i).unwrap();
        assert!(
            e.notes.iter().any(|n| n.contains("raise searchVolumeGb")),
            "{:?}",
            e.notes
        );
        i.posts_per_day = 10_000.0;
        let e = estimate(&prices(), "test-1", &i).unwrap();
        assert!(!e.notes.iter().any(|n| n.contains("searchVolumeGb")));
    }
}
