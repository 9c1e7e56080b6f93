//! One visualization's `visState` as a search request, and the response as figures the
//! page draws. The request is built the way OpenSearch Dashboards builds it: bucket
//! aggregations nested in the saved order (a line chart's date histogram, then its
//! split-series terms), the metric innermost under the id the saved object gives it, a
//! terms aggregation ordered by that metric (`orderBy: "1"`) or by `_count` for a count,
//! and the `auto` interval resolved to a fixed one. A data table may have several metrics
//! (a column each); a coordinate map (`tile_map`) is a `geohash_grid` whose cells carry
//! their `geo_centroid` (Dashboards' `useGeocentroid`), drawn as points at the centroids.
//! The same body goes to OpenSearch and to the embedded store. What the page cannot draw
//! is said per panel, by name.

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
    /// `tile_map`: a point per geohash cell, at its centroid, without map tiles.
    Map,
}

/// The name of the `geo_centroid` a map's cells carry.
pub const CENTROID: &str = "centroid";

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
    /// The metrics: one on a chart, one or more in a table.
    pub metrics: Vec<Metric>,
    /// The bucket aggregations, outermost first.
    pub buckets: Vec<Bucket>,
    /// The value axis' title, if the saved object gives one.
    pub value_axis: Option<String>,
}

/// The figures of a panel: one row per innermost bucket, its keys then the metrics (a
/// map's cells: the geohash, the centroid's latitude and longitude, the count, the metric).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Column labels: each bucket's, then the metrics'.
    pub columns: Vec<String>,
    /// What each column holds: `key`, `time` (a date histogram's key), `coordinate`, or
    /// the metric's kind (`count`, `avg`, ...).
    pub kinds: Vec<String>,
    /// Rows: each bucket's key (a string; a date histogram's as ISO time), then the values
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
            "tile_map" => Chart::Map,
            other => return Err(format!("visualization type [{other}] is not drawn by the preview (it draws pie, histogram, line, table and tile_map)")),
        };
        let mut metrics: Vec<Metric> = Vec::new();
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
                if !metrics.is_empty() && chart != Chart::Table {
                    return Err(format!(
                        "more than one metric (aggregation {id}): the preview draws one on a chart, several in a table"
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
                metrics.push(Metric {
                    id,
                    kind,
                    field,
                    label,
                });
            } else {
                let allowed: &[&str] = match chart {
                    Chart::Map => &["geohash_grid"],
                    _ => &["terms", "date_histogram"],
                };
                if !allowed.contains(&kind.as_str()) {
                    return Err(format!("bucket aggregation [{kind}] (aggregation {id}) is not drawn by the preview on a {vis_type}"));
                }
                if kind == "geohash_grid" && params["isFilteredByCollar"] == true {
                    return Err(format!("geohash_grid (aggregation {id}) filtered by the map's collar: the preview draws the whole grid (isFilteredByCollar: false)"));
                }
                let field = field.ok_or_else(|| format!("bucket aggregation {id} has no field"))?;
                let label = custom.unwrap_or_else(|| match &*kind {
                    "terms" => format!("Top {} {field}", params["size"].as_u64().unwrap_or(5)),
                    "geohash_grid" => format!("{field} (geohash)"),
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
        if metrics.is_empty() {
            return Err("visState has no metric".into());
        }
        if buckets.is_empty() {
            return Err("visState has no bucket aggregation".into());
        }
        if chart == Chart::Map && buckets.len() > 1 {
            return Err(
                "a map with more than one bucket aggregation: the preview draws one grid".into(),
            );
        }
        let value_axis = vis["params"]["valueAxes"][0]["title"]["text"]
            .as_str()
            .map(str::to_string);
        Ok(Spec {
            chart,
            donut: vis["params"]["isDonut"] == true,
            metrics,
            buckets,
            value_axis,
        })
    }

    /// The search request body for `range` on `time_field`.
    pub fn request(&self, time_field: &str, range: TimeRange) -> Value {
        let metric_aggs: Map<String, Value> = self
            .metrics
            .iter()
            .filter(|m| m.kind != "count")
            .map(|m| (m.id.clone(), json!({ &m.kind: {"field": m.field} })))
            .collect();
        let mut inner: Option<Map<String, Value>> = Some(metric_aggs.clone());
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
                "geohash_grid" => {
                    // Dashboards' useGeocentroid: each cell also carries its centroid.
                    inner
                        .get_or_insert_with(Map::new)
                        .insert(CENTROID.into(), json!({"geo_centroid": {"field": b.field}}));
                    json!({"field": b.field, "precision": b.params["precision"].as_u64().unwrap_or(2)})
                }
                _ => {
                    let dir = b.params["order"].as_str().unwrap_or("desc");
                    let by = b.params["orderBy"].as_str().unwrap_or_default();
                    let order = match metric_aggs.get(by) {
                        Some(metric) => {
                            // The terms orders by the metric, so the metric is also its own child.
                            inner
                                .get_or_insert_with(Map::new)
                                .insert(by.to_string(), metric.clone());
                            json!({ by: dir })
                        }
                        None => json!({"_count": dir}),
                    };
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
        let mut kinds: Vec<String> = self
            .buckets
            .iter()
            .map(|b| match b.kind.as_str() {
                "date_histogram" => "time".into(),
                _ => "key".into(),
            })
            .collect();
        if self.chart == Chart::Map {
            columns.extend(["Latitude".into(), "Longitude".into(), "Count".into()]);
            kinds.extend(["coordinate".into(), "coordinate".into(), "count".into()]);
        }
        columns.extend(self.metrics.iter().map(|m| m.label.clone()));
        kinds.extend(self.metrics.iter().map(|m| m.kind.clone()));
        let total = match &response["hits"]["total"] {
            Value::Number(n) => n.as_u64(),
            t => t["value"].as_u64(),
        }
        .unwrap_or(0);
        Ok(Figures {
            columns,
            kinds,
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
            let mut row = keys.clone();
            if spec.chart == Chart::Map {
                let centroid = &b[CENTROID]["location"];
                row.extend([
                    centroid["lat"].clone(),
                    centroid["lon"].clone(),
                    b["doc_count"].clone(),
                ]);
            }
            row.extend(spec.metrics.iter().map(|m| match m.kind.as_str() {
                "count" => b["doc_count"].clone(),
                _ => b[&m.id]["value"].clone(),
            }));
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
    fn a_table_has_a_column_per_metric() {
        let s = spec("places");
        assert_eq!(s.metrics.len(), 2);
        let r = s.request("arrived_at", range());
        let terms = &r["aggs"]["2"];
        assert_eq!(terms["terms"]["field"], "place.full_name");
        assert_eq!(terms["terms"]["order"], json!({"_count": "desc"}));
        assert_eq!(
            terms["aggs"]["3"],
            json!({"avg": {"field": "sentiment.score"}})
        );
        let response = json!({"hits": {"total": 3}, "aggregations": {"2": {"buckets": [
            {"key": "Manhattan, NY", "doc_count": 2, "3": {"value": 0.25}},
            {"key": "London, England", "doc_count": 1, "3": {"value": null}}]}}});
        let f = s.figures(&response).expect("figures");
        assert_eq!(f.kinds, vec!["key", "count", "avg"]);
        assert_eq!(
            f.rows,
            vec![
                vec![json!("Manhattan, NY"), json!(2), json!(0.25)],
                vec![json!("London, England"), json!(1), Value::Null]
            ]
        );
    }

    #[test]
    fn a_map_asks_for_cells_with_their_centroids() {
        let s = spec("sentiment-map");
        assert_eq!(s.chart, Chart::Map);
        let r = s.request("arrived_at", range());
        let grid = &r["aggs"]["2"];
        assert_eq!(grid["geohash_grid"]["field"], "location");
        assert!(grid["geohash_grid"]["precision"].as_u64().is_some());
        assert_eq!(
            grid["aggs"][CENTROID],
            json!({"geo_centroid": {"field": "location"}})
        );
        assert_eq!(
            grid["aggs"]["1"],
            json!({"avg": {"field": "sentiment.score"}})
        );
        let response = json!({"hits": {"total": {"value": 2}}, "aggregations": {"2": {"buckets": [
            {"key": "dr5", "doc_count": 2, "1": {"value": -0.5},
             CENTROID: {"location": {"lat": 40.7, "lon": -74.0}, "count": 2}}]}}});
        let f = s.figures(&response).expect("figures");
        assert_eq!(
            f.kinds,
            vec!["key", "coordinate", "coordinate", "count", "avg"]
        );
        assert_eq!(
            f.rows,
            vec![vec![
                json!("dr5"),
                json!(40.7),
                json!(-74.0),
                json!(2),
                json!(-0.5)
            ]]
        );
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
            (
                json!({"type": "tile_map", "aggs": [{"id": "1", "type": "count", "schema": "metric", "params": {}},
                {"id": "2", "type": "geohash_grid", "schema": "segment", "params": {"field": "g", "isFilteredByCollar": true}}]}),
                "isFilteredByCollar",
            ),
            (
                json!({"type": "line", "aggs": [{"id": "1", "type": "count", "schema": "metric", "params": {}},
                {"id": "3", "type": "avg", "schema": "metric", "params": {"field": "x"}},
                {"id": "2", "type": "terms", "schema": "segment", "params": {"field": "g"}}]}),
                "more than one metric",
            ),
        ] {
            let err = Spec::from_vis_state(&vis).expect_err(named);
            assert!(err.contains(named), "{err}");
        }
    }
}
