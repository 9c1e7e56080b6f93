//! The sink's two files: the spill file (records Firehose could not take in time; NDJSON,
//! one post per line, which `producer replay` sends) and the rejects file (records
//! Firehose will never take: one JSON object per line with the reason and the record).
//! A write is whole lines or nothing: appended, synced, and on failure cut back to where
//! it started; a failed write is retried for a bounded time through the retry helper.
//! The spill file has a size cap: past it nothing more is written and the caller is told.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use retry::{Policy, Schedule, Stop, Verdict};

/// Why an append did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The file would grow past its cap.
    #[error("{path} is full ({size} bytes, cap {cap})")]
    Full {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// Its cap.
        cap: u64,
    },
    /// The write kept failing.
    #[error("cannot write {path}: {reason}")]
    Failed {
        /// The file.
        path: String,
        /// Why, after how many attempts.
        reason: String,
    },
}

/// An append-only file of whole lines.
#[derive(Debug)]
pub struct LineFile {
    path: PathBuf,
    cap: Option<u64>,
    retry: Duration,
}

impl LineFile {
    /// A file at `path`, at most `cap` bytes when given, a failed write retried for `retry`.
    pub fn new(path: PathBuf, cap: Option<u64>, retry: Duration) -> Self {
        LineFile { path, cap, retry }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines` (each ending in a newline) whole, synced.
    pub async fn append(&self, lines: &[&[u8]], stop: &Stop) -> Result<(), AppendError> {
        let body: Vec<u8> = lines.concat();
        if let Some(cap) = self.cap {
            let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
            if size + body.len() as u64 > cap {
                return Err(AppendError::Full {
                    path: self.path.display().to_string(),
                    size,
                    cap,
                });
            }
        }
        let policy = Policy::for_duration(
            Schedule::new(Duration::from_millis(100), Duration::from_secs(2)),
            self.retry,
            Duration::from_secs(30),
        );
        let what = format!("append to {}", self.path.display());
        let result = retry::run(policy, &what, stop, |_| {
            let path = self.path.clone();
            let body = body.clone();
            async move {
                match tokio::task::spawn_blocking(move || append_whole(&path, &body)).await {
                    Ok(Ok(())) => Verdict::Done(()),
                    Ok(Err(e)) => Verdict::Retry(e.to_string()),
                    Err(e) => Verdict::Retry(e.to_string()),
                }
            }
        })
        .await;
        result.map(|_| ()).map_err(|f| AppendError::Failed {
            path: self.path.display().to_string(),
            reason: f.to_string(),
        })
    }
}

/// Appends `body` whole and synced, or leaves the file as it was.
pub fn append_whole(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = f.metadata()?.len();
    let written = f.write_all(body).and_then(|()| f.sync_data());
    if let Err(e) = written {
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn appends_are_whole_and_the_cap_holds() {
        let path = std::env::temp_dir().join(format!("linefile-{}.ndjson", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let file = LineFile::new(path.clone(), Some(20), Duration::from_millis(200));
        file.append(&[b"{\"a\":1}\n", b"{\"b\":2}\n"], &Stop::never())
            .await
            .unwrap();
        let e = file
            .append(&[b"{\"c\":3}\n"], &Stop::never())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AppendError::Full {
                    size: 16,
                    cap: 20,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        std::fs::remove_file(&path).unwrap();
        // A file that cannot be written: retried, then a clear error.
        let bad = LineFile::new(
            PathBuf::from("/proc/no-such-dir/spill.ndjson"),
            None,
            Duration::from_millis(300),
        );
        let e = bad.append(&[b"x\n"], &Stop::never()).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot write /proc/no-such-dir/spill.ndjson"),
            "{e}"
        );
    }
}
