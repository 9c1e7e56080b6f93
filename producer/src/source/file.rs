//! Recorded posts from a file: NDJSON, plain or gzip (by content, not by name), one
//! payload per line, sent byte for byte. `rate` paces the lines per second (none: as
//! fast as the sink takes them); `looping` starts over at the end. The same reader sends
//! a spill file back (`producer replay`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use tokio::sync::{mpsc, watch};

use super::SourceError;
use crate::record::{tags, Record, Stats};

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

/// Whether two paths name the same file (same device and inode), whatever their
/// spelling; when one does not exist yet, whether they resolve to the same absolute path.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => absolute(a) == absolute(b),
    }
}

fn absolute(p: &Path) -> PathBuf {
    let mut out = std::env::current_dir().unwrap_or_default();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Sends every line of `path` to `tx` (on a blocking thread), paced by `rate`.
pub async fn replay(
    path: PathBuf,
    rate: Option<f64>,
    looping: bool,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    tokio::task::spawn_blocking(move || -> Result<(), SourceError> {
        let interval = rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        let started = Instant::now();
        let mut sent = 0u64;
        loop {
            let reader = open(&path).map_err(|source| SourceError::Read {
                path: path.display().to_string(),
                source,
            })?;
            for line in reader.split(b'\n') {
                if *shutdown.borrow() {
                    return Ok(());
                }
                let mut line = line.map_err(|source| SourceError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
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
    .await
    .map_err(|e| SourceError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_same_file_is_recognised_whatever_the_spelling() {
        let dir = std::env::temp_dir().join(format!("same-file-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let f = dir.join("spill.ndjson");
        std::fs::write(&f, "x\n").unwrap();
        assert!(same_file(&f, &dir.join("sub/../spill.ndjson")));
        assert!(same_file(&f, &dir.join("./spill.ndjson")));
        let link = dir.join("link.ndjson");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(same_file(&f, &link), "a symlink is the same file");
        assert!(!same_file(&f, &dir.join("other.ndjson")));
        assert!(same_file(
            &dir.join("new.ndjson"),
            &dir.join("sub/../new.ndjson")
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
}
