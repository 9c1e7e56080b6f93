//! A small Amazon Comprehend server on 127.0.0.1 for tests and benchmarks: it speaks
//! Comprehend's JSON 1.1 protocol (`X-Amz-Target: Comprehend_20171127.BatchDetectSentiment`
//! and `.DetectSentiment`) well enough for the real `aws-sdk-comprehend` client, and can
//! be told to throttle, fail, answer slowly or reject chosen documents.
//!
//! Sentiment is decided from the text: `love`/`great`/`good` positive, `hate`/`awful`/`bad`
//! negative, both mixed, neither neutral. A text containing `ERRDOC` gets an `ErrorList`
//! entry instead of a result.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

use crate::http::{json_reply, json_request, serve, Server};

/// Languages Comprehend's sentiment detection accepts.
const LANGUAGES: [&str; 12] = [
    "ar", "hi", "ko", "zh-TW", "ja", "zh", "de", "pt", "en", "it", "fr", "es",
];

/// How the server behaves; change it at any time through [`ComprehendServer::set`].
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Delay before every answer.
    pub latency: Duration,
    /// Answer this many next requests with HTTP 400 `ThrottlingException`.
    pub throttle_next: u32,
    /// Answer every request with HTTP 500 `InternalServerException`.
    pub fail_all: bool,
}

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// `BatchDetectSentiment` requests, throttled and failed ones included.
    pub batch_calls: u64,
    /// `DetectSentiment` requests.
    pub single_calls: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Every text received, in order of arrival.
    pub texts: Vec<String>,
    /// Largest text received, in UTF-8 bytes.
    pub max_text_bytes: usize,
    /// Largest `TextList` received.
    pub max_batch: usize,
    /// Language codes received.
    pub languages: Vec<String>,
}

#[derive(Default)]
struct State {
    behaviour: Behaviour,
    seen: Seen,
}

/// A running server; stops when dropped.
pub struct ComprehendServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Server,
}

impl ComprehendServer {
    /// Starts a server on a free port of 127.0.0.1, on its own thread and runtime.
    pub fn start(behaviour: Behaviour) -> Self {
        let state = Arc::new(Mutex::new(State {
            behaviour,
            seen: Seen::default(),
        }));
        let shared = Arc::clone(&state);
        let server = serve(move |req| handle(Arc::clone(&shared), req));
        ComprehendServer {
            url: server.url.clone(),
            state,
            _server: server,
        }
    }

    /// Changes the behaviour from now on.
    pub fn set(&self, behaviour: Behaviour) {
        self.state.lock().expect("state").behaviour = behaviour;
    }

    /// A copy of what the server has seen so far.
    pub fn seen(&self) -> Seen {
        self.state.lock().expect("state").seen.clone()
    }
}

/// The sentiment the server gives a text.
pub fn verdict(text: &str) -> &'static str {
    let lower = text.to_lowercase();
    let pos = ["love", "great", "good"].iter().any(|w| lower.contains(w));
    let neg = ["hate", "awful", "bad"].iter().any(|w| lower.contains(w));
    match (pos, neg) {
        (true, true) => "MIXED",
        (true, false) => "POSITIVE",
        (false, true) => "NEGATIVE",
        (false, false) => "NEUTRAL",
    }
}

fn scores(label: &str) -> Value {
    let (p, n, u, m) = match label {
        "POSITIVE" => (0.9, 0.02, 0.07, 0.01),
        "NEGATIVE" => (0.03, 0.88, 0.08, 0.01),
        "MIXED" => (0.3, 0.3, 0.1, 0.3),
        _ => (0.05, 0.05, 0.88, 0.02),
    };
    json!({"Positive": p, "Negative": n, "Neutral": u, "Mixed": m})
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    json_reply(status, &body)
}

fn error(status: u16, kind: &str, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"__type": kind, "message": message}))
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some((target, request)) = json_request(req).await else {
        return Ok(error(400, "SerializationException", "unreadable body"));
    };
    let latency = {
        let mut st = state.lock().expect("state");
        match target.as_str() {
            "Comprehend_20171127.BatchDetectSentiment" => st.seen.batch_calls += 1,
            "Comprehend_20171127.DetectSentiment" => st.seen.single_calls += 1,
            _ => {}
        }
        st.behaviour.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut st = state.lock().expect("state");
    if st.behaviour.fail_all {
        st.seen.errors += 1;
        return Ok(error(500, "InternalServerException", "internal error"));
    }
    if st.behaviour.throttle_next > 0 {
        st.behaviour.throttle_next -= 1;
        st.seen.errors += 1;
        return Ok(error(400, "ThrottlingException", "Rate exceeded"));
    }
    let lang = request["LanguageCode"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    st.seen.languages.push(lang.clone());
    if !LANGUAGES.contains(&lang.as_str()) {
        st.seen.errors += 1;
        return Ok(error(
            400,
            "UnsupportedLanguageException",
            "unsupported language",
        ));
    }
    let texts: Vec<String> = match target.as_str() {
        "Comprehend_20171127.BatchDetectSentiment" => request["TextList"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        "Comprehend_20171127.DetectSentiment" => request["Text"]
            .as_str()
            .map(String::from)
            .into_iter()
            .collect(),
        _ => {
            st.seen.errors += 1;
            return Ok(error(400, "UnknownOperationException", "unknown operation"));
        }
    };
    st.seen.max_batch = st.seen.max_batch.max(texts.len());
    for t in &texts {
        st.seen.max_text_bytes = st.seen.max_text_bytes.max(t.len());
        st.seen.texts.push(t.clone());
    }
    if texts.len() > 25 {
        st.seen.errors += 1;
        return Ok(error(
            400,
            "BatchSizeLimitExceededException",
            "more than 25 documents",
        ));
    }
    if texts.iter().any(|t| t.len() > 5000) {
        st.seen.errors += 1;
        return Ok(error(
            400,
            "TextSizeLimitExceededException",
            "a document is over 5000 bytes",
        ));
    }
    if target == "Comprehend_20171127.DetectSentiment" {
        let label = verdict(&texts[0]);
        return Ok(reply(
            200,
            json!({"Sentiment": label, "SentimentScore": scores(label)}),
        ));
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if t.contains("ERRDOC") {
            errors.push(json!({"Index": i, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "document failed"}));
        } else {
            let label = verdict(t);
            results.push(json!({"Index": i, "Sentiment": label, "SentimentScore": scores(label)}));
        }
    }
    Ok(reply(
        200,
        json!({"ResultList": results, "ErrorList": errors}),
    ))
}
