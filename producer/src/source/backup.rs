//! The backup as a source (`producer failed replay`): the records under
//! `processing-failed/` (their `rawData` is exactly what the producer sent) of every
//! backup object not yet replayed. Each record carries its object's key; once every
//! record of an object is settled (delivered, spilled or rejected: none lost), the object
//! is marked replayed beside the backup ([`firehose_backup::manifest`]), so a second run
//! sends nothing again unless asked.

use std::collections::BTreeMap;
use std::sync::Arc;

use firehose_backup::{manifest, BackupError, Failed, Store};
use tokio::sync::{mpsc, watch};

use crate::record::{tags, Record, Stats};

/// The objects to replay.
#[derive(Debug, Default)]
pub struct Pending {
    /// Each object's key and records, in key order.
    pub objects: Vec<(String, Vec<Failed>)>,
    /// Objects skipped: replayed before.
    pub skipped: Vec<String>,
}

impl Pending {
    /// Records in all.
    pub fn records(&self) -> usize {
        self.objects.iter().map(|(_, r)| r.len()).sum()
    }
}

/// The objects under `prefix` not yet replayed (all of them with `again`).
pub async fn pending(store: &Store, prefix: &str, again: bool) -> Result<Pending, BackupError> {
    let done = if again {
        Default::default()
    } else {
        manifest::replayed(store).await?
    };
    let mut out = Pending::default();
    for key in store.keys(prefix).await? {
        if done.contains(&key) {
            out.skipped.push(key);
            continue;
        }
        let body = store.get(&key).await?;
        let records = firehose_backup::records::parse(&key, &String::from_utf8_lossy(&body))?;
        out.objects.push((key, records));
    }
    Ok(out)
}

/// Sends every record of `objects` to `tx`, each carrying its object's key.
pub async fn send(
    objects: Vec<(String, Vec<Failed>)>,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
) -> Result<(), super::SourceError> {
    for (key, records) in objects {
        let origin: Arc<str> = Arc::from(key.as_str());
        for r in records {
            if *stop.borrow() {
                return Ok(());
            }
            let mut record = Record::new(r.data);
            record.tags = tags(&record.data);
            record.origin = Some(Arc::clone(&origin));
            Stats::add(&stats.received, 1);
            if tx.send(record).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Counts settled records per object and marks the objects all of whose records settled.
#[derive(Debug, Default)]
pub struct Settled {
    counts: BTreeMap<Arc<str>, usize>,
}

impl Settled {
    /// Counts these records as settled.
    pub fn add<'a>(&mut self, records: impl IntoIterator<Item = &'a Record>) {
        for r in records {
            if let Some(o) = &r.origin {
                *self.counts.entry(Arc::clone(o)).or_default() += 1;
            }
        }
    }

    /// Marks each object of `pending` whose records all settled; returns how many.
    pub async fn mark(
        &self,
        store: &Store,
        pending: &[(String, usize)],
        to: &str,
    ) -> Result<usize, BackupError> {
        let mut marked = 0;
        for (key, total) in pending {
            if self.counts.get(key.as_str()).copied().unwrap_or(0) == *total {
                manifest::mark(store, key, *total, to).await?;
                marked += 1;
            }
        }
        Ok(marked)
    }
}
