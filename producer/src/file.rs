//! Recorded posts from a file: NDJSON, plain or gzip (by content, not by name), one
//! payload per line, sent byte for byte. `rate` paces the lines per second (none: as
//! fast as the sink takes them); `looping` starts over at the end. The same reader sends
//! a spill file back (`producer replay`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::sink::{Record, Stats};

/// Opens a file, decompressing it when it starts with the gzip magic bytes.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = std::fs::File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(file))))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// The rule tags of a payload, for the summary (empty when it has none or is not JSON).
pub fn tags(payload: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(default)]
        matching_rules: Vec<Tag>,
    }
    #[derive(Deserialize)]
    struct Tag {
        #[serde(default)]
        tag: Option<String>,
    }
    serde_json::from_slice::<Peek>(payload)
        .map(|p| p.matching_rules.into_iter().filter_map(|t| t.tag).collect())
        .unwrap_or_default()
}

/// Sends every line of `path` to `tx` (on a blocking thread), paced by `rate`.
pub async fn replay(
    path: PathBuf,
    rate: Option<f64>,
    looping: bool,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let interval = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        let started = Instant::now();
        let mut sent = 0u64;
        loop {
            let reader =
                open(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            for line in reader.split(b'\n') {
                if *shutdown.borrow() {
                    return Ok(());
                }
                let mut line =
                    line.map_err(|e| anyhow::anyhow!("while reading {}: {e}", path.display()))?;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Some(every) = interval {
                    let due = started + every.mul_f64(sent as f64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                let mut record = Record::new(line);
                record.tags = tags(&record.data);
                Stats::add(&stats.received, 1);
                sent += 1;
                if tx.blocking_send(record).is_err() {
                    return Ok(());
                }
            }
            if !looping {
                return Ok(());
            }
        }
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_detected_by_content() {
        let dir = std::env::temp_dir();
        let plain = dir.join(format!("replay-plain-{}.ndjson", std::process::id()));
        let gz = dir.join(format!("replay-gz-{}.data", std::process::id()));
        std::fs::write(&plain, "{\"a\":1}\n{\"b\":2}\n").unwrap();
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        enc.finish().unwrap();
        for p in [&plain, &gz] {
            let lines: Vec<String> = open(p).unwrap().lines().map(|l| l.unwrap()).collect();
            assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}"]);
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn tags_come_from_matching_rules() {
        assert_eq!(
            tags(br#"{"data":{},"matching_rules":[{"tag":"cats"},{"id":"2"}]}"#),
            ["cats"]
        );
        assert!(tags(b"nope").is_empty());
    }
}
