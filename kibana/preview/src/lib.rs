//! The dashboard preview: one page on 127.0.0.1 that draws every panel of the saved
//! dashboard (`kibana/dashboards.ndjson`) in the dashboard's layout, each from its own
//! saved `visState` (`panel.rs` builds the search request as Dashboards does), over the
//! local pipeline's embedded store or any OpenSearch (`--opensearch-url`, which gets the
//! very same requests). Beside the panels: the counts per outcome (from the running
//! stream, or the store and backup) and the cats-vs-dogs verdict with its confidence.
//!
//! The page's assets, Chart.js included, are compiled into the binary (`assets/`); the
//! page needs no network.

#![warn(missing_docs)]

pub mod panel;
pub mod saved;
mod server;
pub mod time;

use std::sync::Arc;

use chrono::Utc;
use search_store::verdict::{self, TagStats};
use search_store::Store;
use serde_json::{json, Value};

pub use panel::{Figures, Spec};
pub use saved::SavedObjects;
pub use server::{serve, Served};
pub use time::TimeRange;

/// The field the verdict compares across.
pub const CATEGORY_FIELD: &str = "categories";
/// The score it compares.
pub const SCORE_FIELD: &str = "sentiment.score";

/// How often the page refreshes while a stream runs, ms.
pub const LIVE_REFRESH_MS: u64 = 2_000;

/// Where the page's searches go.
pub enum Backend {
    /// The embedded store.
    Embedded(Arc<Store>),
    /// An OpenSearch-compatible server.
    OpenSearch {
        /// Its URL.
        url: String,
        /// The client (10 s per search).
        client: reqwest::Client,
    },
}

impl Backend {
    /// An OpenSearch backend at `url`.
    pub fn opensearch(url: &str) -> Result<Backend, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Backend::OpenSearch {
            url: url.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// Runs a search on the indices matching `pattern`.
    pub async fn search(&self, pattern: &str, body: &Value) -> Result<Value, String> {
        match self {
            Backend::Embedded(store) => {
                let (store, pattern, body) = (Arc::clone(store), pattern.to_string(), body.clone());
                tokio::task::spawn_blocking(move || store.search(&pattern, &body))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Backend::OpenSearch { url, client } => {
                let sent = client
                    .post(format!("{url}/{pattern}/_search"))
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| format!("OpenSearch at {url}: {e}"))?;
                let status = sent.status();
                let text = sent
                    .text()
                    .await
                    .map_err(|e| format!("OpenSearch at {url}: {e}"))?;
                if !status.is_success() {
                    let reason: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let reason = reason["error"]["reason"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or(text);
                    return Err(format!(
                        "OpenSearch answered HTTP {}: {reason}",
                        status.as_u16()
                    ));
                }
                serde_json::from_str(&text)
                    .map_err(|e| format!("OpenSearch answered something not JSON: {e}"))
            }
        }
    }

    /// What the page says it reads.
    pub fn describe(&self) -> String {
        match self {
            Backend::Embedded(store) => format!("embedded store {}", store.path().display()),
            Backend::OpenSearch { url, .. } => format!("OpenSearch {url}"),
        }
    }
}

/// The counts per outcome and other live facts, as JSON (`{"live": bool, "outcomes":
/// {...}, ...}`), asked for on each refresh.
pub type Status = Arc<dyn Fn() -> Value + Send + Sync>;

/// A panel as the page gets it.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The visualization's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Where it sits.
    pub grid: saved::Grid,
    /// What it asks, or why it cannot be drawn.
    pub spec: Result<Spec, String>,
}

/// The dashboard being served.
pub struct Dashboard {
    saved: SavedObjects,
    panels: Vec<Panel>,
    backend: Backend,
    status: Option<Status>,
}

impl Dashboard {
    /// The dashboard of `saved` over `backend`; `status` gives the outcome counts.
    pub fn new(saved: SavedObjects, backend: Backend, status: Option<Status>) -> Dashboard {
        let panels = saved
            .panels
            .iter()
            .map(|p| {
                let vis = saved.visualizations.get(&p.visualization);
                Panel {
                    id: p.visualization.clone(),
                    title: vis
                        .map(|v| v.title.clone())
                        .unwrap_or_else(|| p.visualization.clone()),
                    grid: p.grid,
                    spec: vis
                        .ok_or_else(|| {
                            format!(
                                "visualization {} is not in the saved objects",
                                p.visualization
                            )
                        })
                        .and_then(|v| Spec::from_vis_state(&v.vis_state)),
                }
            })
            .collect();
        Dashboard {
            saved,
            panels,
            backend,
            status,
        }
    }

    /// The panels.
    pub fn panels(&self) -> &[Panel] {
        &self.panels
    }

    /// The time range the page shows by default.
    pub fn default_range(&self) -> (&str, &str) {
        (&self.saved.time_from, &self.saved.time_to)
    }

    fn live(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s()["live"] == true)
    }

    /// The page's layout: title, panels, time range and refresh.
    pub fn layout(&self) -> Value {
        let panels: Vec<Value> = self
            .panels
            .iter()
            .map(|p| match &p.spec {
                Ok(spec) => json!({"id": p.id, "title": p.title, "grid": p.grid, "spec": spec}),
                Err(why) => json!({"id": p.id, "title": p.title, "grid": p.grid, "error": why}),
            })
            .collect();
        json!({
            "title": self.saved.title,
            "source": self.backend.describe(),
            "index_pattern": self.saved.index_pattern,
            "time_field": self.saved.time_field,
            "time": {"from": self.saved.time_from, "to": self.saved.time_to},
            "refresh_ms": if self.live() { LIVE_REFRESH_MS } else { self.saved.refresh_ms.max(LIVE_REFRESH_MS) },
            "panels": panels,
        })
    }

    /// Every panel's figures (or its error), the verdict and the status, for `from`..`to`.
    pub async fn data(&self, from: &str, to: &str) -> Value {
        let range = match TimeRange::resolve(from, to, Utc::now()) {
            Ok(r) => r,
            Err(e) => return json!({"error": e}),
        };
        let pattern = &self.saved.index_pattern;
        let time_field = &self.saved.time_field;
        let searches = self.panels.iter().map(|p| async move {
            let figures = match &p.spec {
                Err(why) => json!({"error": why}),
                Ok(spec) => {
                    let request = spec.request(time_field, range);
                    match self
                        .backend
                        .search(pattern, &request)
                        .await
                        .and_then(|r| spec.figures(&r))
                    {
                        Ok(f) => json!({"figures": f, "request": request}),
                        Err(e) => json!({"error": e, "request": request}),
                    }
                }
            };
            (p.id.clone(), figures)
        });
        let panels: serde_json::Map<String, Value> = futures_util::future::join_all(searches)
            .await
            .into_iter()
            .collect();
        let verdict = self.verdict(range).await;
        json!({
            "range": {"from": range.from_iso(), "to": range.to_iso()},
            "panels": panels,
            "verdict": verdict,
            "status": self.status.as_ref().map(|s| s()).unwrap_or(Value::Null),
            "live": self.live(),
            "updated_at": time::iso(Utc::now().timestamp_millis()),
        })
    }

    async fn verdict(&self, range: TimeRange) -> Value {
        let request = json!({
            "size": 0,
            "query": {"bool": {"filter": [{"range": {&self.saved.time_field: {
                "gte": range.from_iso(), "lte": range.to_iso(), "format": "strict_date_optional_time"}}}]}},
            "aggs": {"tags": {"terms": {"field": CATEGORY_FIELD, "size": 20},
                              "aggs": {"score": {"extended_stats": {"field": SCORE_FIELD}}}}},
        });
        let response = match self
            .backend
            .search(&self.saved.index_pattern, &request)
            .await
        {
            Ok(r) => r,
            Err(e) => return json!({"error": e}),
        };
        let tags = tag_stats(&response);
        let v = verdict::verdict(&tags);
        let winner = match &v {
            verdict::Verdict::Winner { tag, .. } => Some(tag.clone()),
            _ => None,
        };
        json!({
            "text": v.to_string(),
            "winner": winner,
            "tags": tags.iter().map(|t| {
                let (lo, hi) = t.interval().unwrap_or((f64::NAN, f64::NAN));
                json!({"tag": t.tag, "n": t.n, "mean": finite(t.mean()), "low": finite(lo), "high": finite(hi), "text": t.describe()})
            }).collect::<Vec<_>>(),
        })
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// Per-tag statistics from a terms + `extended_stats` response (OpenSearch's or the store's).
pub fn tag_stats(response: &Value) -> Vec<TagStats> {
    response["aggregations"]["tags"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let s = &b["score"];
            Some(TagStats {
                tag: b["key"].as_str()?.to_string(),
                n: s["count"].as_u64()?,
                sum: s["sum"].as_f64().unwrap_or(0.0),
                sum_of_squares: s["sum_of_squares"].as_f64().unwrap_or(0.0),
            })
        })
        .collect()
}
