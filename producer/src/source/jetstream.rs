//! Bluesky Jetstream: public posts over a websocket, no account needed.
//!
//! Subscribes to `app.bsky.feed.post`, matches each new post's text against the local
//! rules, and maps matching posts into the transform's post shape (`source: "bluesky"`,
//! `data`, `includes.users`, `matching_rules`). Each record carries the event's
//! `time_us`; the cursor file is written only with the `time_us` of posts Firehose has
//! accepted, so a restart resumes from there with no gap, and events at or before the
//! cursor are skipped, so with no duplicate. Reconnects back off like network errors on
//! X (linear, 250 ms steps, up to 16 s), resuming from the last event received.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use super::reconnect::{Disconnect, Reconnect, Sleeper};
use crate::record::{Record, Stats};
use crate::rules::LocalMatcher;

/// The public Jetstream endpoint.
pub const DEFAULT_URL: &str = "wss://jetstream2.us-east.bsky.network/subscribe";

/// A Jetstream event (only what we read).
#[derive(Debug, Deserialize)]
struct Event {
    did: String,
    time_us: u64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    #[serde(default)]
    record: Option<PostRecord>,
}

#[derive(Debug, Deserialize)]
struct PostRecord {
    #[serde(default)]
    text: String,
    #[serde(default, rename = "createdAt")]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
}

/// Maps one Jetstream message into a post record, when it is a new post that matches a
/// rule. `None` for everything else (other events, deletes, unmatched posts).
pub fn map_event(message: &str, matcher: &LocalMatcher) -> Option<(u64, Record)> {
    let event: Event = serde_json::from_str(message).ok()?;
    if event.kind != "commit" {
        return None;
    }
    let commit = event.commit?;
    if commit.operation != "create" || commit.collection != "app.bsky.feed.post" {
        return None;
    }
    let post = commit.record?;
    let tags = matcher.matches(&post.text);
    if tags.is_empty() {
        return None;
    }
    let uri = format!("at://{}/app.bsky.feed.post/{}", event.did, commit.rkey);
    let rules: Vec<_> = tags
        .iter()
        .map(|t| json!({"id": format!("local-{t}"), "tag": t}))
        .collect();
    let mut data = json!({
        "id": uri,
        "text": post.text,
        "author_id": event.did,
    });
    if let Some(created) = post.created_at {
        data["created_at"] = json!(created);
    }
    if let Some(lang) = post.langs.first() {
        data["lang"] = json!(lang);
    }
    let payload = json!({
        "source": "bluesky",
        "data": data,
        "includes": {"users": [{"id": event.did}]},
        "matching_rules": rules,
    });
    let mut record = Record::new(payload.to_string().into_bytes());
    record.cursor = Some(event.time_us);
    record.tags = tags.iter().map(|t| t.to_string()).collect();
    Some((event.time_us, record))
}

pub use super::cursor::{read_cursor, write_cursor};

/// Reads Jetstream into `tx` until `shutdown` turns true or the queue closes.
///
/// `cursor` is where to resume (exclusive): events at or before it are skipped.
pub async fn stream(
    url: &str,
    matcher: LocalMatcher,
    mut cursor: Option<u64>,
    tx: mpsc::Sender<Record>,
    stats: Arc<Stats>,
    sleeper: Sleeper,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), super::SourceError> {
    let mut schedule = Reconnect::default();
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let mut target = format!("{url}?wantedCollections=app.bsky.feed.post");
        if let Some(c) = cursor {
            target.push_str(&format!("&cursor={c}"));
        }
        info!(url = %target, "connecting to jetstream");
        let connected = tokio::select! {
            c = tokio_tungstenite::connect_async(target.as_str()) => c,
            _ = shutdown.changed() => return Ok(()),
        };
        match connected {
            Ok((mut ws, _)) => {
                loop {
                    let msg = tokio::select! {
                        m = tokio::time::timeout(Duration::from_secs(60), ws.next()) => m,
                        _ = shutdown.changed() => return Ok(()),
                    };
                    let text = match msg {
                        Ok(Some(Ok(Message::Text(t)))) => t,
                        Ok(Some(Ok(Message::Close(_)))) | Ok(None) => break,
                        Ok(Some(Ok(_))) => continue,
                        Ok(Some(Err(e))) => {
                            warn!(error = %e, "jetstream read failed");
                            break;
                        }
                        Err(_) => {
                            warn!("jetstream stalled for 60 s");
                            break;
                        }
                    };
                    schedule.reset();
                    match map_event(text.as_str(), &matcher) {
                        Some((time_us, record)) => {
                            if cursor.is_some_and(|c| time_us <= c) {
                                debug!(time_us, "already delivered; skipped");
                                continue;
                            }
                            cursor = Some(time_us);
                            Stats::add(&stats.received, 1);
                            if tx.send(record).await.is_err() {
                                return Ok(());
                            }
                        }
                        None => {
                            // Remember the position of unmatched events too.
                            if let Some(t) = peek_time(text.as_str()) {
                                if cursor.is_none_or(|c| t > c) {
                                    cursor = Some(t);
                                }
                            }
                            Stats::add(&stats.skipped, 1);
                        }
                    }
                }
            }
            Err(e) => warn!(error = %e, "jetstream connection failed"),
        }
        Stats::add(&stats.reconnects, 1);
        let wait = schedule.next(Disconnect::Network);
        tokio::select! {
            _ = sleeper.sleep(wait) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

fn peek_time(message: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct T {
        time_us: u64,
    }
    serde_json::from_str::<T>(message).ok().map(|t| t.time_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn matcher() -> LocalMatcher {
        let set = RuleSet::parse(
            r#"{"rules":[{"tag":"cats","keywords":["cat"]},{"tag":"dogs","keywords":["dog"]}]}"#,
        )
        .unwrap();
        LocalMatcher::new(&set).unwrap()
    }

    #[test]
    fn new_matching_posts_map_into_the_transform_shape() {
        let msg = r#"{"did":"did:plc:abc","time_us":1725911162329308,"kind":"commit","commit":{"rev":"x","operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo","record":{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"my cat and my dog"},"cid":"c"}}"#;
        let (t, rec) = map_event(msg, &matcher()).unwrap();
        assert_eq!(t, 1725911162329308);
        let v: serde_json::Value = serde_json::from_slice(&rec.data).unwrap();
        assert_eq!(v["source"], "bluesky");
        assert_eq!(v["data"]["id"], "at://did:plc:abc/app.bsky.feed.post/3l3qo");
        assert_eq!(v["data"]["lang"], "en");
        assert_eq!(v["data"]["created_at"], "2024-09-09T19:46:02.102Z");
        assert_eq!(v["matching_rules"][1]["tag"], "dogs");
        assert_eq!(rec.tags, ["cats", "dogs"]);
        assert_eq!(rec.data.last(), Some(&b'\n'));
        // The transform reads it.
        let post: transform::StreamPost = serde_json::from_slice(&rec.data).unwrap();
        assert_eq!(post.data.author_id.as_deref(), Some("did:plc:abc"));
    }

    #[test]
    fn other_events_are_skipped() {
        let m = matcher();
        let unmatched = r#"{"did":"d","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"r","record":{"text":"birds"}}}"#;
        let delete = r#"{"did":"d","time_us":2,"kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"r"}}"#;
        let like = r#"{"did":"d","time_us":3,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.like","rkey":"r","record":{"text":"cat"}}}"#;
        let identity = r#"{"did":"d","time_us":4,"kind":"identity"}"#;
        for msg in [unmatched, delete, like, identity, "not json"] {
            assert!(map_event(msg, &m).is_none(), "{msg}");
        }
        assert_eq!(peek_time(identity), Some(4));
    }
}
