//! The plumbing the test servers share: a server on a free port of 127.0.0.1, on its
//! own thread and runtime, stopped when dropped; HTTP/1.1 through hyper; JSON answers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Runs `accept_loop` on its own thread and runtime with a listener on a free port of
/// 127.0.0.1; the loop gets a receiver that fires when the server is dropped.
pub fn background<F, Fut>(accept_loop: F) -> Server
where
    F: FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr: SocketAddr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            accept_loop(listener, stopped).await;
        });
    });
    Server {
        url: format!("http://{addr}"),
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// Serves `handler` over HTTP/1.1 on a free port of 127.0.0.1.
pub fn serve<H, F, B>(handler: H) -> Server
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    background(move |listener, mut stopped| async move {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(handler))
                            .await;
                    });
                }
            }
        }
    })
}

/// Reads an AWS JSON 1.1 request: its `X-Amz-Target` operation and its JSON body
/// (`Null` when the body is not JSON); `None` when the body cannot be read.
pub async fn json_request(req: Request<Incoming>) -> Option<(String, serde_json::Value)> {
    use http_body_util::BodyExt;
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req.into_body().collect().await.ok()?.to_bytes();
    Some((
        target,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    ))
}

/// An AWS JSON 1.1 answer (`application/x-amz-json-1.1`) with this status and body.
pub fn json_reply(
    status: u16,
    body: &serde_json::Value,
) -> Response<http_body_util::Full<hyper::body::Bytes>> {
    let mut resp = Response::new(http_body_util::Full::new(hyper::body::Bytes::from(
        body.to_string(),
    )));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
