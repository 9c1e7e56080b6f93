//! The OpenSearch destination of the local delivery stream: `Ok` documents go with
//! `_bulk` (through the `opensearch` crate) into the index, its name rotated as Firehose
//! rotates it; 429, 5xx and connection failures are retried for the retry duration,
//! per-item failures (such as `mapper_parsing_exception`) and whatever is still failing
//! after the retry duration go to the backup. Without an OpenSearch URL, documents are
//! appended to `DIR/INDEX.ndjson` instead.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use opensearch::http::transport::Transport;
use opensearch::indices::IndicesPutIndexTemplateParts;
use opensearch::{BulkParts, OpenSearch};
use serde_json::Value;
use tracing::{info, warn};
use transform::retry::Backoff;

/// The index template (every document field mapped explicitly).
pub const INDEX_TEMPLATE: &str = include_str!("../../../kibana/index-template.json");

/// Delays between OpenSearch retries (within the retry duration).
const RETRY: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

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

/// A document on its way to the index.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Document id (the Firehose record id).
    pub id: String,
    /// Arrival time of the record, ms.
    pub arrival_ms: i64,
    /// The JSON document (one line, no newline).
    pub json: Vec<u8>,
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
    /// `DIR/INDEX.ndjson`.
    Dir(PathBuf),
}

impl Destination {
    /// An OpenSearch destination at `url`.
    pub fn opensearch(url: &str, retry_duration: Duration) -> anyhow::Result<Self> {
        let transport = Transport::single_node(url)?;
        Ok(Destination::OpenSearch {
            client: OpenSearch::new(transport),
            retry_duration,
        })
    }

    /// Applies the index template (before any delivery), retrying for the retry duration.
    pub async fn prepare(&self, template_name: &str) -> anyhow::Result<()> {
        let Destination::OpenSearch {
            client,
            retry_duration,
        } = self
        else {
            return Ok(());
        };
        let template: Value = serde_json::from_str(INDEX_TEMPLATE)?;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = client
                .indices()
                .put_index_template(IndicesPutIndexTemplateParts::Name(template_name))
                .body(template.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status_code().is_success() => {
                    info!(template = template_name, "index template applied");
                    return Ok(());
                }
                Ok(r) if r.status_code().as_u16() < 500 && r.status_code().as_u16() != 429 => {
                    let status = r.status_code();
                    let body = r.text().await.unwrap_or_default();
                    anyhow::bail!("OpenSearch refused the index template (HTTP {status}): {body}");
                }
                other => {
                    if started.elapsed() >= *retry_duration {
                        anyhow::bail!(
                            "OpenSearch unreachable while applying the index template: {other:?}"
                        );
                    }
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                }
            }
        }
    }

    /// Delivers documents; returns the number indexed and the failures.
    pub async fn deliver(
        &self,
        base: &str,
        rotation: Rotation,
        docs: Vec<Doc>,
    ) -> (u64, Vec<Failed>) {
        match self {
            Destination::Dir(dir) => {
                let mut by_index: std::collections::BTreeMap<String, Vec<Doc>> = Default::default();
                for d in docs {
                    by_index
                        .entry(index_name(base, rotation, d.arrival_ms))
                        .or_default()
                        .push(d);
                }
                let mut failed = Vec::new();
                let mut ok = 0;
                for (index, docs) in by_index {
                    let mut bytes = Vec::new();
                    for d in &docs {
                        bytes.extend_from_slice(&d.json);
                        bytes.push(b'\n');
                    }
                    let path = dir.join(format!("{index}.ndjson"));
                    let result = async {
                        tokio::fs::create_dir_all(dir).await?;
                        let mut f = tokio::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                            .await?;
                        tokio::io::AsyncWriteExt::write_all(&mut f, &bytes).await
                    }
                    .await;
                    match result {
                        Ok(()) => ok += docs.len() as u64,
                        Err(e) => failed.extend(docs.into_iter().map(|doc| Failed {
                            doc,
                            index: index.clone(),
                            code: "Dir.WriteFailed".into(),
                            message: e.to_string(),
                            attempts: 1,
                        })),
                    }
                }
                (ok, failed)
            }
            Destination::OpenSearch {
                client,
                retry_duration,
            } => bulk_with_retries(client, *retry_duration, base, rotation, docs).await,
        }
    }
}

async fn bulk_with_retries(
    client: &OpenSearch,
    retry_duration: Duration,
    base: &str,
    rotation: Rotation,
    docs: Vec<Doc>,
) -> (u64, Vec<Failed>) {
    let started = Instant::now();
    let mut pending: Vec<(Doc, String)> = docs
        .into_iter()
        .map(|d| {
            let index = index_name(base, rotation, d.arrival_ms);
            (d, index)
        })
        .collect();
    let mut indexed = 0u64;
    let mut failed = Vec::new();
    let mut attempt = 0u32;
    while !pending.is_empty() {
        attempt += 1;
        let mut body: Vec<Vec<u8>> = Vec::with_capacity(pending.len() * 2);
        for (d, index) in &pending {
            let action = serde_json::json!({"index": {"_index": index, "_id": d.id}});
            body.push(action.to_string().into_bytes());
            body.push(d.json.clone());
        }
        let outcome = client.bulk(BulkParts::None).body(body).send().await;
        let retry_all: Option<(String, String)> = match outcome {
            Err(e) => Some(("OS.ConnectionFailed".into(), e.to_string())),
            Ok(resp) => {
                let status = resp.status_code().as_u16();
                if status == 429 || status >= 500 {
                    let text = resp.text().await.unwrap_or_default();
                    Some((format!("OS.HTTP{status}"), text))
                } else if !(200..300).contains(&status) {
                    let text = resp.text().await.unwrap_or_default();
                    // The whole request was refused: nothing will change by retrying.
                    failed.extend(pending.drain(..).map(|(doc, index)| Failed {
                        doc,
                        index,
                        code: format!("OS.HTTP{status}"),
                        message: text.clone(),
                        attempts: attempt,
                    }));
                    None
                } else {
                    let v: Value = resp.json().await.unwrap_or(Value::Null);
                    let items = v["items"].as_array().cloned().unwrap_or_default();
                    let mut retry = Vec::new();
                    for (i, (doc, index)) in pending.drain(..).enumerate() {
                        let item = items
                            .get(i)
                            .and_then(|it| it.get("index").or_else(|| it.get("create")));
                        let item_status = item.and_then(|it| it["status"].as_u64()).unwrap_or(0);
                        match item {
                            Some(it)
                                if it.get("error").is_none()
                                    && (200..300).contains(&item_status) =>
                            {
                                indexed += 1
                            }
                            Some(it) if item_status == 429 || item_status >= 500 => {
                                retry.push((doc, index, it["error"].clone()))
                            }
                            Some(it) => failed.push(Failed {
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
                            None => retry.push((doc, index, Value::Null)),
                        }
                    }
                    if retry.is_empty() {
                        None
                    } else {
                        let reason = retry[0].2.to_string();
                        pending = retry.into_iter().map(|(d, i, _)| (d, i)).collect();
                        Some(("OS.ItemRetryable".into(), reason))
                    }
                }
            }
        };
        let Some((code, message)) = retry_all else {
            continue;
        };
        if started.elapsed() >= retry_duration {
            warn!(documents = pending.len(), %code, "OpenSearch still failing after the retry duration: backing up");
            failed.extend(pending.drain(..).map(|(doc, index)| Failed {
                doc,
                index,
                code: code.clone(),
                message: message.clone(),
                attempts: attempt,
            }));
            break;
        }
        let delay = RETRY.delay(attempt);
        warn!(%code, attempt, delay_ms = delay.as_millis() as u64, "OpenSearch bulk failed; retrying");
        tokio::time::sleep(delay.min(retry_duration.saturating_sub(started.elapsed()))).await;
    }
    (indexed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_template_maps_the_index_pattern() {
        let v: Value = serde_json::from_str(INDEX_TEMPLATE).unwrap();
        assert_eq!(v["index_patterns"][0], "social-posts*");
    }
}
