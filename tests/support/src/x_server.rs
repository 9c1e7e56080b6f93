//! A fake X API v2 on 127.0.0.1: the filtered stream, scripted connection by connection
//! (posts, keep-alives, a stall, a disconnect, 429 with `x-rate-limit-reset`, 503, 401,
//! an `operational-disconnect` object), and the stream rules endpoints with `dry_run`.

use std::collections::VecDeque;
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
pub const TOKEN: &str = "test-bearer-token";

/// What one stream connection gets.
#[derive(Debug, Clone)]
pub enum Step {
    /// HTTP 200, these chunks (each sent as is), then the server closes the connection.
    Send(Vec<String>),
    /// HTTP 200, these chunks, then nothing more on an open connection (a stall).
    SendThenStall(Vec<String>),
    /// This status, with `x-rate-limit-reset` (epoch seconds) when given.
    Status(u16, Option<i64>),
}

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Stream connections, with their query strings.
    pub connections: Vec<String>,
    /// Rules requests: (method, dry_run, body).
    pub rule_requests: Vec<(String, bool, Value)>,
}

#[derive(Default)]
struct State {
    steps: VecDeque<Step>,
    rules: Vec<(String, String, String)>,
    next_id: u64,
    seen: Seen,
}

/// A running server; stops when dropped.
pub struct XServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Server,
}

type Body = BoxBody<Bytes, Infallible>;

impl XServer {
    /// Starts a server that plays `steps`, one per stream connection; after the last,
    /// connections stall.
    pub fn start(steps: Vec<Step>) -> Self {
        let state = Arc::new(Mutex::new(State {
            steps: steps.into(),
            next_id: 100,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = serve(move |req| handle(Arc::clone(&shared), req));
        XServer {
            url: server.url.clone(),
            state,
            _server: server,
        }
    }

    /// Puts rules on the server: (value, tag).
    pub fn set_rules(&self, rules: &[(&str, &str)]) {
        let mut st = self.state.lock().expect("state");
        for (v, t) in rules {
            st.next_id += 1;
            let id = st.next_id.to_string();
            st.rules.push((id, v.to_string(), t.to_string()));
        }
    }

    /// The rules on the server: (id, value, tag).
    pub fn rules(&self) -> Vec<(String, String, String)> {
        self.state.lock().expect("state").rules.clone()
    }

    /// A copy of what the server has seen.
    pub fn seen(&self) -> Seen {
        self.state.lock().expect("state").seen.clone()
    }
}

fn full(status: u16, body: Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp
}

fn chunks(parts: Vec<String>, stall: bool) -> Body {
    let frames = stream::iter(
        parts
            .into_iter()
            .map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from(p)))),
    );
    if stall {
        BodyExt::boxed(StreamBody::new(frames.chain(stream::pending())))
    } else {
        BodyExt::boxed(StreamBody::new(frames))
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return Ok(full(
            401,
            json!({"title": "Unauthorized", "status": 401, "detail": "Unauthorized"}),
        ));
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let method = req.method().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut st = state.lock().expect("state");
    match path.as_str() {
        "/2/tweets/search/stream" => {
            st.seen.connections.push(query);
            let step = st
                .steps
                .pop_front()
                .unwrap_or(Step::SendThenStall(Vec::new()));
            Ok(match step {
                Step::Send(parts) => Response::new(chunks(parts, false)),
                Step::SendThenStall(parts) => Response::new(chunks(parts, true)),
                Step::Status(status, reset) => {
                    let mut resp = full(status, json!({"title": "error", "status": status}));
                    if let Some(r) = reset {
                        resp.headers_mut().insert(
                            "x-rate-limit-reset",
                            hyper::header::HeaderValue::from_str(&r.to_string()).expect("header"),
                        );
                    }
                    resp
                }
            })
        }
        "/2/tweets/search/stream/rules" if method == "GET" => {
            let data: Vec<Value> = st
                .rules
                .iter()
                .map(|(id, v, t)| json!({"id": id, "value": v, "tag": t}))
                .collect();
            let mut body = json!({"meta": {"result_count": data.len()}});
            if !data.is_empty() {
                body["data"] = Value::Array(data);
            }
            Ok(full(200, body))
        }
        "/2/tweets/search/stream/rules" => {
            let dry_run = query.contains("dry_run=true");
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            st.seen
                .rule_requests
                .push((method, dry_run, request.clone()));
            if let Some(adds) = request["add"].as_array() {
                let bad: Vec<Value> = adds
                    .iter()
                    .filter(|a| a["value"].as_str().is_some_and(|v| v.contains("INVALID")))
                    .map(|a| json!({"title": "Invalid Rule", "value": a["value"]}))
                    .collect();
                if !bad.is_empty() {
                    return Ok(full(400, json!({"errors": bad})));
                }
                if !dry_run {
                    for a in adds {
                        st.next_id += 1;
                        let id = st.next_id.to_string();
                        let v = a["value"].as_str().unwrap_or_default().to_string();
                        let t = a["tag"].as_str().unwrap_or_default().to_string();
                        st.rules.push((id, v, t));
                    }
                }
            }
            if let Some(ids) = request["delete"]["ids"].as_array() {
                if !dry_run {
                    let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
                    st.rules.retain(|(id, _, _)| !ids.contains(&id.as_str()));
                }
            }
            Ok(full(200, json!({"meta": {"summary": {}}})))
        }
        _ => Ok(full(404, json!({"title": "Not Found"}))),
    }
}
