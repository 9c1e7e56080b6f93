//! The time range (Dashboards' `now-24h` … `now`, or absolute times) and the `auto`
//! interval of a date histogram: the range over a target of 50 buckets, rounded to the
//! nearest of Dashboards' usual steps, as a fixed interval (which both OpenSearch and the
//! embedded store take).

use chrono::{DateTime, SecondsFormat, Utc};

/// A resolved time range, ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, inclusive.
    pub from_ms: i64,
    /// End, inclusive.
    pub to_ms: i64,
}

/// The buckets an `auto` interval aims at (Dashboards' `histogram:barTarget`).
const BAR_TARGET: i64 = 50;

/// The steps an `auto` interval is rounded to: (ms, fixed interval).
const STEPS: &[(i64, &str)] = &[
    (1_000, "1s"),
    (5_000, "5s"),
    (10_000, "10s"),
    (30_000, "30s"),
    (60_000, "1m"),
    (300_000, "5m"),
    (600_000, "10m"),
    (1_800_000, "30m"),
    (3_600_000, "1h"),
    (10_800_000, "3h"),
    (43_200_000, "12h"),
    (86_400_000, "1d"),
    (604_800_000, "7d"),
    (2_592_000_000, "30d"),
];

impl TimeRange {
    /// Resolves `from` and `to` (each `now`, `now-N{s,m,h,d,w}`, or an ISO time) at `now`.
    pub fn resolve(from: &str, to: &str, now: DateTime<Utc>) -> Result<TimeRange, String> {
        let from_ms = point(from, now)?;
        let to_ms = point(to, now)?;
        if from_ms > to_ms {
            return Err(format!(
                "the time range starts ({from}) after it ends ({to})"
            ));
        }
        Ok(TimeRange { from_ms, to_ms })
    }

    /// The start as `strict_date_optional_time`.
    pub fn from_iso(&self) -> String {
        iso(self.from_ms)
    }

    /// The end as `strict_date_optional_time`.
    pub fn to_iso(&self) -> String {
        iso(self.to_ms)
    }

    /// The `auto` interval for this range.
    pub fn auto_interval(&self) -> &'static str {
        let wanted = ((self.to_ms - self.from_ms) / BAR_TARGET).max(1);
        STEPS
            .iter()
            .min_by(|a, b| {
                let da = (a.0 as f64 / wanted as f64).ln().abs();
                let db = (b.0 as f64 / wanted as f64).ln().abs();
                da.total_cmp(&db)
            })
            .map(|s| s.1)
            .unwrap_or("1h")
    }
}

/// An ISO time for ms since the epoch.
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn point(text: &str, now: DateTime<Utc>) -> Result<i64, String> {
    let t = text.trim();
    if t == "now" {
        return Ok(now.timestamp_millis());
    }
    if let Some(rest) = t.strip_prefix("now-") {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (n, unit) = rest.split_at(split);
        let n: i64 = n
            .parse()
            .map_err(|_| format!("time {text}: expected now-N followed by s, m, h, d or w"))?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => {
                return Err(format!(
                    "time {text}: unit {unit:?} is not one of s, m, h, d, w"
                ))
            }
        };
        return Ok(now.timestamp_millis() - n * unit_ms);
    }
    search_store::parse_date(t)
        .ok_or_else(|| format!("time {text}: not now, now-N<unit> or an ISO time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc)
    }

    #[test]
    fn relative_and_absolute_times_resolve() {
        let r = TimeRange::resolve("now-24h", "now", now()).expect("range");
        assert_eq!(r.to_ms - r.from_ms, 86_400_000);
        assert_eq!(r.from_iso(), "2026-11-30T12:00:00.000Z");
        let r = TimeRange::resolve("2026-12-01T10:00:00Z", "now-1h", now()).expect("absolute");
        assert_eq!(r.to_ms - r.from_ms, 3_600_000);
        assert!(TimeRange::resolve("now", "now-1h", now()).is_err());
        assert!(TimeRange::resolve("now-3y", "now", now())
            .expect_err("unit")
            .contains("\"y\""));
    }

    #[test]
    fn auto_intervals_aim_at_fifty_buckets() {
        let at = |from: &str| {
            TimeRange::resolve(from, "now", now())
                .expect("range")
                .auto_interval()
        };
        assert_eq!(at("now-24h"), "30m");
        assert_eq!(at("now-1h"), "1m");
        assert_eq!(at("now-7d"), "3h");
        assert_eq!(at("now-15m"), "30s");
    }
}
