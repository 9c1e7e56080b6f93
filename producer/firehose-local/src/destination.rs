//! The OpenSearch destination of the local delivery stream: `Ok` documents go with
//! `_bulk` (through the `opensearch` crate) into the index, its name rotated as Firehose
//! rotates it, the record id as `_id` (a document delivered twice replaces itself);
//! 429, 5xx, malformed answers and connection failures are retried for the retry duration
//! (or until a stop), per-item failures (such as `mapper_parsing_exception`) and whatever
//! is still failing at the end go to the backup. Without an OpenSearch URL, documents go to
//! the embedded store (crate `search-store`: a tantivy index under the same template,
//! which refuses what OpenSearch would refuse, with the same error types), visible to the
//! dashboard once committed; or, with `--ndjson`, are appended to `DIR/INDEX.ndjson`:
//! whole lines, synced, a failed write cut off again and retried for a bounded time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::indices::IndicesPutIndexTemplateParts;
use opensearch::{BulkParts, OpenSearch};
use retry::{Policy, Schedule, Stop, Verdict};
use search_store::{Mode, Store};
use serde_json::Value;
use tracing::{info, warn};

use crate::config::{index_name, Rotation};
use crate::journal::Segment;
use crate::LocalError;

/// The index template (every document field mapped explicitly).
pub const INDEX_TEMPLATE: &str = include_str!("../../../kibana/index-template.json");

/// Waits between OpenSearch retries (within the retry duration).
const SCHEDULE: Schedule = Schedule::new(Duration::from_millis(100), Duration::from_secs(5));

/// Time for one `_bulk` call and its answer.
const ATTEMPT: Duration = Duration::from_secs(60);

/// A document on its way to the index.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Document id (the Firehose record id).
    pub id: String,
    /// Arrival time of the record, ms.
    pub arrival_ms: i64,
    /// The JSON document (one line, no newline).
    pub json: Vec<u8>,
    /// Where its record is in the journal.
    pub segment: Segment,
}

/// A document that was not indexed, and why.
#[derive(Debug, Clone)]
pub struct Failed {
    /// The document.
    pub doc: Doc,
    /// Its index.
    pub index: String,
    /// Error type or code.
    pub code: String,
    /// Reason.
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
}

/// Where documents go.
pub enum Destination {
    /// A real OpenSearch-compatible server.
    OpenSearch {
        /// The client.
        client: OpenSearch,
        /// How long to retry 429 / 5xx / connection failures.
        retry_duration: Duration,
    },
    /// The embedded store; a failed commit retried for `retry_duration`.
    Store {
        /// The store (shared with the dashboard page).
        store: Arc<Store>,
        /// How long to retry a failed commit.
        retry_duration: Duration,
    },
    /// `DIR/INDEX.ndjson`, a failed write retried for `retry_duration`.
    Dir {
        /// The directory.
        dir: PathBuf,
        /// How long to retry a failed write.
        retry_duration: Duration,
    },
}

impl Destination {
    /// An OpenSearch destination at `url` (5 s to connect, 60 s per request).
    pub fn opensearch(url: &str, retry_duration: Duration) -> Result<Self, LocalError> {
        let bad = |reason: String| LocalError::OpenSearch {
            url: url.to_string(),
            reason,
        };
        let parsed = opensearch::http::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(parsed))
            .timeout(ATTEMPT)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Destination::OpenSearch {
            client: OpenSearch::new(transport),
            retry_duration,
        })
    }

    /// The embedded store at `path` (created when missing; refused when another run
    /// writes it).
    pub fn store(path: &Path, retry_duration: Duration) -> Result<Self, LocalError> {
        let store = Store::open(path, Mode::Write).map_err(LocalError::Store)?;
        Ok(Destination::Store {
            store: Arc::new(store),
            retry_duration,
        })
    }

    /// A directory destination; a failed write is retried for 30 s.
    pub fn dir(dir: PathBuf) -> Self {
        Destination::Dir {
            dir,
            retry_duration: Duration::from_secs(30),
        }
    }

    /// Applies the index template (before any delivery), retrying for the retry duration.
    pub async fn prepare(&self, template_name: &str, stop: &Stop) -> Result<(), LocalError> {
        let Destination::OpenSearch {
            client,
            retry_duration,
        } = self
        else {
            return Ok(());
        };
        let template: Value = serde_json::from_str(INDEX_TEMPLATE).map_err(|e| {
            LocalError::Template(format!("kibana/index-template.json is not JSON: {e}"))
        })?;
        let policy = Policy::for_duration(SCHEDULE, *retry_duration, ATTEMPT);
        let result = retry::run(policy, "apply the index template", stop, |_| {
            let template = template.clone();
            async move {
                let sent = client
                    .indices()
                    .put_index_template(IndicesPutIndexTemplateParts::Name(template_name))
                    .body(template)
                    .send()
                    .await;
                match sent {
                    Err(e) => Verdict::Retry(e.to_string()),
                    Ok(r) if r.status_code().is_success() => Verdict::Done(()),
                    Ok(r) => {
                        let status = r.status_code().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        let message = format!("HTTP {status}: {body}");
                        match retry::classify::transient_status(status) {
                            true => Verdict::Retry(message),
                            false => Verdict::Reject(message),
                        }
                    }
                }
            }
        })
        .await;
        match result {
            Ok(_) => {
                info!(template = template_name, "index template applied");
                Ok(())
            }
            Err(f) => Err(LocalError::Template(f.to_string())),
        }
    }

    /// Delivers documents; returns those indexed and those that were not.
    pub async fn deliver(
        &self,
        base: &str,
        rotation: Rotation,
        docs: Vec<Doc>,
        stop: &Stop,
    ) -> (Vec<Doc>, Vec<Failed>) {
        match self {
            Destination::Dir {
                dir,
                retry_duration,
            } => {
                let mut by_index: std::collections::BTreeMap<String, Vec<Doc>> = Default::default();
                for d in docs {
                    by_index
                        .entry(index_name(base, rotation, d.arrival_ms))
                        .or_default()
                        .push(d);
                }
                let mut ok = Vec::new();
                let mut failed = Vec::new();
                for (index, docs) in by_index {
                    let path = dir.join(format!("{index}.ndjson"));
                    match append_lines(&path, &docs, *retry_duration, stop).await {
                        Ok(()) => ok.extend(docs),
                        Err((message, attempts)) => {
                            failed.extend(docs.into_iter().map(|doc| Failed {
                                doc,
                                index: index.clone(),
                                code: "Dir.WriteFailed".into(),
                                message: message.clone(),
                                attempts,
                            }))
                        }
                    }
                }
                (ok, failed)
            }
            Destination::OpenSearch {
                client,
                retry_duration,
            } => bulk(client, *retry_duration, base, rotation, docs, stop).await,
            Destination::Store {
                store,
                retry_duration,
            } => to_store(store, *retry_duration, base, rotation, docs, stop).await,
        }
    }
}

/// Adds the documents to the store and commits, retrying a failed commit (a full disk)
/// until `total` or a stop; what the store refuses (as OpenSearch would) is failed with
/// OpenSearch's error type, and what still cannot be committed with `Store.WriteFailed`.
async fn to_store(
    store: &Arc<Store>,
    total: Duration,
    base: &str,
    rotation: Rotation,
    docs: Vec<Doc>,
    stop: &Stop,
) -> (Vec<Doc>, Vec<Failed>) {
    let indices: Vec<String> = docs
        .iter()
        .map(|d| index_name(base, rotation, d.arrival_ms))
        .collect();
    let texts: Arc<Vec<(String, String, String)>> = Arc::new(
        docs.iter()
            .zip(&indices)
            .map(|(d, index)| {
                (
                    d.id.clone(),
                    index.clone(),
                    String::from_utf8_lossy(&d.json).into_owned(),
                )
            })
            .collect(),
    );
    let policy = Policy::for_duration(SCHEDULE, total, ATTEMPT);
    let what = format!("commit to the store at {}", store.path().display());
    // The store is on this machine: a stop (the grace period over) ends its retries, not
    // its first attempt, so what is merely queued at a stop is committed, not backed up;
    // and an attempt is never abandoned midway (its commit would land after the backup).
    let attempt = |_| {
        let (store, texts) = (Arc::clone(store), Arc::clone(&texts));
        async move {
            let added = tokio::task::spawn_blocking(move || {
                let refused = store.add(
                    texts
                        .iter()
                        .map(|(id, index, json)| (id.as_str(), index.as_str(), json.as_str())),
                )?;
                store.commit()?;
                Ok::<_, search_store::StoreError>(refused)
            })
            .await;
            match added {
                Ok(Ok(refused)) => Verdict::Done(refused),
                Ok(Err(e)) => Verdict::Retry(e.to_string()),
                Err(e) => Verdict::Retry(e.to_string()),
            }
        }
    };
    let once = Policy {
        max_attempts: Some(1),
        ..policy
    };
    let mut result = retry::run(once, &what, &Stop::never(), attempt).await;
    if result.is_err() {
        result = retry::run(policy, &what, stop, attempt).await.map(|mut s| {
            s.attempts += 1;
            s
        });
    }
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    match result {
        Ok(s) => {
            for ((doc, index), refused) in docs.into_iter().zip(indices).zip(s.value) {
                match refused {
                    None => ok.push(doc),
                    Some(r) => failed.push(Failed {
                        doc,
                        index,
                        code: r.kind.to_string(),
                        message: r.reason,
                        attempts: s.attempts,
                    }),
                }
            }
        }
        Err(f) => {
            warn!(store = %store.path().display(), documents = docs.len(), error = %f, "cannot commit to the store: backing up");
            for (doc, index) in docs.into_iter().zip(indices) {
                failed.push(Failed {
                    doc,
                    index,
                    code: "Store.WriteFailed".into(),
                    message: f.to_string(),
                    attempts: f.attempts,
                });
            }
        }
    }
    (ok, failed)
}

/// Appends each document as one line to `path`, synced; a write that fails is cut back
/// to where it started (no half line stays) and retried until `total` or a stop.
async fn append_lines(
    path: &Path,
    docs: &[Doc],
    total: Duration,
    stop: &Stop,
) -> Result<(), (String, u32)> {
    let mut body = Vec::with_capacity(docs.iter().map(|d| d.json.len() + 1).sum());
    for d in docs {
        body.extend_from_slice(&d.json);
        body.push(b'\n');
    }
    let policy = Policy::for_duration(SCHEDULE, total, ATTEMPT);
    let what = format!("append to {}", path.display());
    let result = retry::run(policy, &what, stop, |_| {
        let path = path.to_path_buf();
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
    result.map(|_| ()).map_err(|f| {
        warn!(file = %path.display(), documents = docs.len(), error = %f, "cannot write documents");
        (f.to_string(), f.attempts)
    })
}

fn append_whole(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = f.metadata()?.len();
    let written = f.write_all(body).and_then(|()| f.sync_data());
    if let Err(e) = written {
        // No half line stays behind: cut the file back to where this write started.
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(e);
    }
    Ok(())
}

/// Why a `_bulk` attempt failed: Firehose's code and the reason.
#[derive(Debug, Clone)]
struct BulkError {
    code: String,
    message: String,
}

impl BulkError {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        BulkError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for BulkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

async fn bulk(
    client: &OpenSearch,
    retry_duration: Duration,
    base: &str,
    rotation: Rotation,
    docs: Vec<Doc>,
    stop: &Stop,
) -> (Vec<Doc>, Vec<Failed>) {
    let pending: Mutex<Vec<(Doc, String)>> = Mutex::new(
        docs.into_iter()
            .map(|d| {
                let index = index_name(base, rotation, d.arrival_ms);
                (d, index)
            })
            .collect(),
    );
    let indexed: Mutex<Vec<Doc>> = Mutex::default();
    let failed: Mutex<Vec<Failed>> = Mutex::default();
    let policy = Policy::for_duration(SCHEDULE, retry_duration, ATTEMPT);
    let outcome = retry::run(policy, "OpenSearch _bulk", stop, |attempt| {
        let mut body: Vec<Vec<u8>> = Vec::new();
        for (d, index) in take(&pending).iter() {
            let action = serde_json::json!({"index": {"_index": index, "_id": d.id}});
            body.push(action.to_string().into_bytes());
            body.push(d.json.clone());
        }
        let send = client.bulk(BulkParts::None).body(body).send();
        let (pending, indexed, failed) = (&pending, &indexed, &failed);
        async move {
            let resp = match send.await {
                Err(e) => {
                    return Verdict::Retry(BulkError::new("OS.ConnectionFailed", e.to_string()))
                }
                Ok(r) => r,
            };
            let status = resp.status_code().as_u16();
            if retry::classify::transient_status(status) {
                let text = resp.text().await.unwrap_or_default();
                return Verdict::Retry(BulkError::new(format!("OS.HTTP{status}"), text));
            }
            if !(200..300).contains(&status) {
                // The whole request was refused: nothing will change by retrying.
                let text = resp.text().await.unwrap_or_default();
                return Verdict::Reject(BulkError::new(format!("OS.HTTP{status}"), text));
            }
            let answer: Value = match resp.json().await {
                Ok(v) => v,
                Err(e) => {
                    return Verdict::Retry(BulkError::new("OS.MalformedResponse", e.to_string()))
                }
            };
            let Some(items) = answer["items"].as_array() else {
                return Verdict::Retry(BulkError::new(
                    "OS.MalformedResponse",
                    "no items in the _bulk answer",
                ));
            };
            let mut retry_again = Vec::new();
            let mut first_reason = Value::Null;
            let drained: Vec<(Doc, String)> = take(pending).drain(..).collect();
            for (i, (doc, index)) in drained.into_iter().enumerate() {
                let item = items
                    .get(i)
                    .and_then(|it| it.get("index").or_else(|| it.get("create")));
                let item_status = item.and_then(|it| it["status"].as_u64()).unwrap_or(0) as u16;
                match item {
                    Some(it) if it.get("error").is_none() && (200..300).contains(&item_status) => {
                        take(indexed).push(doc)
                    }
                    Some(it) if retry::classify::transient_status(item_status) => {
                        if first_reason.is_null() {
                            first_reason = it["error"].clone();
                        }
                        retry_again.push((doc, index));
                    }
                    Some(it) => take(failed).push(Failed {
                        doc,
                        index,
                        code: it["error"]["type"]
                            .as_str()
                            .unwrap_or("OS.ItemFailed")
                            .to_string(),
                        message: it["error"]["reason"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        attempts: attempt,
                    }),
                    // An answer shorter than the request leaves the rest unconfirmed.
                    None => retry_again.push((doc, index)),
                }
            }
            if retry_again.is_empty() {
                Verdict::Done(())
            } else {
                *take(pending) = retry_again;
                Verdict::Retry(BulkError::new("OS.ItemRetryable", first_reason.to_string()))
            }
        }
    })
    .await;
    let mut failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Err(f) = outcome {
        let BulkError { code, message } = f
            .last
            .clone()
            .unwrap_or_else(|| BulkError::new("OS.Timeout", "no answer within the attempt's time"));
        let left = pending.into_inner().unwrap_or_else(|p| p.into_inner());
        if !left.is_empty() {
            warn!(documents = left.len(), %code, "OpenSearch {f}: backing up");
        }
        failed.extend(left.into_iter().map(|(doc, index)| Failed {
            doc,
            index,
            code: code.clone(),
            message: message.clone(),
            attempts: f.attempts,
        }));
    }
    (
        indexed.into_inner().unwrap_or_else(|p| p.into_inner()),
        failed,
    )
}

/// The state an attempt changes (never contended: attempts run one at a time).
fn take<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_maps_the_index_pattern() {
        let v: Value = serde_json::from_str(INDEX_TEMPLATE).unwrap();
        assert_eq!(v["index_patterns"][0], "social-posts*");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn documents_are_appended_as_whole_lines() {
        let dir = std::env::temp_dir().join(format!("destination-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = Destination::dir(dir.clone());
        let doc = |id: &str| Doc {
            id: id.into(),
            arrival_ms: 1_678_806_566_000,
            json: format!("{{\"post_id\":\"{id}\"}}").into_bytes(),
            segment: Segment(0),
        };
        let (ok, failed) = d
            .deliver(
                "social-posts",
                Rotation::OneDay,
                vec![doc("a"), doc("b")],
                &Stop::never(),
            )
            .await;
        assert_eq!((ok.len(), failed.len()), (2, 0));
        let text = std::fs::read_to_string(dir.join("social-posts-2023-03-14.ndjson")).unwrap();
        assert_eq!(text, "{\"post_id\":\"a\"}\n{\"post_id\":\"b\"}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
