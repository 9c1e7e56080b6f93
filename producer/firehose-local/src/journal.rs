//! The journal: what makes an acknowledgement mean what it means on AWS. A record is
//! acknowledged (its `RecordId` returned) only once it is in the journal on disk, synced;
//! it leaves the journal once its fate is final (indexed, dropped, or in the backup). On
//! the next start, the records still there are processed and delivered before any new
//! one: at least once, never zero times.
//!
//! On disk (a directory, locked by one stream at a time): segments `seg-N.log` of JSON
//! lines `{"id","at","data"}` (data in base64), appended and synced once per group of
//! calls (group commit, on the journal's own thread); beside each, `seg-N.done`, the ids
//! whose fate is final (appended, not synced: a lost mark only means a duplicate). A
//! segment goes when it is full and every record in it is done. A line cut short by a
//! crash was never acknowledged, and is dropped on recovery.
//!
//! Hand-written (about 250 lines): no crate offers a small append-only, group-committed
//! log with per-record completion; the write-ahead logs on crates.io are databases.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// Records per segment before a new one starts.
pub const SEGMENT_RECORDS: usize = 20_000;

/// One record as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The id returned to the producer (and the document's `_id`).
    pub record_id: String,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: i64,
    /// The record's bytes.
    pub data: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    id: String,
    at: i64,
    data: String,
}

/// Where a record is in the journal, to say it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment(pub u64);

enum Op {
    Append(Vec<Entry>, oneshot::Sender<std::io::Result<Segment>>),
    Done(Segment, Vec<String>),
    Close(oneshot::Sender<Remaining>),
}

/// What the journal still held when it closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Records not yet done: delivered on the next start.
    pub records: u64,
}

/// A handle to the journal's thread.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Op>,
}

/// Records found in the journal at start, still to be delivered, with their segments.
pub type Recovered = Vec<(Segment, Entry)>;

struct SegmentState {
    outstanding: usize,
    total: usize,
    done: Option<BufWriter<File>>,
}

struct Writer {
    dir: PathBuf,
    segments: HashMap<u64, SegmentState>,
    current: u64,
    log: File,
    per_segment: usize,
    _lock: File,
}

fn log_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:012}.log"))
}

fn done_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:012}.done"))
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, takes its lock, and returns the records
    /// still to deliver. Fails when another stream holds the lock.
    pub fn open(dir: &Path, per_segment: usize) -> std::io::Result<(Journal, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        if lock.try_lock().is_err() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "another local delivery stream is using the journal {}; stop it first",
                    dir.display()
                ),
            ));
        }
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("seg-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut recovered = Vec::new();
        let mut segments = HashMap::new();
        for &n in &numbers {
            let (entries, total) = recover_segment(dir, n)?;
            if entries.is_empty() {
                remove_segment(dir, n);
                continue;
            }
            let outstanding = entries.len();
            recovered.extend(entries.into_iter().map(|e| (Segment(n), e)));
            segments.insert(
                n,
                SegmentState {
                    outstanding,
                    total: total.max(per_segment),
                    done: Some(BufWriter::new(append(&done_path(dir, n))?)),
                },
            );
        }
        if !recovered.is_empty() {
            info!(records = recovered.len(), journal = %dir.display(), "records acknowledged before a stop, not yet delivered: delivering them first");
        }
        let current = numbers.last().map_or(0, |n| n + 1);
        let writer = Writer {
            dir: dir.to_path_buf(),
            log: append(&log_path(dir, current))?,
            segments,
            current,
            per_segment: per_segment.max(1),
            _lock: lock,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer.run(rx))?;
        Ok((Journal { tx }, recovered))
    }

    /// Appends `entries`; returns once they are on disk, synced.
    pub async fn append(&self, entries: Vec<Entry>) -> std::io::Result<Segment> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Op::Append(entries, ack))
            .map_err(|_| std::io::Error::other("the journal is closed"))?;
        done.await
            .map_err(|_| std::io::Error::other("the journal stopped"))?
    }

    /// Records that these records' fate is final.
    pub fn done(&self, segment: Segment, ids: Vec<String>) {
        if !ids.is_empty() {
            let _ = self.tx.send(Op::Done(segment, ids));
        }
    }

    /// Flushes the done marks, removes finished segments, and says what is left.
    pub async fn close(self) -> Remaining {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Op::Close(ack)).is_err() {
            return Remaining::default();
        }
        done.await.unwrap_or_default()
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn remove_segment(dir: &Path, n: u64) {
    let _ = std::fs::remove_file(log_path(dir, n));
    let _ = std::fs::remove_file(done_path(dir, n));
}

/// The segment's records not marked done, and how many it holds in all. A last line cut
/// short is cut off the file.
fn recover_segment(dir: &Path, n: u64) -> std::io::Result<(Vec<Entry>, usize)> {
    let done: HashSet<String> = match File::open(done_path(dir, n)) {
        Ok(f) => BufReader::new(f).lines().map_while(Result::ok).collect(),
        Err(_) => HashSet::new(),
    };
    let path = log_path(dir, n);
    let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
    let mut reader = BufReader::new(&mut file);
    let mut good = 0u64;
    let mut total = 0;
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        let parsed = (line.last() == Some(&b'\n'))
            .then(|| serde_json::from_slice::<Line>(&line).ok())
            .flatten()
            .and_then(|l| Some((l.id, l.at, STANDARD.decode(l.data).ok()?)));
        let Some((id, at, data)) = parsed else {
            warn!(
                segment = n,
                offset = good,
                "journal line cut short by a stop: it was never acknowledged; dropped"
            );
            break;
        };
        good += read as u64;
        total += 1;
        if !done.contains(&id) {
            out.push(Entry {
                record_id: id,
                arrival_ms: at,
                data,
            });
        }
    }
    drop(reader);
    if file.metadata()?.len() > good {
        file.set_len(good)?;
        file.sync_all()?;
    }
    file.seek(std::io::SeekFrom::End(0))?;
    Ok((out, total))
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Op>) {
        while let Some(op) = rx.blocking_recv() {
            let mut appends: Vec<(Vec<Entry>, oneshot::Sender<std::io::Result<Segment>>)> =
                Vec::new();
            let mut close = None;
            let mut next = Some(op);
            // Group commit: everything queued now is written with one sync.
            while let Some(op) = next.take() {
                match op {
                    Op::Append(entries, ack) => appends.push((entries, ack)),
                    Op::Done(segment, ids) => self.mark_done(segment, &ids),
                    Op::Close(ack) => close = Some(ack),
                }
                next = rx.try_recv().ok();
            }
            if !appends.is_empty() {
                self.write(appends);
            }
            self.flush_done();
            if let Some(ack) = close {
                let remaining = self.segments.values().map(|s| s.outstanding as u64).sum();
                let finished: Vec<u64> = self
                    .segments
                    .iter()
                    .filter(|(_, s)| s.outstanding == 0)
                    .map(|(n, _)| *n)
                    .collect();
                for n in finished {
                    remove_segment(&self.dir, n);
                }
                if !self.segments.contains_key(&self.current) {
                    remove_segment(&self.dir, self.current);
                }
                // Files and lock go before the answer: whoever awaited the close may
                // open the journal again at once.
                drop(self);
                let _ = ack.send(Remaining { records: remaining });
                return;
            }
        }
    }

    fn write(&mut self, appends: Vec<(Vec<Entry>, oneshot::Sender<std::io::Result<Segment>>)>) {
        let mut buf = Vec::new();
        let mut count = 0;
        for (entries, _) in &appends {
            for e in entries {
                let line = Line {
                    id: e.record_id.clone(),
                    at: e.arrival_ms,
                    data: STANDARD.encode(&e.data),
                };
                if serde_json::to_writer(&mut buf, &line).is_ok() {
                    buf.push(b'\n');
                }
                count += 1;
            }
        }
        let before = self.log.metadata().map(|m| m.len()).unwrap_or(0);
        let result = self.log.write_all(&buf).and_then(|()| self.log.sync_data());
        let segment = Segment(self.current);
        match result {
            Ok(()) => {
                let state = self
                    .segments
                    .entry(self.current)
                    .or_insert_with(|| SegmentState {
                        outstanding: 0,
                        total: 0,
                        // The marks are best effort: a lost mark only means a duplicate.
                        done: append(&done_path(&self.dir, self.current))
                            .ok()
                            .map(BufWriter::new),
                    });
                state.outstanding += count;
                state.total += count;
                debug!(records = count, segment = self.current, "journaled");
                for (_, ack) in appends {
                    let _ = ack.send(Ok(segment));
                }
                if state.total >= self.per_segment {
                    self.rotate();
                }
            }
            Err(e) => {
                // Nothing of a failed write is acknowledged: cut it off again.
                let _ = self.log.set_len(before);
                for (_, ack) in appends {
                    let _ = ack.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }

    fn rotate(&mut self) {
        let next = self.current + 1;
        match append(&log_path(&self.dir, next)) {
            Ok(f) => {
                self.log = f;
                self.current = next;
            }
            Err(e) => {
                warn!(error = %e, "cannot start a new journal segment; the current one grows")
            }
        }
        let sealed: Vec<u64> = self
            .segments
            .iter()
            .filter(|(n, s)| s.outstanding == 0 && **n != self.current)
            .map(|(n, _)| *n)
            .collect();
        for n in sealed {
            self.segments.remove(&n);
            remove_segment(&self.dir, n);
        }
    }

    fn mark_done(&mut self, segment: Segment, ids: &[String]) {
        let Some(state) = self.segments.get_mut(&segment.0) else {
            return;
        };
        if let Some(done) = state.done.as_mut() {
            for id in ids {
                let _ = writeln!(done, "{id}");
            }
        }
        state.outstanding = state.outstanding.saturating_sub(ids.len());
        if state.outstanding == 0 && segment.0 != self.current {
            self.segments.remove(&segment.0);
            remove_segment(&self.dir, segment.0);
        }
    }

    fn flush_done(&mut self) {
        for done in self.segments.values_mut().filter_map(|s| s.done.as_mut()) {
            let _ = done.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn entry(i: usize) -> Entry {
        Entry {
            record_id: format!("r{i:04}"),
            arrival_ms: i as i64,
            data: format!("{{\"n\":{i}}}\n").into_bytes(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn what_is_not_done_comes_back_after_a_stop_and_finished_segments_go() {
        let d = dir("recover");
        let (journal, recovered) = Journal::open(&d, 4).unwrap();
        assert!(recovered.is_empty());
        let s1 = journal.append((0..4).map(entry).collect()).await.unwrap();
        let s2 = journal.append((4..6).map(entry).collect()).await.unwrap();
        assert_ne!(s1, s2, "a full segment is followed by a new one");
        journal.done(s1, (0..4).map(|i| format!("r{i:04}")).collect());
        journal.done(s2, vec!["r0004".into()]);
        // A second stream on the same journal is refused.
        let Err(e) = Journal::open(&d, 4) else {
            panic!("the journal is locked")
        };
        assert!(
            e.to_string().contains("another local delivery stream"),
            "{e}"
        );
        // A crash: the handle goes without closing, the lock with the thread's file.
        let remaining = journal.close().await;
        assert_eq!(remaining.records, 1);
        let logs: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".log"))
            .collect();
        assert_eq!(logs.len(), 1, "the finished segment was removed: {logs:?}");

        // A line cut short (a crash mid-write) is never acknowledged and goes.
        let log = d.join(&logs[0]);
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"{\"id\":\"r9999\",\"at\":1,\"da").unwrap();
        drop(f);
        let (journal, recovered) = Journal::open(&d, 4).unwrap();
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered[0].1, entry(5));
        assert!(!std::fs::read_to_string(&log).unwrap().contains("r9999"));
        journal.done(recovered[0].0, vec!["r0005".into()]);
        assert_eq!(journal.close().await.records, 0);
        let (journal, recovered) = Journal::open(&d, 4).unwrap();
        assert!(recovered.is_empty());
        journal.close().await;
        std::fs::remove_dir_all(&d).unwrap();
    }
}
