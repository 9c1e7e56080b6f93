//! The page's HTTP server on 127.0.0.1 (hyper): the page and its assets, compiled in, and
//! two JSON routes: `/api/layout` (the dashboard's panels and where they sit) and
//! `/api/data?from=&to=` (every panel's figures, the verdict, the counts).

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::Dashboard;

const INDEX: &str = include_str!("../assets/index.html");
const APP: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");
const CHART_JS: &str = include_str!("../assets/vendor/chart.umd.min.js");

/// A running page server.
pub struct Served {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `dashboard` on 127.0.0.1:`port` (0: a free port) until the returned handle is
/// dropped.
pub async fn serve(dashboard: Arc<Dashboard>, port: u16) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let (conn, _) = tokio::select! {
                _ = &mut stopped => break,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            };
            let dashboard = Arc::clone(&dashboard);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, Arc::clone(&dashboard)));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(conn), service)
                    .await;
            });
        }
    });
    Ok(Served {
        url,
        stop: Some(stop),
    })
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

fn json_reply(v: &Value) -> Response<Full<Bytes>> {
    reply(StatusCode::OK, "application/json", v.to_string())
}

/// `from` and `to` of a query string, percent-decoded.
fn range_params(query: Option<&str>, default: (&str, &str)) -> (String, String) {
    let mut from = default.0.to_string();
    let mut to = default.1.to_string();
    for pair in query.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "from" if !v.is_empty() => from = v,
            "to" if !v.is_empty() => to = v,
            _ => {}
        }
    }
    (from, to)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    req: Request<Incoming>,
    dashboard: Arc<Dashboard>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != hyper::Method::GET {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only",
        ));
    }
    Ok(match req.uri().path() {
        "/" | "/index.html" => reply(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        "/app.js" => reply(StatusCode::OK, "text/javascript; charset=utf-8", APP),
        "/style.css" => reply(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        "/vendor/chart.umd.min.js" => {
            reply(StatusCode::OK, "text/javascript; charset=utf-8", CHART_JS)
        }
        "/favicon.ico" => reply(StatusCode::NO_CONTENT, "image/x-icon", Bytes::new()),
        "/api/layout" => json_reply(&dashboard.layout()),
        "/api/data" => {
            let (from, to) = range_params(req.uri().query(), dashboard.default_range());
            json_reply(&dashboard.data(&from, &to).await)
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_decode() {
        let (from, to) = range_params(
            Some("from=2023-03-14T15%3A00%3A00Z&to=now-1h"),
            ("now-24h", "now"),
        );
        assert_eq!(
            (from.as_str(), to.as_str()),
            ("2023-03-14T15:00:00Z", "now-1h")
        );
        let (from, to) = range_params(None, ("now-24h", "now"));
        assert_eq!((from.as_str(), to.as_str()), ("now-24h", "now"));
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
