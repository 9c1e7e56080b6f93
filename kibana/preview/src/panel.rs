//! One visualization's `visState` as a search request, and the response as figures the
//! page draws. The request is built the way OpenSearch Dashboards builds it: bucket
//! aggregations nested in the saved order (a line chart's date histogram, then its
//! split-series terms), the metric innermost under the id the saved object gives it, a
//! terms aggregation ordered by that metric (`orderBy: "1"`) or by `_count` for a count,
//! and the `auto` interval resolved to a fixed one. The same body goes to OpenSearch and
//! to the embedded store. What the page cannot draw is said per panel, by name.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::time::TimeRange;

/// How the panel is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chart {
    /// `pie` (a doughnut when `isDonut`).
    Pie,
    /// `histogram`: vertical bars.
    Bar,
    /// `line`.
    Line,
    /// `table`.
    Table,
}

/// The metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Its aggregation id (`"1"`).
    pub id: String,
    /// `count`, `avg`, `sum`, `min`, `max` or `cardinality`.
    pub kind: String,
    /// Its field (none for `count`).
    pub field: Option<String>,
    /// Its label: the custom label, or Dashboards' default (`Count`, `Average sentiment.score`).
    pub label: String,
}

/// A bucket aggregation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Its aggregation id.
    pub id: String,
    /// `segment`, `group`, `bucket` or `split`.
    pub schema: String,
    /// `terms` or `date_histogram`.
    pub kind: String,
    /// Its field.
    pub field: String,
    /// Its label.
    pub label: String,
    /// The saved `params`.
    #[serde(skip)]
    pub params: Value,
}

/// What a panel asks and how it is drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    /// The chart.
    pub chart: Chart,
    /// A doughnut (pie only).
    pub donut: bool,
    /// The metric.
    pub metric: Metric,
    /// The bucket aggregations, outermost first.
    pub buckets: Vec<Bucket>,
    /// The value axis' title, if the saved object gives one.
    pub value_axis: Option<String>,
}

/// The figures of a panel: one row per innermost bucket, its keys then the metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Column labels: each bucket's, then the metric's.
    pub columns: Vec<String>,
    /// Rows: each bucket's key (a string; a date histogram's as ISO time), then the value
    /// (null when the bucket has none, as an average of no values).
    pub rows: Vec<Vec<Value>>,
    /// Documents matched.
    pub total: u64,
}

const METRICS: &[&str] = &["count", "avg", "sum", "min", "max", "cardinality"];

impl Spec {
    /// The spec of a `visState`, or why the page cannot draw it.
    pub fn from_vis_state(vis: &Value) -> Result<Spec, String> {
        let vis_type = vis["type"].as_str().unwrap_or("(none)");
        let chart = match vis_type {
            "pie" => Chart::Pie,
            "histogram" => Chart::Bar,
            "line" => Chart::Line,
            "table" => Chart::Table,
            other => return Err(format!("visualization type [{other}] is not drawn by the preview (it draws pie, histogram, line and table)")),
        };
        let mut metric = None;
        let mut buckets = Vec::new();
        for agg in vis["aggs"].as_array().ok_or("visState has no aggs")? {
            if agg["enabled"] == false {
                continue;
            }
            let id = agg["id"].as_str().unwrap_or_default().to_string();
            let kind = agg["type"].as_str().unwrap_or_default().to_string();
            let schema = agg["schema"].as_str().unwrap_or_default().to_string();
            let params = agg["params"].clone();
            let custom = params["customLabel"]
                .as_str()
                .filter(|l| !l.is_empty())
                .map(str::to_string);
            let field = params["field"].as_str().map(str::to_string);
            if schema == "metric" {
                if metric.is_some() {
                    return Err(format!(
                        "more than one metric (aggregation {id}): the preview draws one"
                    ));
                }
                if !METRICS.contains(&kind.as_str()) {
                    return Err(format!("metric aggregation [{kind}] (aggregation {id}) is not drawn by the preview"));
                }
                if kind != "count" && field.is_none() {
                    return Err(format!(
                        "metric aggregation [{kind}] (aggregation {id}) has no field"
                    ));
                }
                let label = custom.unwrap_or_else(|| match (&*kind, &field) {
                    ("count", _) => "Count".into(),
                    ("avg", Some(f)) => format!("Average {f}"),
                    ("cardinality", Some(f)) => format!("Unique count of {f}"),
                    (k, Some(f)) => format!("{}{} {f}", k[..1].to_uppercase(), &k[1..]),
                    (k, None) => k.to_string(),
                });
                metric = Some(Metric {
                    id,
                    kind,
                    field,
                    label,
                });
            } else {
                if !["terms", "date_histogram"].contains(&kind.as_str()) {
                    return Err(format!("bucket aggregation [{kind}] (aggregation {id}) is not drawn by the preview"));
                }
                let field = field.ok_or_else(|| format!("bucket aggregation {id} has no field"))?;
                let label = custom.unwrap_or_else(|| match &*kind {
                    "terms" => format!("Top {} {field}", params["size"].as_u64().unwrap_or(5)),
                    _ => field.clone(),
                });
                buckets.push(Bucket {
                    id,
                    schema,
                    kind,
                    field,
                    label,
                    params,
                });
            }
        }
        let metric = metric.ok_or("visState has no metric")?;
        if buckets.is_empty() {
            return Err("visState has no bucket aggregation".into());
        }
        let value_axis = vis["params"]["valueAxes"][0]["title"]["text"]
            .as_str()
            .map(str::to_string);
        Ok(Spec {
            chart,
            donut: vis["params"]["isDonut"] == true,
            metric,
            buckets,
            value_axis,
        })
    }

    /// The search request body for `range` on `time_field`.
    pub fn request(&self, time_field: &str, range: TimeRange) -> Value {
        let metric_agg = (self.metric.kind != "count").then(|| {
            let mut m = Map::new();
            m.insert(
                self.metric.id.clone(),
                json!({ &self.metric.kind: {"field": self.metric.field} }),
            );
            m
        });
        let mut inner: Option<Map<String, Value>> = metric_agg.clone();
        for b in self.buckets.iter().rev() {
            let body = match b.kind.as_str() {
                "date_histogram" => {
                    let interval = match b.params["interval"].as_str() {
                        None | Some("auto") => range.auto_interval().to_string(),
                        Some(fixed) => fixed.to_string(),
                    };
                    json!({"field": b.field, "fixed_interval": interval,
                           "min_doc_count": b.params["min_doc_count"].as_u64().unwrap_or(1)})
                }
                _ => {
                    let dir = b.params["order"].as_str().unwrap_or("desc");
                    let by_metric = b.params["orderBy"].as_str() == Some(self.metric.id.as_str())
                        && metric_agg.is_some();
                    let order = match by_metric {
                        true => json!({ &self.metric.id: dir }),
                        false => json!({"_count": dir}),
                    };
                    if by_metric {
                        // The terms orders by the metric, so the metric is also its own child.
                        let sub = inner.get_or_insert_with(Map::new);
                        if let Some(m) = &metric_agg {
                            sub.extend(m.clone());
                        }
                    }
                    json!({"field": b.field, "size": b.params["size"].as_u64().unwrap_or(5), "order": order})
                }
            };
            let mut node = Map::new();
            node.insert(b.kind.clone(), body);
            if let Some(sub) = inner.take().filter(|s| !s.is_empty()) {
                node.insert("aggs".into(), Value::Object(sub));
            }
            let mut level = Map::new();
            level.insert(b.id.clone(), Value::Object(node));
            inner = Some(level);
        }
        json!({
            "size": 0,
            "track_total_hits": true,
            "query": {"bool": {"filter": [{"range": {time_field: {
                "gte": range.from_iso(), "lte": range.to_iso(), "format": "strict_date_optional_time"}}}]}},
            "aggs": inner.unwrap_or_default(),
        })
    }

    /// The figures in a search response to [`Spec::request`].
    pub fn figures(&self, response: &Value) -> Result<Figures, String> {
        let mut rows = Vec::new();
        walk(
            self,
            response
                .get("aggregations")
                .ok_or("the response has no aggregations")?,
            0,
            &mut Vec::new(),
            &mut rows,
        )?;
        let mut columns: Vec<String> = self.buckets.iter().map(|b| b.label.clone()).collect();
        columns.push(self.metric.label.clone());
        let total = match &response["hits"]["total"] {
            Value::Number(n) => n.as_u64(),
            t => t["value"].as_u64(),
        }
        .unwrap_or(0);
        Ok(Figures {
            columns,
            rows,
            total,
        })
    }
}

fn walk(
    spec: &Spec,
    aggs: &Value,
    depth: usize,
    keys: &mut Vec<Value>,
    rows: &mut Vec<Vec<Value>>,
) -> Result<(), String> {
    let bucket = &spec.buckets[depth];
    let list = aggs[&bucket.id]["buckets"]
        .as_array()
        .ok_or_else(|| format!("the response has no buckets for aggregation {}", bucket.id))?;
    for b in list {
        let key = match bucket.kind.as_str() {
            "date_histogram" => {
                let ms = b["key"]
                    .as_f64()
                    .ok_or("a date bucket without a numeric key")? as i64;
                Value::String(crate::time::iso(ms))
            }
            _ => match &b["key"] {
                Value::String(s) => Value::String(s.clone()),
                other => Value::String(
                    b["key_as_string"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| other.to_string()),
                ),
            },
        };
        keys.push(key);
        if depth + 1 < spec.buckets.len() {
            walk(spec, b, depth + 1, keys, rows)?;
        } else {
            let value = match spec.metric.kind.as_str() {
                "count" => b["doc_count"].clone(),
                _ => b[&spec.metric.id]["value"].clone(),
            };
            let mut row = keys.clone();
            row.push(value);
            rows.push(row);
        }
        keys.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saved::{SavedObjects, BUNDLED};

    fn spec(id: &str) -> Spec {
        let saved = SavedObjects::parse(BUNDLED).expect("bundled");
        Spec::from_vis_state(&saved.visualizations[id].vis_state).expect(id)
    }

    fn range() -> TimeRange {
        TimeRange {
            from_ms: 0,
            to_ms: 86_400_000,
        }
    }

    #[test]
    fn every_bundled_visualization_is_drawn() {
        let saved = SavedObjects::parse(BUNDLED).expect("bundled");
        for v in saved.visualizations.values() {
            Spec::from_vis_state(&v.vis_state).unwrap_or_else(|e| panic!("{}: {e}", v.id));
        }
    }

    #[test]
    fn a_line_chart_nests_as_dashboards_nests_it() {
        let s = spec("sentiment-over-time");
        let r = s.request("arrived_at", range());
        let histogram = &r["aggs"]["2"];
        assert_eq!(histogram["date_histogram"]["fixed_interval"], "30m");
        let terms = &histogram["aggs"]["3"];
        assert_eq!(terms["terms"]["order"], json!({"1": "desc"}));
        assert_eq!(
            terms["aggs"]["1"],
            json!({"avg": {"field": "sentiment.score"}})
        );
        assert_eq!(
            r["query"]["bool"]["filter"][0]["range"]["arrived_at"]["gte"],
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn a_count_orders_by_count_and_reads_doc_counts() {
        let s = spec("posts-per-category");
        let r = s.request("arrived_at", range());
        assert_eq!(r["aggs"]["2"]["terms"]["order"], json!({"_count": "desc"}));
        assert!(r["aggs"]["2"].get("aggs").is_none());
        let response = json!({"hits": {"total": {"value": 5}}, "aggregations": {"2": {"buckets": [
            {"key": "cats", "doc_count": 3}, {"key": "dogs", "doc_count": 2}]}}});
        let f = s.figures(&response).expect("figures");
        assert_eq!(
            f.rows,
            vec![vec![json!("cats"), json!(3)], vec![json!("dogs"), json!(2)]]
        );
        assert_eq!(f.total, 5);
    }

    #[test]
    fn what_cannot_be_drawn_is_named() {
        for (vis, named) in [
            (json!({"type": "tagcloud", "aggs": []}), "[tagcloud]"),
            (
                json!({"type": "pie", "aggs": [{"id": "1", "type": "percentiles", "schema": "metric", "params": {"field": "x"}}]}),
                "[percentiles]",
            ),
            (
                json!({"type": "pie", "aggs": [{"id": "1", "type": "count", "schema": "metric", "params": {}},
                {"id": "2", "type": "geohash_grid", "schema": "segment", "params": {"field": "g"}}]}),
                "[geohash_grid]",
            ),
        ] {
            let err = Spec::from_vis_state(&vis).expect_err(named);
            assert!(err.contains(named), "{err}");
        }
    }
}
