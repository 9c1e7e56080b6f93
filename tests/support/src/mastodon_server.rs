//! A Mastodon instance on 127.0.0.1 speaking the streaming API's server-sent events and
//! the REST timelines, as the real one does: `GET /api/v1/streaming/hashtag?tag=T` and
//! `/api/v1/streaming/public` (`text/event-stream`: `event: update` with a status as
//! `data`, `event: delete`, `:thump` heartbeats), `GET /api/v1/timelines/tag/T` and
//! `/api/v1/timelines/public` with `min_id` (the statuses right after it, newest first)
//! and `limit` (at most 40), everything behind `Authorization: Bearer TOKEN` (401
//! otherwise). Statuses are posted in three phases: the first stream connection of each
//! timeline sends those of `live`, then ends; the `gap` ones are posted while no stream
//! is open, so only the REST timeline has them; later connections send `later`, then stay
//! open. With `ids`, each event carries `id:` (the real server sends none).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::http::{serve, Server};

/// The token the server accepts.
pub const TOKEN: &str = "test-mastodon-token";

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Stream connections: path and query, and their `Last-Event-ID`.
    pub streams: Vec<(String, Option<String>)>,
    /// Timeline requests: path and query.
    pub timelines: Vec<String>,
    /// Requests refused for their token.
    pub unauthorized: usize,
}

/// The statuses, by phase.
#[derive(Debug, Clone, Default)]
pub struct Statuses {
    /// Sent on each timeline's first stream connection, which then ends.
    pub live: Vec<Value>,
    /// Posted while no stream is open: only on the REST timelines.
    pub gap: Vec<Value>,
    /// Sent on later connections, which stay open.
    pub later: Vec<Value>,
}

struct State {
    statuses: Statuses,
    ids: bool,
    seen: Seen,
}

/// A running server; stops when dropped.
pub struct MastodonServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Server,
}

type Body = BoxBody<Bytes, Infallible>;

/// A public status with this id (numeric), HTML content and hashtags.
pub fn status(id: u64, html: &str, tags: &[&str]) -> Value {
    json!({
        "id": id.to_string(),
        "uri": format!("https://remote.example/users/ann/statuses/{id}"),
        "url": format!("https://remote.example/@ann/{id}"),
        "created_at": "2026-12-01T10:00:00.000Z",
        "language": "en", "visibility": "public", "sensitive": false, "spoiler_text": "",
        "content": html, "reblog": null, "in_reply_to_id": null, "in_reply_to_account_id": null,
        "replies_count": 1, "reblogs_count": 2, "favourites_count": 3,
        "tags": tags.iter().map(|t| json!({"name": t, "url": format!("https://remote.example/tags/{t}")})).collect::<Vec<_>>(),
        "mentions": [], "emojis": [], "media_attachments": [],
        "account": {"id": "7", "username": "ann", "acct": "ann@remote.example", "display_name": "Ann",
                    "followers_count": 12, "following_count": 3, "statuses_count": 99},
    })
}

impl MastodonServer {
    /// Serves `statuses`; `ids`: events carry `id:`.
    pub fn start(statuses: Statuses, ids: bool) -> Self {
        let state = Arc::new(Mutex::new(State {
            statuses,
            ids,
            seen: Seen::default(),
        }));
        let shared = Arc::clone(&state);
        let server = serve(move |req| handle(Arc::clone(&shared), req));
        MastodonServer {
            url: server.url.clone(),
            state,
            _server: server,
        }
    }

    /// A copy of what the server has seen.
    pub fn seen(&self) -> Seen {
        self.state.lock().expect("state").seen.clone()
    }
}

/// Whether `status` is on the timeline of `tag` (`None`: the public timeline).
fn on_timeline(status: &Value, tag: Option<&str>) -> bool {
    match tag {
        None => true,
        Some(tag) => status["tags"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["name"].as_str() == Some(tag))),
    }
}

fn id_of(status: &Value) -> u64 {
    status["id"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn reply(status: u16, body: Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The events of `statuses` as the streaming server writes them, a heartbeat and a
/// `delete` among them; the body ends, or stays open.
fn events(statuses: Vec<Value>, ids: bool, stay_open: bool) -> Body {
    let mut parts = vec![":)\n\n".to_string()];
    for s in statuses {
        let id = match ids {
            true => format!("id: {}\n", id_of(&s)),
            false => String::new(),
        };
        parts.push(format!("{id}event: update\ndata: {s}\n\n"));
        parts.push(":thump\n\n".to_string());
        parts.push(format!(
            "event: delete\ndata: {}\n\n",
            id_of(&s) + 1_000_000
        ));
    }
    let frames = stream::iter(
        parts
            .into_iter()
            .map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from(p)))),
    );
    match stay_open {
        true => BodyExt::boxed(StreamBody::new(frames.chain(stream::pending()))),
        false => BodyExt::boxed(StreamBody::new(frames)),
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let mut st = state.lock().expect("state");
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        st.seen.unauthorized += 1;
        return Ok(reply(401, json!({"error": "The access token is invalid"})));
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let tag = query_param(&query, "tag");
    if let Some(rest) = path.strip_prefix("/api/v1/streaming/") {
        let tag = match rest {
            "hashtag" => match tag {
                Some(t) => Some(t.to_lowercase()),
                None => return Ok(reply(400, json!({"error": "Missing tag"}))),
            },
            "public" => None,
            _ => return Ok(reply(404, json!({"error": "Unknown stream type"}))),
        };
        let last_event_id = req
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let first = !st
            .seen
            .streams
            .iter()
            .any(|(p, _)| *p == format!("{path}?{query}"));
        st.seen
            .streams
            .push((format!("{path}?{query}"), last_event_id));
        let phase = match first {
            true => &st.statuses.live,
            false => &st.statuses.later,
        };
        let statuses: Vec<Value> = phase
            .iter()
            .filter(|s| on_timeline(s, tag.as_deref()))
            .cloned()
            .collect();
        let mut resp = Response::new(events(statuses, st.ids, !first));
        resp.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        return Ok(resp);
    }
    let tag = match path.strip_prefix("/api/v1/timelines/") {
        Some("public") => None,
        Some(rest) => match rest.strip_prefix("tag/") {
            Some(t) => Some(t.to_lowercase()),
            None => return Ok(reply(404, json!({"error": "Record not found"}))),
        },
        None => return Ok(reply(404, json!({"error": "Record not found"}))),
    };
    st.seen.timelines.push(format!("{path}?{query}"));
    let min_id: u64 = query_param(&query, "min_id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query_param(&query, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .min(40);
    let all = &st.statuses;
    let mut after: Vec<Value> = all
        .live
        .iter()
        .chain(&all.gap)
        .chain(&all.later)
        .filter(|s| on_timeline(s, tag.as_deref()) && id_of(s) > min_id)
        .cloned()
        .collect();
    after.sort_by_key(id_of);
    after.truncate(limit);
    after.reverse();
    Ok(reply(200, Value::Array(after)))
}
