//! The X API v2 filtered stream: rules management and the stream itself.
//!
//! The stream asks for every field and expansion the transform reads and forwards each
//! post byte for byte. Keep-alive newlines are skipped; no bytes for the stall timeout
//! (20 s) is a stall and reconnects. Reconnects follow X's guidance: network errors back
//! off linearly by 250 ms up to 16 s; HTTP errors exponentially from 5 s up to 320 s;
//! 429 from 60 s doubling, or until `x-rate-limit-reset` when that is later. 401, 403 and
//! rule errors are permanent. `operational-disconnect` error objects reconnect at once
//! on the network schedule.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use retry::{Policy, Schedule, Stop, Verdict};

use super::reconnect::{Disconnect, Reconnect, Sleeper};
use crate::record::{Record, Stats};

/// Query string of the stream: the fields and expansions the transform uses.
pub const STREAM_QUERY: &str = "tweet.fields=created_at,lang,author_id,public_metrics,entities,attachments,referenced_tweets,in_reply_to_user_id,conversation_id,geo\
&expansions=author_id,attachments.media_keys,referenced_tweets.id,geo.place_id\
&user.fields=username,name,public_metrics\
&media.fields=type\
&place.fields=full_name,name,country_code,place_type,geo";

/// Why the stream stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum XError {
    /// 401 / 403: the token is wrong or lacks access.
    #[error("X refused the credentials (HTTP {status}): {body}; check the bearer token and the app's access level")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// X's explanation.
        body: String,
    },
    /// The rules were refused.
    #[error("X refused the rules: {0}")]
    Rules(String),
    /// A request could not be made or read.
    #[error("request to X failed: {0}")]
    Http(String),
}

/// One rule as X stores it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XRule {
    /// X's rule id.
    pub id: String,
    /// The query.
    pub value: String,
    /// The tag.
    #[serde(default)]
    pub tag: Option<String>,
}

/// What `rules sync` will change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulesPlan {
    /// (value, tag) to add.
    pub add: Vec<(String, String)>,
    /// Ids of rules to delete.
    pub delete: Vec<XRule>,
    /// Rules already as wanted.
    pub keep: Vec<XRule>,
}

/// Diffs the wanted (value, tag) rules against the server's: add what is missing, delete
/// what is not wanted, keep the rest.
pub fn plan(wanted: &[(String, String)], existing: &[XRule]) -> RulesPlan {
    let mut plan = RulesPlan::default();
    let wanted_set: HashSet<(&str, &str)> = wanted
        .iter()
        .map(|(v, t)| (v.as_str(), t.as_str()))
        .collect();
    let mut kept: HashSet<(&str, &str)> = HashSet::new();
    for rule in existing {
        let key = (rule.value.as_str(), rule.tag.as_deref().unwrap_or(""));
        if wanted_set.contains(&key) && kept.insert(key) {
            plan.keep.push(rule.clone());
        } else {
            plan.delete.push(rule.clone());
        }
    }
    for (v, t) in wanted {
        if !kept.contains(&(v.as_str(), t.as_str())) && !plan.add.contains(&(v.clone(), t.clone()))
        {
            plan.add.push((v.clone(), t.clone()));
        }
    }
    plan
}

/// An X API client.
#[derive(Clone)]
pub struct XClient {
    http: reqwest::Client,
    base: String,
    token: String,
    max_posts: Option<u64>,
}

impl XClient {
    /// A client for `base` (`https://api.x.com`, or a test server) with a bearer token.
    pub fn new(base: &str, token: &str) -> Result<Self, XError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "social-sentiment-producer/",
                env!("CARGO_PKG_VERSION")
            ))
            // The stream has no total timeout (it is meant to stay open); the stall
            // timeout bounds its silence. Rules calls are bounded by the retry helper.
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| XError::Http(e.to_string()))?;
        Ok(XClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            max_posts: None,
        })
    }

    /// Stops the stream after `max` posts (the X spend guard: every post read is billed).
    pub fn max_posts(mut self, max: Option<u64>) -> Self {
        self.max_posts = max.filter(|m| *m > 0);
        self
    }

    fn rules_url(&self) -> String {
        format!("{}/2/tweets/search/stream/rules", self.base)
    }

    /// One rules-API call through the retry helper: transport errors, 429 and 5xx are
    /// tried again for up to 30 s; 401/403 and other answers are final.
    async fn json(&self, req: reqwest::RequestBuilder) -> Result<Value, XError> {
        let policy = Policy::for_duration(
            Schedule::new(Duration::from_millis(500), Duration::from_secs(8)),
            Duration::from_secs(30),
            Duration::from_secs(30),
        );
        let result = retry::run(policy, "x rules API", &Stop::never(), |_| {
            let attempt = req.try_clone().map(|r| r.bearer_auth(&self.token).send());
            async move {
                let Some(sent) = attempt else {
                    return Verdict::Reject(XError::Http(
                        "the request cannot be sent twice".into(),
                    ));
                };
                let resp = match sent.await {
                    Ok(r) => r,
                    Err(e) => return Verdict::Retry(XError::Http(e.to_string())),
                };
                let status = resp.status().as_u16();
                let body = match resp.text().await {
                    Ok(b) => b,
                    Err(e) => return Verdict::Retry(XError::Http(e.to_string())),
                };
                if status == 401 || status == 403 {
                    return Verdict::Reject(XError::Unauthorized { status, body });
                }
                if retry::classify::transient_status(status) {
                    return Verdict::Retry(XError::Http(format!("HTTP {status}: {body}")));
                }
                let Ok(value) = serde_json::from_str::<Value>(&body) else {
                    return Verdict::Reject(XError::Http(format!("HTTP {status}: {body}")));
                };
                if !(200..300).contains(&status) {
                    return Verdict::Reject(XError::Rules(format!("HTTP {status}: {body}")));
                }
                Verdict::Done(value)
            }
        })
        .await;
        match result {
            Ok(s) => Ok(s.value),
            Err(f) => Err(match (f.gave_up_reason(), f.gave_up, f.last) {
                (_, retry::GaveUp::Rejected, Some(e)) => e,
                (reason, _, Some(XError::Http(why))) => XError::Http(format!("{why} ({reason})")),
                (_, _, Some(e)) => e,
                (_, _, None) => XError::Http("no answer within 30 s".into()),
            }),
        }
    }

    /// The rules on the server.
    pub async fn list_rules(&self) -> Result<Vec<XRule>, XError> {
        let v = self.json(self.http.get(self.rules_url())).await?;
        let data = v.get("data").cloned().unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(data).map_err(|e| XError::Http(e.to_string()))
    }

    async fn post_rules(&self, body: Value, dry_run: bool) -> Result<Value, XError> {
        let req = self
            .http
            .post(format!("{}?dry_run={dry_run}", self.rules_url()))
            .json(&body);
        let v = self.json(req).await?;
        if let Some(errors) = v.get("errors").and_then(Value::as_array) {
            if !errors.is_empty() {
                return Err(XError::Rules(Value::Array(errors.clone()).to_string()));
            }
        }
        Ok(v)
    }

    /// Applies a plan: validates it with `dry_run` first, then deletes and adds only what
    /// changed.
    pub async fn apply(&self, plan: &RulesPlan) -> Result<(), XError> {
        let add = json!({"add": plan.add.iter().map(|(v, t)| json!({"value": v, "tag": t})).collect::<Vec<_>>()});
        let delete = json!({"delete": {"ids": plan.delete.iter().map(|r| r.id.clone()).collect::<Vec<_>>()}});
        for dry_run in [true, false] {
            if !plan.delete.is_empty() {
                self.post_rules(delete.clone(), dry_run).await?;
            }
            if !plan.add.is_empty() {
                self.post_rules(add.clone(), dry_run).await?;
            }
        }
        Ok(())
    }

    /// Reads the stream into `tx` until `shutdown` turns true, reconnecting as X asks.
    pub async fn stream(
        &self,
        tx: mpsc::Sender<Record>,
        stats: Arc<Stats>,
        stall: Duration,
        sleeper: Sleeper,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), XError> {
        let url = format!("{}/2/tweets/search/stream?{}", self.base, STREAM_QUERY);
        let mut schedule = Reconnect::default();
        let mut read = 0u64;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let why = tokio::select! {
                r = self.connect_once(&url, &tx, &stats, stall, &mut schedule, &mut read) => r?,
                _ = shutdown.changed() => return Ok(()),
            };
            let Some(why) = why else { return Ok(()) };
            Stats::add(&stats.reconnects, 1);
            let wait = schedule.next(why);
            info!(
                ?why,
                wait_ms = wait.as_millis() as u64,
                "x stream disconnected; reconnecting"
            );
            tokio::select! {
                _ = sleeper.sleep(wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// One connection; `Ok(None)` when the queue closed, `Ok(Some(why))` to reconnect.
    async fn connect_once(
        &self,
        url: &str,
        tx: &mpsc::Sender<Record>,
        stats: &Stats,
        stall: Duration,
        schedule: &mut Reconnect,
        read: &mut u64,
    ) -> Result<Option<Disconnect>, XError> {
        let resp = match self.http.get(url).bearer_auth(&self.token).send().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "x stream: connection failed");
                return Ok(Some(Disconnect::Network));
            }
        };
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let body = resp.text().await.unwrap_or_default();
            return Err(XError::Unauthorized { status, body });
        }
        if status == 429 {
            let reset_in = resp
                .headers()
                .get("x-rate-limit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .map(|epoch| {
                    let now = chrono::Utc::now().timestamp();
                    Duration::from_secs(u64::try_from(epoch - now).unwrap_or(0))
                });
            return Ok(Some(Disconnect::RateLimited { reset_in }));
        }
        if !(200..300).contains(&status) {
            let body = resp.text().await.unwrap_or_default();
            if status == 400 || status == 409 {
                // Rule problems (e.g. "no rules") will not fix themselves.
                if body.contains("rule") || body.contains("Rule") {
                    return Err(XError::Rules(format!("HTTP {status}: {body}")));
                }
            }
            warn!(status, body = %body, "x stream: HTTP error");
            return Ok(Some(Disconnect::Http));
        }
        info!("x stream connected");
        let mut body = resp.bytes_stream();
        let mut line: Vec<u8> = Vec::new();
        loop {
            let chunk = match tokio::time::timeout(stall, body.next()).await {
                Err(_) => {
                    warn!(stall_s = stall.as_secs_f64(), "x stream stalled");
                    return Ok(Some(Disconnect::Network));
                }
                Ok(None) => return Ok(Some(Disconnect::Network)),
                Ok(Some(Err(e))) => {
                    warn!(error = %e, "x stream: read failed");
                    return Ok(Some(Disconnect::Network));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let mut rest: &[u8] = &chunk;
            while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&rest[..pos]);
                rest = &rest[pos + 1..];
                let payload = std::mem::take(&mut line);
                let trimmed = payload.strip_suffix(b"\r").unwrap_or(&payload);
                if trimmed.iter().all(u8::is_ascii_whitespace) {
                    debug!("keep-alive");
                    continue;
                }
                match classify(trimmed) {
                    Line::Post(tags) => {
                        schedule.reset();
                        let mut record = Record::new(trimmed.to_vec());
                        record.tags = tags;
                        Stats::add(&stats.received, 1);
                        if tx.send(record).await.is_err() {
                            return Ok(None);
                        }
                        *read += 1;
                        if self.max_posts.is_some_and(|max| *read >= max) {
                            warn!(
                                posts = *read,
                                "x stream: --max-posts reached; stopping (X bills every post read)"
                            );
                            return Ok(None);
                        }
                    }
                    Line::OperationalDisconnect(detail) => {
                        warn!(%detail, "x stream: operational disconnect");
                        return Ok(Some(Disconnect::Network));
                    }
                    Line::Other(detail) => {
                        Stats::add(&stats.skipped, 1);
                        warn!(%detail, "x stream: message without a post");
                    }
                }
            }
            line.extend_from_slice(rest);
        }
    }
}

enum Line {
    Post(Vec<String>),
    OperationalDisconnect(String),
    Other(String),
}

fn classify(line: &[u8]) -> Line {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(default)]
        data: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        matching_rules: Vec<Tag>,
        #[serde(default)]
        errors: Vec<Value>,
    }
    #[derive(Deserialize)]
    struct Tag {
        #[serde(default)]
        tag: Option<String>,
    }
    match serde_json::from_slice::<Peek>(line) {
        Ok(p) if p.data.is_some() => {
            Line::Post(p.matching_rules.into_iter().filter_map(|t| t.tag).collect())
        }
        Ok(p) => {
            let text = Value::Array(p.errors.clone()).to_string();
            if p.errors
                .iter()
                .any(|e| e.get("title").and_then(Value::as_str) == Some("operational-disconnect"))
            {
                Line::OperationalDisconnect(text)
            } else {
                Line::Other(text)
            }
        }
        Err(e) => Line::Other(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_plan_adds_and_deletes_only_what_changed() {
        let existing = vec![
            XRule {
                id: "1".into(),
                value: "cat has:images".into(),
                tag: Some("cats".into()),
            },
            XRule {
                id: "2".into(),
                value: "dog".into(),
                tag: Some("dogs".into()),
            },
            XRule {
                id: "3".into(),
                value: "cat has:images".into(),
                tag: Some("cats".into()),
            },
        ];
        let wanted = vec![
            ("cat has:images".to_string(), "cats".to_string()),
            ("dog has:images".to_string(), "dogs".to_string()),
        ];
        let p = plan(&wanted, &existing);
        assert_eq!(
            p.add,
            vec![("dog has:images".to_string(), "dogs".to_string())]
        );
        assert_eq!(
            p.delete.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["2", "3"]
        );
        assert_eq!(p.keep.len(), 1);
        assert_eq!(plan(&wanted, &[]).add.len(), 2);
    }

    #[test]
    fn stream_lines_are_classified() {
        assert!(
            matches!(classify(br#"{"data":{"id":"1"},"matching_rules":[{"id":"9","tag":"cats"}]}"#), Line::Post(t) if t == ["cats"])
        );
        assert!(matches!(
            classify(br#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect"}]}"#),
            Line::OperationalDisconnect(_)
        ));
        assert!(matches!(
            classify(br#"{"errors":[{"title":"ConnectionException"}]}"#),
            Line::Other(_)
        ));
        assert!(matches!(classify(b"garbage"), Line::Other(_)));
    }
}
