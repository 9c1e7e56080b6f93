//! Mastodon: public posts from an instance's streaming API, free with an access token
//! (any account's; `read:statuses`).
//!
//! One server-sent-events connection per hashtag of the rules file
//! (`/api/v1/streaming/hashtag?tag=…`: each rule's `hashtags`, else its one-word
//! `keywords`), or one on the public timeline (`/api/v1/streaming/public`, every public
//! post the instance knows, matched locally). Each `update` event's status is mapped into
//! the transform's post shape (`source: "mastodon"`, its HTML content turned into text by
//! `html2text`), tagged by the rules whose hashtags it carries or whose keywords / regex
//! its text matches; a status two hashtag streams deliver goes once.
//!
//! Resume: Mastodon's streaming server sends no event ids, so a reconnect (and a restart,
//! from the cursor file, written only with ids Firehose accepted) first reads what was
//! posted meanwhile from the REST timeline (`/api/v1/timelines/tag/…?min_id=`, oldest
//! first, up to `backfill_max` statuses); a server that does send ids also gets
//! `Last-Event-ID`. Reconnects back off as on X: 250 ms steps on network errors, from
//! 5 s doubling on HTTP errors, 60 s on 429; 401 / 403 (a bad token) end the run.
//! `eventsource-stream` parses the event stream (comments, multi-line data, ids).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use html2text::render::TrivialDecorator;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::reconnect::{Disconnect, Reconnect, Sleeper};
use crate::record::{Record, Stats};
use crate::rules::{LocalMatcher, RuleSet};

/// The instance used when none is given.
pub const DEFAULT_URL: &str = "https://mastodon.social";

/// Statuses remembered to drop the second copy of one several streams deliver.
const SEEN: usize = 10_000;

/// Why the Mastodon source stopped.
#[derive(Debug, thiserror::Error)]
pub enum MastodonError {
    /// The instance refused the token.
    #[error("{url} refused the access token (HTTP {status}): check MASTODON_ACCESS_TOKEN and its read:statuses scope")]
    Unauthorized {
        /// The instance.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// The client could not be built.
    #[error("mastodon client: {0}")]
    Client(String),
}

/// Which timeline to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timeline {
    /// One stream per hashtag (the rules' hashtags).
    Hashtags(Vec<String>),
    /// The public timeline, matched locally.
    Public,
}

impl Timeline {
    /// The streams to open: (streaming path and query, REST timeline path).
    fn streams(&self) -> Vec<(String, String)> {
        match self {
            Timeline::Public => vec![(
                "/api/v1/streaming/public".into(),
                "/api/v1/timelines/public".into(),
            )],
            Timeline::Hashtags(tags) => tags
                .iter()
                .map(|t| {
                    (
                        format!("/api/v1/streaming/hashtag?tag={t}"),
                        format!("/api/v1/timelines/tag/{t}"),
                    )
                })
                .collect(),
        }
    }
}

/// The hashtags a rules file asks for, lowercased, each once: every rule's `hashtags`, or
/// its keywords that are one word (a hashtag cannot hold a space).
pub fn hashtags(set: &RuleSet) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rule in &set.rules {
        for tag in rule.mastodon_hashtags() {
            if !tag.is_empty()
                && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !out.contains(&tag)
            {
                out.push(tag);
            }
        }
    }
    out
}

/// Tags statuses: by the hashtags they carry, or by the local matcher on their text.
#[derive(Debug, Clone)]
pub struct Tagger {
    by_hashtag: Vec<(String, Vec<String>)>,
    matcher: Option<LocalMatcher>,
}

impl Tagger {
    /// The tagger of a rules file.
    pub fn new(set: &RuleSet) -> Tagger {
        let by_hashtag = set
            .rules
            .iter()
            .map(|r| (r.tag.clone(), r.mastodon_hashtags()))
            .collect();
        Tagger {
            by_hashtag,
            matcher: LocalMatcher::new(set).ok(),
        }
    }

    /// The rule tags of a status with these hashtags and text, in rule order.
    fn tags(&self, hashtags: &[String], text: &str) -> Vec<String> {
        let matched: Vec<&str> = self
            .matcher
            .as_ref()
            .map(|m| m.matches(text))
            .unwrap_or_default();
        self.by_hashtag
            .iter()
            .filter(|(tag, words)| {
                matched.contains(&tag.as_str()) || hashtags.iter().any(|h| words.contains(h))
            })
            .map(|(tag, _)| tag.clone())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    uri: String,
    created_at: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    reblog: Option<Value>,
    #[serde(default)]
    in_reply_to_account_id: Option<String>,
    #[serde(default)]
    replies_count: u64,
    #[serde(default)]
    reblogs_count: u64,
    #[serde(default)]
    favourites_count: u64,
    #[serde(default)]
    tags: Vec<Tag>,
    account: Account,
}

#[derive(Debug, Deserialize)]
struct Tag {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Account {
    id: String,
    #[serde(default)]
    acct: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    followers_count: Option<u64>,
}

/// A status's HTML content as text: paragraphs and line breaks as newlines, links as
/// their text, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let text = html2text::config::with_decorator(TrivialDecorator::new())
        .no_link_wrapping()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), 100_000)
        .unwrap_or_else(|_| html.to_string());
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Maps a status (an `update` event's data) into a post record, when it is a public,
/// original post a rule tags. `None` for the rest (reblogs, other visibilities, untagged
/// posts, what is not a status).
pub fn map_status(status: &str, tagger: &Tagger) -> Option<Record> {
    to_record(serde_json::from_str(status).ok()?, tagger)
}

/// [`map_status`] of a status already read.
fn to_record(s: Status, tagger: &Tagger) -> Option<Record> {
    if s.reblog.is_some() || s.visibility.as_deref().is_some_and(|v| v != "public") {
        return None;
    }
    let mut text = html_to_text(&s.content);
    if !s.spoiler_text.is_empty() {
        text = format!("{}\n{text}", s.spoiler_text);
    }
    let hashtags: Vec<String> = s.tags.iter().map(|t| t.name.to_lowercase()).collect();
    let tags = tagger.tags(&hashtags, &text);
    if tags.is_empty() {
        return None;
    }
    let mut data = json!({
        "id": s.uri,
        "text": text,
        "author_id": s.account.id,
        "public_metrics": {"like_count": s.favourites_count, "retweet_count": s.reblogs_count,
                           "reply_count": s.replies_count, "quote_count": 0},
        "entities": {"hashtags": hashtags.iter().map(|h| json!({"tag": h})).collect::<Vec<_>>()},
    });
    for (key, value) in [
        ("created_at", s.created_at),
        ("lang", s.language),
        ("in_reply_to_user_id", s.in_reply_to_account_id),
    ] {
        if let Some(v) = value {
            data[key] = json!(v);
        }
    }
    let mut user = json!({"id": s.account.id});
    if let Some(acct) = s.account.acct {
        user["username"] = json!(acct);
    }
    if let Some(name) = s.account.display_name.filter(|n| !n.is_empty()) {
        user["name"] = json!(name);
    }
    if let Some(n) = s.account.followers_count {
        user["public_metrics"] = json!({"followers_count": n});
    }
    let rules: Vec<Value> = tags
        .iter()
        .map(|t| json!({"id": format!("local-{t}"), "tag": t}))
        .collect();
    let payload = json!({
        "source": "mastodon",
        "data": data,
        "includes": {"users": [user]},
        "matching_rules": rules,
    });
    let mut record = Record::new(payload.to_string().into_bytes());
    record.cursor = s.id.parse().ok();
    record.tags = tags;
    Some(record)
}

/// Where the streams are and how they are read.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// The instance, e.g. `https://mastodon.social`.
    pub url: String,
    /// The access token.
    pub token: String,
    /// The timeline(s).
    pub timeline: Timeline,
    /// How the statuses are tagged.
    pub tagger: Tagger,
    /// Seconds without a byte (heartbeats included) before a stream counts as stalled.
    pub stall: Duration,
    /// At most this many statuses are read back from the REST timeline per (re)connect.
    pub backfill_max: usize,
}

/// What the streams share: the ids read lately.
#[derive(Default)]
struct Shared {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Shared {
    /// True the first time `id` is offered.
    fn first(&mut self, id: &str) -> bool {
        if !self.seen.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        if self.order.len() > SEEN {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// Reads the timelines into `tx` until `shutdown` turns true, the queue closes, or the
/// token is refused. `cursor`: the last status id delivered (from the cursor file); the
/// first connection reads what came after it from the REST timeline.
pub async fn stream(
    config: MastodonConfig,
    cursor: Option<u64>,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    sleeper: Sleeper,
    shutdown: watch::Receiver<bool>,
) -> Result<(), MastodonError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!(
            "social-sentiment-producer/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| MastodonError::Client(e.to_string()))?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let config = Arc::new(config);
    let tasks: Vec<_> = config
        .timeline
        .streams()
        .into_iter()
        .map(|(streaming, rest)| {
            let one = One {
                client: client.clone(),
                config: Arc::clone(&config),
                shared: Arc::clone(&shared),
                tx: tx.clone(),
                stats: Arc::clone(&stats),
                streaming,
                rest,
                cursor,
                newest: AtomicU64::new(cursor.unwrap_or(0)),
            };
            tokio::spawn(one.run(sleeper.clone(), shutdown.clone()))
        })
        .collect();
    drop(tx);
    let mut result = Ok(());
    for t in tasks {
        match t.await {
            Ok(Err(e)) => result = Err(e),
            Ok(Ok(())) => {}
            Err(e) => result = Err(MastodonError::Client(format!("stream task: {e}"))),
        }
    }
    result
}

/// One stream and its REST timeline.
struct One {
    client: reqwest::Client,
    config: Arc<MastodonConfig>,
    shared: Arc<Mutex<Shared>>,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    streaming: String,
    rest: String,
    /// The cursor file's id: statuses up to it were delivered before this run.
    cursor: Option<u64>,
    /// The highest status id this stream has read (0: none): a gap in it is read back
    /// from there (another stream may be further on).
    newest: AtomicU64,
}

/// How one connection ended.
enum Ended {
    /// Reconnect after this kind of wait.
    Again(Disconnect),
    /// Stop: shutdown, or the queue closed.
    Stop,
}

impl One {
    async fn run(
        self,
        sleeper: Sleeper,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), MastodonError> {
        let mut since = self.cursor;
        let mut schedule = Reconnect::default();
        let mut last_event_id: Option<String> = None;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let ended = tokio::select! {
                e = self.connection(since, &mut last_event_id, &mut schedule) => e?,
                _ = shutdown.changed() => Ended::Stop,
            };
            let why = match ended {
                Ended::Stop => return Ok(()),
                Ended::Again(why) => why,
            };
            since = self.newest();
            Stats::add(&self.stats.reconnects, 1);
            let wait = schedule.next(why);
            info!(stream = %self.streaming, wait_ms = wait.as_millis() as u64, "mastodon: reconnecting");
            tokio::select! {
                _ = sleeper.sleep(wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    fn newest(&self) -> Option<u64> {
        Some(self.newest.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.config.url.trim_end_matches('/')))
            .bearer_auth(&self.config.token)
    }

    /// Refuses the run on 401 / 403; other statuses reconnect.
    fn check(&self, status: reqwest::StatusCode) -> Result<Option<Disconnect>, MastodonError> {
        match status.as_u16() {
            200..=299 => Ok(None),
            401 | 403 => Err(MastodonError::Unauthorized {
                url: self.config.url.clone(),
                status: status.as_u16(),
            }),
            429 => Ok(Some(Disconnect::RateLimited { reset_in: None })),
            _ => Ok(Some(Disconnect::Http)),
        }
    }

    /// One connection: open the stream, read back what came since `since`, then read the
    /// stream until it ends.
    async fn connection(
        &self,
        since: Option<u64>,
        last_event_id: &mut Option<String>,
        schedule: &mut Reconnect,
    ) -> Result<Ended, MastodonError> {
        let mut request = self
            .get(&self.streaming)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id.as_deref() {
            request = request.header("last-event-id", id);
        }
        info!(stream = %self.streaming, since, "mastodon: connecting");
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, stream = %self.streaming, "mastodon: connection failed");
                return Ok(Ended::Again(Disconnect::Network));
            }
        };
        if let Some(why) = self.check(response.status())? {
            warn!(status = response.status().as_u16(), stream = %self.streaming, "mastodon: the stream answered an error");
            return Ok(Ended::Again(why));
        }
        // Connected: what was posted before the stream started comes from the timeline.
        if let Some(since) = since {
            match self.backfill(since).await? {
                Some(Ended::Stop) => return Ok(Ended::Stop),
                Some(again) => return Ok(again),
                None => {}
            }
        }
        let mut events = response.bytes_stream().eventsource();
        loop {
            let event = match tokio::time::timeout(self.config.stall, events.next()).await {
                Err(_) => {
                    warn!(stream = %self.streaming, stall_secs = self.config.stall.as_secs(), "mastodon: the stream stalled");
                    return Ok(Ended::Again(Disconnect::Network));
                }
                Ok(None) => {
                    info!(stream = %self.streaming, "mastodon: the stream ended");
                    return Ok(Ended::Again(Disconnect::Network));
                }
                Ok(Some(Err(e))) => {
                    warn!(error = %e, stream = %self.streaming, "mastodon: the stream broke");
                    return Ok(Ended::Again(Disconnect::Network));
                }
                Ok(Some(Ok(event))) => event,
            };
            schedule.reset();
            if !event.id.is_empty() {
                *last_event_id = Some(event.id.clone());
            }
            if event.event != "update" {
                debug!(event = %event.event, "mastodon: event skipped");
                continue;
            }
            if !self
                .offer(serde_json::from_str(&event.data).ok(), false)
                .await
            {
                return Ok(Ended::Stop);
            }
        }
    }

    /// Reads the REST timeline from `since` on, oldest first; `None` when done.
    async fn backfill(&self, since: u64) -> Result<Option<Ended>, MastodonError> {
        let mut min_id = since;
        let mut read = 0usize;
        while read < self.config.backfill_max {
            let limit = (self.config.backfill_max - read).min(40);
            let page = self
                .get(&self.rest)
                .query(&[("min_id", min_id.to_string()), ("limit", limit.to_string())])
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %e, timeline = %self.rest, "mastodon: cannot read back the timeline");
                    return Ok(Some(Ended::Again(Disconnect::Network)));
                }
            };
            if let Some(why) = self.check(page.status())? {
                warn!(status = page.status().as_u16(), timeline = %self.rest, "mastodon: the timeline answered an error");
                return Ok(Some(Ended::Again(why)));
            }
            let Ok(statuses) = page.json::<Vec<Value>>().await else {
                warn!(timeline = %self.rest, "mastodon: the timeline answered something else than statuses");
                return Ok(Some(Ended::Again(Disconnect::Http)));
            };
            if statuses.is_empty() {
                return Ok(None);
            }
            // A page after `min_id` comes newest first.
            let mut statuses: Vec<(u64, Option<Status>)> = statuses
                .into_iter()
                .filter_map(|s| Some((s["id"].as_str()?.parse().ok()?, s)))
                .map(|(id, s)| (id, serde_json::from_value(s).ok()))
                .collect();
            statuses.sort_by_key(|(id, _)| *id);
            for (id, s) in statuses {
                min_id = min_id.max(id);
                read += 1;
                if !self.offer(s, true).await {
                    return Ok(Some(Ended::Stop));
                }
            }
        }
        warn!(timeline = %self.rest, read, "mastodon: read back as many statuses as --backfill-max allows; older ones in the gap are not read");
        Ok(None)
    }

    /// Sends a status on, once (`backfilled`: read back from the timeline; `None`: not a
    /// status); false when the queue is closed.
    async fn offer(&self, status: Option<Status>, backfilled: bool) -> bool {
        let Some(status) = status else {
            Stats::add(&self.stats.skipped, 1);
            return true;
        };
        if let Ok(n) = status.id.parse::<u64>() {
            self.newest.fetch_max(n, Ordering::Relaxed);
            if self.cursor.is_some_and(|c| n <= c) {
                debug!(id = n, "mastodon: delivered before this run; skipped");
                Stats::add(&self.stats.skipped, 1);
                return true;
            }
        }
        let first = match self.shared.lock() {
            Ok(mut shared) => shared.first(&status.id),
            Err(_) => true,
        };
        if !first {
            debug!(id = %status.id, "mastodon: a second copy; skipped");
            Stats::add(&self.stats.duplicates, 1);
            return true;
        }
        match to_record(status, &self.config.tagger) {
            Some(record) => {
                Stats::add(&self.stats.received, 1);
                if backfilled {
                    Stats::add(&self.stats.backfilled, 1);
                }
                self.tx.send(record).await.is_ok()
            }
            None => {
                Stats::add(&self.stats.skipped, 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::parse(
            r##"{"rules":[{"tag":"cats","keywords":["cat","cats","kitty cat"]},{"tag":"dogs","hashtags":["#DogsOfMastodon"],"keywords":["dog"]}]}"##,
        )
        .unwrap()
    }

    #[test]
    fn the_hashtags_are_the_rules_hashtags_or_one_word_keywords() {
        assert_eq!(hashtags(&rules()), ["cat", "cats", "dogsofmastodon"]);
    }

    #[test]
    fn html_content_becomes_text() {
        let html = r#"<p>My <a href="https://mastodon.social/tags/cats" class="mention hashtag" rel="tag">#<span>cats</span></a> &amp; I say hi<br>to <span class="h-card"><a href="https://x.y/@bob" class="u-url mention">@<span>bob</span></a></span></p><p>Second &lt;para&gt;</p>"#;
        assert_eq!(
            html_to_text(html),
            "My #cats & I say hi\nto @bob\n\nSecond <para>"
        );
    }

    #[test]
    fn a_status_maps_into_the_transform_shape() {
        let status = json!({
            "id": "113000000000000001", "uri": "https://example.social/users/ann/statuses/1",
            "created_at": "2026-12-01T10:00:00.000Z", "language": "en", "visibility": "public",
            "content": "<p>Look at this <a href=\"https://example.social/tags/DogsOfMastodon\" class=\"mention hashtag\">#<span>DogsOfMastodon</span></a></p>",
            "spoiler_text": "", "reblog": null, "replies_count": 2, "reblogs_count": 3, "favourites_count": 4,
            "tags": [{"name": "dogsofmastodon", "url": "https://example.social/tags/dogsofmastodon"}],
            "account": {"id": "42", "acct": "ann@example.social", "display_name": "Ann", "followers_count": 7}
        });
        let tagger = Tagger::new(&rules());
        let rec = map_status(&status.to_string(), &tagger).unwrap();
        let v: Value = serde_json::from_slice(&rec.data).unwrap();
        assert_eq!(v["source"], "mastodon");
        assert_eq!(
            v["data"]["id"],
            "https://example.social/users/ann/statuses/1"
        );
        assert_eq!(v["data"]["text"], "Look at this #DogsOfMastodon");
        assert_eq!(v["data"]["public_metrics"]["like_count"], 4);
        assert_eq!(
            v["data"]["entities"]["hashtags"][0]["tag"],
            "dogsofmastodon"
        );
        assert_eq!(v["includes"]["users"][0]["username"], "ann@example.social");
        assert_eq!(rec.tags, ["dogs"]);
        assert_eq!(rec.cursor, Some(113000000000000001));
        let post: transform::StreamPost = serde_json::from_slice(&rec.data).unwrap();
        assert_eq!(post.data.lang.as_deref(), Some("en"));

        // Reblogs, other visibilities and untagged statuses are not posts to send.
        for (key, value) in [
            ("reblog", json!({"id": "1"})),
            ("visibility", json!("unlisted")),
            ("tags", json!([])),
        ] {
            let mut other = status.clone();
            other[key] = value;
            if key == "tags" {
                other["content"] = json!("<p>birds</p>");
            }
            assert!(map_status(&other.to_string(), &tagger).is_none(), "{key}");
        }
        assert!(map_status("not json", &tagger).is_none());
    }

    #[test]
    fn a_status_is_first_once() {
        let mut s = Shared::default();
        assert!(s.first("5"));
        assert!(!s.first("5"));
        assert!(s.first("3"));
    }
}
