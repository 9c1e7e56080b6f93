//! The local stream's settings, checked against Firehose's ranges at start.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};

/// Firehose's index rotation options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// `index`
    NoRotation,
    /// `index-YYYY-MM-DD-HH`
    OneHour,
    /// `index-YYYY-MM-DD`
    OneDay,
    /// `index-YYYY-ww` (ISO week)
    OneWeek,
    /// `index-YYYY-MM`
    OneMonth,
}

impl std::str::FromStr for Rotation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "NoRotation" => Rotation::NoRotation,
            "OneHour" => Rotation::OneHour,
            "OneDay" => Rotation::OneDay,
            "OneWeek" => Rotation::OneWeek,
            "OneMonth" => Rotation::OneMonth,
            _ => {
                return Err(format!(
                    "{s:?}: expected NoRotation, OneHour, OneDay, OneWeek or OneMonth"
                ))
            }
        })
    }
}

/// The index a document arriving at `arrival_ms` goes to.
pub fn index_name(base: &str, rotation: Rotation, arrival_ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(arrival_ms)
        .single()
        .unwrap_or_default();
    match rotation {
        Rotation::NoRotation => base.to_string(),
        Rotation::OneHour => format!("{base}-{}", t.format("%Y-%m-%d-%H")),
        Rotation::OneDay => format!("{base}-{}", t.format("%Y-%m-%d")),
        Rotation::OneWeek => format!("{base}-{}-{:02}", t.iso_week().year(), t.iso_week().week()),
        Rotation::OneMonth => format!("{base}-{}", t.format("%Y-%m")),
    }
}

/// Which documents are backed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupMode {
    /// Only what failed (Firehose's `FailedDocumentsOnly`).
    FailedDocumentsOnly,
    /// Also every delivered document (Firehose's `AllDocuments`).
    AllDocuments,
}

/// Settings of the local delivery stream.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Delivery stream name.
    pub stream: String,
    /// Processor buffer size hint (Firehose: 0.2–3 MB).
    pub processor_buffer_bytes: usize,
    /// Processor buffer interval hint (Firehose: 0–900 s).
    pub processor_interval: Duration,
    /// Destination buffer size hint (Firehose: 1–100 MB).
    pub buffer_bytes: usize,
    /// Destination buffer interval hint (Firehose: 0–900 s).
    pub buffer_interval: Duration,
    /// Index name (before rotation).
    pub index: String,
    /// Index rotation.
    pub rotation: Rotation,
    /// Backup mode.
    pub backup_mode: BackupMode,
    /// Where acknowledged records are kept until they are delivered, dropped or backed up.
    pub journal: PathBuf,
}

impl LocalConfig {
    /// A configuration for fresh dashboards (1 MB / 1 s processor buffer, 5 MB destination
    /// buffer with zero buffering, index `social-posts` rotated daily, failures backed up)
    /// and its journal in `journal`.
    pub fn new(stream: &str, journal: PathBuf) -> Self {
        LocalConfig {
            stream: stream.to_string(),
            processor_buffer_bytes: 1_000_000,
            processor_interval: Duration::from_secs(1),
            buffer_bytes: 5_000_000,
            buffer_interval: Duration::ZERO,
            index: "social-posts".into(),
            rotation: Rotation::OneDay,
            backup_mode: BackupMode::FailedDocumentsOnly,
            journal,
        }
    }

    /// Checks the hints against Firehose's ranges and the index name against OpenSearch's
    /// rules.
    pub fn validate(&self) -> Result<(), String> {
        let mb = |b: usize| b as f64 / 1_000_000.0;
        if !(0.2..=3.0).contains(&mb(self.processor_buffer_bytes)) {
            return Err(format!(
                "processor buffer {} MB: expected 0.2 to 3 MB",
                mb(self.processor_buffer_bytes)
            ));
        }
        if !(1.0..=100.0).contains(&mb(self.buffer_bytes)) {
            return Err(format!(
                "destination buffer {} MB: expected 1 to 100 MB",
                mb(self.buffer_bytes)
            ));
        }
        for (name, d) in [
            ("processor", self.processor_interval),
            ("destination", self.buffer_interval),
        ] {
            if d > Duration::from_secs(900) {
                return Err(format!(
                    "{name} buffer interval {} s: expected 0 to 900 s",
                    d.as_secs()
                ));
            }
        }
        valid_index(&self.index)
    }
}

/// OpenSearch's rules for an index name (which also keep a file name inside its directory).
pub fn valid_index(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("index name {name:?}: {why}"));
    if name.is_empty() || name.len() > 200 {
        return bad("expected 1 to 200 characters");
    }
    if name == "." || name == ".." || name.starts_with(['-', '_', '+', '.']) {
        return bad("must not be . or .., nor start with -, _, + or .");
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_uppercase() || " \\/*?\"<>|,#:".contains(*c))
    {
        return bad(&format!(
            "{c:?} is not allowed (lower case, no spaces, no \\ / * ? \" < > | , # :)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_and_the_index_are_checked() {
        let ok = LocalConfig::new("s", PathBuf::from("journal"));
        assert!(ok.validate().is_ok());
        let bad = LocalConfig {
            processor_buffer_bytes: 4_000_000,
            ..ok.clone()
        };
        assert!(bad.validate().unwrap_err().contains("0.2 to 3 MB"));
        let bad = LocalConfig {
            buffer_bytes: 500_000,
            ..ok.clone()
        };
        assert!(bad.validate().unwrap_err().contains("1 to 100 MB"));
        let bad = LocalConfig {
            buffer_interval: Duration::from_secs(901),
            ..ok.clone()
        };
        assert!(bad.validate().unwrap_err().contains("0 to 900 s"));
        for index in ["../../x", "a/b", "..", "Posts", "-x", "a b", ""] {
            let bad = LocalConfig {
                index: index.into(),
                ..ok.clone()
            };
            assert!(bad.validate().is_err(), "{index}");
        }
        assert!(valid_index("social-posts_2").is_ok());
    }

    #[test]
    fn index_names_rotate_like_firehose() {
        let t = 1_678_806_566_000; // 2023-03-14T15:09:26Z, ISO week 11
        assert_eq!(index_name("posts", Rotation::NoRotation, t), "posts");
        assert_eq!(
            index_name("posts", Rotation::OneHour, t),
            "posts-2023-03-14-15"
        );
        assert_eq!(index_name("posts", Rotation::OneDay, t), "posts-2023-03-14");
        assert_eq!(index_name("posts", Rotation::OneWeek, t), "posts-2023-11");
        assert_eq!(index_name("posts", Rotation::OneMonth, t), "posts-2023-03");
        assert!("Daily".parse::<Rotation>().is_err());
        assert_eq!("OneWeek".parse::<Rotation>(), Ok(Rotation::OneWeek));
    }
}
