//! A Lambda Runtime API server on 127.0.0.1, as the Lambda service runs one beside a
//! function: `GET /2018-06-01/runtime/invocation/next` hands out the queued events (with
//! the request id, deadline and function ARN headers) and waits while there are none;
//! `POST .../invocation/{id}/response` and `.../invocation/{id}/error` take the answers;
//! `POST .../init/error` takes a failed start.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

use crate::http::{serve, Server};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `.../response`: the body.
    Response(Vec<u8>),
    /// `.../error`: the error JSON (`errorType`, `errorMessage`).
    Error(serde_json::Value),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>, u64)>,
    answers: Vec<(String, Answer)>,
    init_error: Option<String>,
}

/// A running Runtime API.
pub struct RuntimeApi {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl RuntimeApi {
    /// Starts the server with no events queued.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = serve(move |req| handle(req, shared.clone()));
        RuntimeApi { server, state }
    }

    /// `HOST:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.url.trim_start_matches("http://").to_string()
    }

    /// Queues an event with request id `id`, to be answered within `timeout`.
    pub fn invoke(&self, id: &str, event: &[u8], timeout: Duration) {
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is past 1970")
            .as_millis() as u64
            + timeout.as_millis() as u64;
        self.state
            .lock()
            .expect("runtime API state")
            .queue
            .push_back((id.to_string(), event.to_vec(), deadline_ms));
    }

    /// Waits up to `timeout` for the answer to request `id`; panics with the start error,
    /// if the function reported one.
    pub fn answer(&self, id: &str, timeout: Duration) -> Option<Answer> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            {
                let state = self.state.lock().expect("runtime API state");
                if let Some(e) = &state.init_error {
                    panic!("the function failed to start: {e}");
                }
                if let Some((_, a)) = state.answers.iter().find(|(i, _)| i == id) {
                    return Some(a.clone());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a response")
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let prefix = "/2018-06-01/runtime";
    let Some(rest) = path.strip_prefix(prefix) else {
        return Ok(reply(404, b"{\"errorMessage\":\"unknown path\"}".to_vec()));
    };
    if method == hyper::Method::GET && rest == "/invocation/next" {
        loop {
            let next = state.lock().expect("runtime API state").queue.pop_front();
            if let Some((id, event, deadline_ms)) = next {
                let response = Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("lambda-runtime-aws-request-id", id.as_str())
                    .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:eu-west-1:123456789012:function:under-test",
                    )
                    .header("lambda-runtime-trace-id", format!("Root=1-00000000-{id}"))
                    .body(Full::new(Bytes::from(event)))
                    .expect("a response");
                return Ok(response);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if method == hyper::Method::POST && rest == "/init/error" {
        state.lock().expect("runtime API state").init_error =
            Some(String::from_utf8_lossy(&body).into_owned());
        return Ok(reply(202, b"{\"status\":\"OK\"}".to_vec()));
    }
    if let Some(inner) = rest.strip_prefix("/invocation/") {
        if let Some((id, kind)) = inner.split_once('/') {
            let answer = match kind {
                "response" => Some(Answer::Response(body)),
                "error" => Some(Answer::Error(
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                )),
                _ => None,
            };
            if let (Some(answer), true) = (answer, method == hyper::Method::POST) {
                state
                    .lock()
                    .expect("runtime API state")
                    .answers
                    .push((id.to_string(), answer));
                return Ok(reply(202, b"{\"status\":\"OK\"}".to_vec()));
            }
        }
    }
    Ok(reply(404, b"{\"errorMessage\":\"unknown path\"}".to_vec()))
}
