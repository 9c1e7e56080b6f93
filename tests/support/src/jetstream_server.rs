//! A Jetstream server on 127.0.0.1 replaying recorded messages over a websocket: it
//! honours the `cursor` query parameter (messages from that `time_us` on, inclusive,
//! as Jetstream does) and can cut the first connection off after a number of messages.

use std::sync::{Arc, Mutex};

use futures_util::SinkExt;

use crate::http::{background, Server};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// What the server has seen.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The cursor of each connection (`None` without one).
    pub cursors: Vec<Option<u64>>,
}

/// A running server; stops when dropped.
pub struct JetstreamServer {
    /// `ws://127.0.0.1:PORT/subscribe`.
    pub url: String,
    seen: Arc<Mutex<Seen>>,
    _server: Server,
}

impl JetstreamServer {
    /// Serves `messages` (each with its `time_us`); the first connection is cut off,
    /// without a close frame, after `cut_after` messages.
    pub fn start(messages: Vec<(u64, String)>, cut_after: Option<usize>) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = Arc::clone(&seen);
        let messages = Arc::new(messages);
        let server = background(move |listener, mut stopped| async move {
            let mut connection = 0usize;
            loop {
                let (stream, _) = tokio::select! {
                    _ = &mut stopped => break,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                connection += 1;
                let cut = if connection == 1 { cut_after } else { None };
                let messages = Arc::clone(&messages);
                let seen = Arc::clone(&shared);
                tokio::spawn(serve_connection(stream, messages, seen, cut));
            }
        });
        JetstreamServer {
            url: format!("{}/subscribe", server.url.replacen("http://", "ws://", 1)),
            seen,
            _server: server,
        }
    }

    /// A copy of what the server has seen.
    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("seen").clone()
    }
}

/// One websocket connection: reads the cursor from the query, sends the messages from
/// there on, and cuts the socket after `cut` messages when asked.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    messages: Arc<Vec<(u64, String)>>,
    seen: Arc<Mutex<Seen>>,
    cut: Option<usize>,
) {
    let cursor: Arc<Mutex<Option<u64>>> = Arc::default();
    let c = Arc::clone(&cursor);
    // The error type is tungstenite's, sized by its HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, resp: Response| {
        let value = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix("cursor="))
            .and_then(|v| v.parse().ok());
        if let Ok(mut c) = c.lock() {
            *c = value;
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let from = cursor.lock().map(|c| *c).unwrap_or(None);
    if let Ok(mut s) = seen.lock() {
        s.cursors.push(from);
    }
    let mut sent = 0;
    for (t, m) in messages.iter() {
        if from.is_some_and(|c| *t < c) {
            continue;
        }
        if cut.is_some_and(|n| sent >= n) {
            // Drop the socket: no close frame, as a network cut.
            return;
        }
        if ws.send(Message::text(m.clone())).await.is_err() {
            return;
        }
        sent += 1;
    }
    // Stay open like the real service, until the client leaves.
    let _ = futures_util::StreamExt::next(&mut ws).await;
}
