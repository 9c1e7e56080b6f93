//! Where the backup is: an S3 bucket (any S3-compatible endpoint) or a directory laid out
//! like one. Writes are whole objects or nothing, under a name nothing else has: in a
//! directory, a temporary file written and synced, then hard-linked to its name (which
//! fails if the name exists) and removed; in S3, `PutObject` with `If-None-Match: *`.
//! [`Writer`] names the objects and retries failed writes for a bounded time through the
//! workspace's retry helper.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use retry::{GaveUp, Policy, Schedule, Stop, Verdict};
use serde::Serialize;

use crate::records::{parse, Failed};
use crate::{layout, BackupError};

/// Where the backup is.
pub enum Store {
    /// A directory laid out like the bucket.
    Dir(PathBuf),
    /// An S3 bucket.
    S3 {
        /// The client (endpoint overridable).
        client: aws_sdk_s3::Client,
        /// The bucket.
        bucket: String,
        /// The endpoint it was built with (`None`: AWS), to tell two stores apart.
        endpoint: Option<String>,
    },
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Dir(dir) => write!(f, "{}", dir.display()),
            Store::S3 {
                bucket, endpoint, ..
            } => match endpoint {
                Some(e) => write!(f, "s3://{bucket} at {e}"),
                None => write!(f, "s3://{bucket}"),
            },
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn s3_error<E>(
    operation: &'static str,
    target: String,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> BackupError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    const TRANSIENT: [&str; 5] = [
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "ConditionalRequestConflict",
    ];
    let code = e.code().map(str::to_string);
    let status = e.raw_response().map(|r| r.status().as_u16());
    BackupError::S3 {
        operation,
        target,
        transient: retry::classify::transient_aws(code.as_deref(), status, &TRANSIENT),
        message: DisplayErrorContext(e).to_string(),
    }
}

impl Store {
    /// Whether `other` is the same place (the same directory, whatever the spelling; the
    /// same bucket at the same endpoint).
    pub fn same_as(&self, other: &Store) -> bool {
        match (self, other) {
            (Store::Dir(a), Store::Dir(b)) => same_dir(a, b),
            (
                Store::S3 {
                    bucket: a,
                    endpoint: ea,
                    ..
                },
                Store::S3 {
                    bucket: b,
                    endpoint: eb,
                    ..
                },
            ) => a == b && ea == eb,
            _ => false,
        }
    }

    /// Writes `body` at `key` if nothing is there: the whole object, or nothing.
    pub async fn put_new(&self, key: &str, body: &[u8]) -> Result<(), BackupError> {
        match self {
            Store::Dir(dir) => {
                let path = dir.join(key);
                let body = body.to_vec();
                tokio::task::spawn_blocking(move || write_new(&path, &body))
                    .await
                    .map_err(|e| BackupError::Io {
                        path: key.to_string(),
                        source: std::io::Error::other(e),
                    })?
            }
            Store::S3 { client, bucket, .. } => {
                let result = client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .if_none_match("*")
                    .body(ByteStream::from(body.to_vec()))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == Some("PreconditionFailed") => {
                        Err(BackupError::Exists(format!("s3://{bucket}/{key}")))
                    }
                    Err(e) => Err(s3_error("PutObject", format!("s3://{bucket}/{key}"), e)),
                }
            }
        }
    }

    /// The keys under `prefix`, sorted.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, BackupError> {
        let mut keys = Vec::new();
        match self {
            Store::Dir(root) => {
                let start = root.join(prefix);
                match std::fs::metadata(root) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(io(root)(std::io::Error::other("not a directory"))),
                    Err(e) => return Err(io(root)(e)),
                }
                let mut files = Vec::new();
                walk(&start, &mut files).map_err(io(&start))?;
                for f in files {
                    let key = f
                        .strip_prefix(root)
                        .unwrap_or(&f)
                        .to_string_lossy()
                        .replace('\\', "/");
                    keys.push(key);
                }
            }
            Store::S3 { client, bucket, .. } => {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        s3_error("ListObjectsV2", format!("s3://{bucket}/{prefix}"), e)
                    })?;
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(String::from)),
                    );
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BackupError> {
        match self {
            Store::Dir(root) => {
                let path = root.join(key);
                std::fs::read(&path).map_err(io(&path))
            }
            Store::S3 { client, bucket, .. } => {
                let target = format!("s3://{bucket}/{key}");
                let obj = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| s3_error("GetObject", target.clone(), e))?;
                let body = obj.body.collect().await.map_err(|e| BackupError::S3 {
                    operation: "GetObject",
                    target,
                    transient: true,
                    message: e.to_string(),
                })?;
                Ok(body.into_bytes().to_vec())
            }
        }
    }

    /// Every failed record under `prefix` (e.g. `processing-failed/`), in key order.
    pub async fn read(&self, prefix: &str) -> Result<Vec<Failed>, BackupError> {
        let mut out = Vec::new();
        for key in self.keys(prefix).await? {
            let body = self.get(&key).await?;
            out.extend(parse(&key, &String::from_utf8_lossy(&body))?);
        }
        Ok(out)
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        // One does not exist yet: compare what the paths would resolve to.
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

/// Files below `dir` (none when it does not exist), skipping temporary files (`.NAME`).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if e.file_type()?.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Writes `body` to a synced temporary file beside `path`, then links it to `path`
/// (failing when `path` exists) and removes the temporary name.
fn write_new(path: &Path, body: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            // The new name is durable once the directory is.
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::Exists(path.display().to_string()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// The time a failed backup write is retried by default.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(30);

/// Writes backup objects for one delivery stream.
pub struct Writer {
    store: Store,
    stream: String,
    policy: Policy,
}

impl Writer {
    /// A writer into `store` for the stream `stream`, retrying a failed write for 30 s.
    pub fn new(store: Store, stream: &str) -> Self {
        Writer {
            store,
            stream: stream.to_string(),
            policy: Policy::for_duration(
                Schedule::new(Duration::from_millis(200), Duration::from_secs(5)),
                DEFAULT_RETRY,
                Duration::from_secs(60),
            ),
        }
    }

    /// The same writer, retrying failed writes for `total`.
    pub fn retrying_for(mut self, total: Duration) -> Self {
        self.policy.total = Some(total);
        self
    }

    /// Where it writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Writes `lines` as JSON lines under `prefix`; returns the new object's key.
    pub async fn write<T: Serialize>(
        &self,
        prefix: &str,
        lines: &[T],
        stop: &Stop,
    ) -> Result<String, BackupError> {
        let mut body = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut body, l).map_err(|e| BackupError::Io {
                path: prefix.to_string(),
                source: std::io::Error::other(e),
            })?;
            body.push(b'\n');
        }
        self.put(prefix, body, stop).await
    }

    /// Writes `body` (NDJSON) as a new object under `prefix`; returns its key. A failed
    /// write is retried (under a new name, so a write that half-happened is never
    /// completed twice) until the writer's time is up or `stop` fires.
    pub async fn put(
        &self,
        prefix: &str,
        body: Vec<u8>,
        stop: &Stop,
    ) -> Result<String, BackupError> {
        let what = format!("backup write under {prefix} in {}", self.store);
        let result = retry::run(self.policy, &what, stop, |_| {
            let key = layout::key(prefix, &self.stream, chrono::Utc::now().timestamp_millis());
            let body = &body;
            async move {
                match self.store.put_new(&key, body).await {
                    Ok(()) => Verdict::Done(key),
                    // Another writer has this very name: try a new one.
                    Err(e @ BackupError::Exists(_)) => Verdict::Retry(e),
                    Err(
                        e @ BackupError::S3 {
                            transient: false, ..
                        },
                    ) => Verdict::Reject(e),
                    Err(e) => Verdict::Retry(e),
                }
            }
        })
        .await;
        match result {
            Ok(s) => Ok(s.value),
            Err(f) if f.gave_up == GaveUp::Rejected => Err(f.last.unwrap_or(BackupError::GaveUp {
                what,
                failure: "rejected".into(),
            })),
            Err(f) => Err(BackupError::GaveUp {
                what,
                failure: f.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("backup-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test(flavor = "current_thread")]
    async fn directory_writes_are_whole_new_and_read_back_in_order() {
        let dir = temp("dir");
        let store = Store::Dir(dir.clone());
        store
            .put_new(
                "processing-failed/2024/01/01/00/b",
                b"{\"rawData\":\"eA==\"}\n",
            )
            .await
            .unwrap();
        store
            .put_new(
                "processing-failed/2024/01/01/00/a",
                b"{\"rawData\":\"eQ==\"}\n",
            )
            .await
            .unwrap();
        let e = store
            .put_new("processing-failed/2024/01/01/00/a", b"other")
            .await
            .unwrap_err();
        assert!(matches!(e, BackupError::Exists(_)), "{e}");
        assert_eq!(
            store
                .get("processing-failed/2024/01/01/00/a")
                .await
                .unwrap(),
            b"{\"rawData\":\"eQ==\"}\n"
        );
        // A temporary file left by a crash is not an object.
        std::fs::write(dir.join("processing-failed/2024/01/01/00/.c.tmp"), "half").unwrap();
        let keys = store.keys("processing-failed/").await.unwrap();
        assert_eq!(
            keys,
            [
                "processing-failed/2024/01/01/00/a",
                "processing-failed/2024/01/01/00/b"
            ]
        );
        let records = store.read("processing-failed/").await.unwrap();
        assert_eq!(
            records.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
            [b"y".to_vec(), b"x".to_vec()]
        );
        assert!(store
            .keys("AmazonOpenSearchService-failed/")
            .await
            .unwrap()
            .is_empty());
        let missing = Store::Dir(dir.join("nowhere"));
        assert!(missing.keys("processing-failed/").await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_writer_names_objects_uniquely() {
        let dir = temp("writer");
        let writer = Writer::new(Store::Dir(dir.clone()), "social-posts");
        let mut keys = std::collections::HashSet::new();
        for _ in 0..50 {
            let key = writer
                .write(
                    "processing-failed/",
                    &[serde_json::json!({"rawData": "eA=="})],
                    &Stop::never(),
                )
                .await
                .unwrap();
            assert!(
                key.starts_with("processing-failed/") && key.contains("/social-posts-1-"),
                "{key}"
            );
            keys.insert(key);
        }
        assert_eq!(keys.len(), 50);
        assert_eq!(
            writer
                .store()
                .read("processing-failed/")
                .await
                .unwrap()
                .len(),
            50
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_directory_is_recognised_whatever_the_spelling() {
        let dir = temp("same");
        std::fs::create_dir_all(dir.join("s3")).unwrap();
        let a = Store::Dir(dir.join("s3"));
        let b = Store::Dir(dir.join("s3/../s3/."));
        assert!(a.same_as(&b));
        assert!(!a.same_as(&Store::Dir(dir.clone())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
