//! The two geo aggregations a map panel sends, over a `geo_point`, which tantivy has no
//! type for: the point is kept as two float columns, `PATH.lat` and `PATH.lon`
//! (`schema.rs`), and these aggregations are rewritten into tantivy's own before the
//! search, and their results back into OpenSearch's shape after it; the aggregating itself
//! stays tantivy's.
//!
//! - `geohash_grid` at precision p: geohash cells are a regular grid from (-90, -180),
//!   2^⌊5p/2⌋ rows by 2^⌈5p/2⌉ columns, so it becomes a `histogram` over `PATH.lat` (the
//!   cell's height as interval) whose buckets hold a `histogram` over `PATH.lon` (its
//!   width), the sub-aggregations inside; each non-empty cell is named by the `geohash`
//!   crate from its centre, and the cells are ordered by count, as OpenSearch orders them.
//! - `geo_centroid`: the mean point, as OpenSearch computes it for points: `stats` over
//!   `PATH.lat` (its count and mean) beside an `avg` over `PATH.lon`.

use serde_json::{json, Map, Value};

use crate::schema::{Kind, Mapping};
use crate::StoreError;

/// The inner histogram's name under a rewritten `geohash_grid`, and the suffix of a
/// rewritten `geo_centroid`'s longitude; `#` cannot start or end a name the panels use.
const LON: &str = "#lon";

/// OpenSearch's `geohash_grid` defaults: precision and size.
const PRECISION: usize = 5;
const SIZE: usize = 10_000;

/// Rewrites the geo aggregations of an `aggs` object into tantivy's.
pub fn rewrite(aggs: &Value, mapping: &Mapping) -> Result<Value, StoreError> {
    let Some(aggs) = aggs.as_object() else {
        return Ok(aggs.clone());
    };
    let mut out = Map::new();
    for (name, node) in aggs {
        let Some(body) = node.as_object() else {
            out.insert(name.clone(), node.clone());
            continue;
        };
        let sub = match sub_aggs(body) {
            Some(sub) => Some(rewrite(sub, mapping)?),
            None => None,
        };
        if let Some(grid) = body.get("geohash_grid") {
            let (field, precision) = grid_params(grid, mapping)?;
            let (rows, columns) = cells(precision);
            let mut lon = json!({"histogram": {"field": format!("{field}.lon"),
                "interval": 360.0 / columns, "min_doc_count": 1}});
            if let Some(sub) = sub {
                lon["aggs"] = sub;
            }
            out.insert(
                name.clone(),
                json!({"histogram": {"field": format!("{field}.lat"),
                    "interval": 180.0 / rows, "min_doc_count": 1},
                    "aggs": {LON: lon}}),
            );
        } else if let Some(centroid) = body.get("geo_centroid") {
            let field = geo_field(centroid, "geo_centroid", mapping)?;
            out.insert(
                name.clone(),
                json!({"stats": {"field": format!("{field}.lat")}}),
            );
            out.insert(
                format!("{name}{LON}"),
                json!({"avg": {"field": format!("{field}.lon")}}),
            );
        } else {
            let mut node = body.clone();
            if let Some(sub) = sub {
                node.remove("aggregations");
                node.insert("aggs".into(), sub);
            }
            out.insert(name.clone(), Value::Object(node));
        }
    }
    Ok(Value::Object(out))
}

/// Turns the results of [`rewrite`]'s aggregations back into OpenSearch's, given the
/// request's original `aggs`.
pub fn restore(aggs: &Value, result: &mut Value) -> Result<(), StoreError> {
    let (Some(aggs), Some(result)) = (aggs.as_object(), result.as_object_mut()) else {
        return Ok(());
    };
    for (name, node) in aggs {
        let Some(body) = node.as_object() else {
            continue;
        };
        let sub = sub_aggs(body);
        if let Some(grid) = body.get("geohash_grid") {
            // [`rewrite`] refused a bad precision before the search.
            let precision = grid["precision"].as_u64().map_or(PRECISION, |p| p as usize);
            let size = grid["size"].as_u64().map_or(SIZE, |s| s as usize);
            let histogram = result.remove(name).unwrap_or(Value::Null);
            let mut buckets = grid_buckets(&histogram, precision)?;
            for b in &mut buckets {
                if let Some(sub) = sub {
                    restore(sub, b)?;
                }
            }
            buckets.sort_by(|a, b| {
                let count = |v: &Value| v["doc_count"].as_u64().unwrap_or(0);
                count(b)
                    .cmp(&count(a))
                    .then_with(|| a["key"].as_str().cmp(&b["key"].as_str()))
            });
            buckets.truncate(size);
            result.insert(name.clone(), json!({"buckets": buckets}));
        } else if body.contains_key("geo_centroid") {
            let lat = result.remove(name).unwrap_or(Value::Null);
            let lon = result
                .remove(&format!("{name}{LON}"))
                .unwrap_or(Value::Null);
            let count = lat["count"].as_u64().unwrap_or(0);
            let centroid = match (lat["avg"].as_f64(), lon["value"].as_f64()) {
                (Some(lat), Some(lon)) if count > 0 => {
                    json!({"location": {"lat": lat, "lon": lon}, "count": count})
                }
                _ => json!({"count": 0}),
            };
            result.insert(name.clone(), centroid);
        } else if let Some(sub) = sub {
            match result.get_mut(name).map(|r| &mut r["buckets"]) {
                Some(Value::Array(buckets)) => {
                    for b in buckets {
                        restore(sub, b)?;
                    }
                }
                Some(Value::Object(keyed)) => {
                    for b in keyed.values_mut() {
                        restore(sub, b)?;
                    }
                }
                _ => {
                    if let Some(single) = result.get_mut(name) {
                        restore(sub, single)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn sub_aggs(body: &Map<String, Value>) -> Option<&Value> {
    body.get("aggs").or_else(|| body.get("aggregations"))
}

/// Rows and columns of the geohash grid at `precision`.
fn cells(precision: usize) -> (f64, f64) {
    let bits = 5 * precision as i32;
    (2f64.powi(bits / 2), 2f64.powi(bits - bits / 2))
}

/// The field and precision of a `geohash_grid`, refused as OpenSearch refuses them.
fn grid_params(grid: &Value, mapping: &Mapping) -> Result<(String, usize), StoreError> {
    let field = geo_field(grid, "geohash_grid", mapping)?;
    for key in grid.as_object().into_iter().flat_map(|g| g.keys()) {
        if !["field", "precision", "size", "shard_size"].contains(&key.as_str()) {
            return Err(StoreError::Unsupported(format!(
                "[geohash_grid] parameter [{key}]"
            )));
        }
    }
    let precision = match &grid["precision"] {
        Value::Null => PRECISION,
        p => p.as_u64().filter(|p| (1..=12).contains(p)).ok_or_else(|| {
            StoreError::Search(format!(
                "Invalid geohash aggregation precision of {p}. Must be between 1 and 12."
            ))
        })? as usize,
    };
    Ok((field, precision))
}

/// The `field` of a geo aggregation, which must be a mapped `geo_point`.
fn geo_field(params: &Value, aggregation: &str, mapping: &Mapping) -> Result<String, StoreError> {
    let field = params["field"].as_str().ok_or_else(|| {
        StoreError::Search(format!("Required [field] for aggregation [{aggregation}]"))
    })?;
    match mapping.field(field) {
        Some((_, Kind::GeoPoint)) => Ok(field.to_string()),
        Some((_, kind)) => Err(StoreError::Search(format!(
            "Field [{field}] of type [{}] is not supported for aggregation [{aggregation}]",
            kind.name()
        ))),
        None => Err(StoreError::Search(format!(
            "Field [{field}] is not mapped: no [{aggregation}] on it"
        ))),
    }
}

/// The cells of a rewritten `geohash_grid`'s result: each latitude bucket's longitude
/// buckets, named by geohash, with their sub-aggregations' results.
fn grid_buckets(histogram: &Value, precision: usize) -> Result<Vec<Value>, StoreError> {
    let (rows, columns) = cells(precision);
    let (height, width) = (180.0 / rows, 360.0 / columns);
    let mut out = Vec::new();
    for row in histogram["buckets"].as_array().into_iter().flatten() {
        let lat = row["key"].as_f64().unwrap_or(0.0) + height / 2.0;
        for cell in row[LON]["buckets"].as_array().into_iter().flatten() {
            let lon = cell["key"].as_f64().unwrap_or(0.0) + width / 2.0;
            // A point on the north pole or the antimeridian falls in the grid's last cell.
            let centre = geohash::Coord {
                x: lon.min(180.0 - width / 2.0),
                y: lat.min(90.0 - height / 2.0),
            };
            let key = geohash::encode(centre, precision)
                .map_err(|e| StoreError::Search(format!("geohash of {centre:?}: {e}")))?;
            let mut bucket = cell.as_object().cloned().unwrap_or_default();
            bucket.remove("key_as_string");
            bucket.insert("key".into(), Value::String(key));
            out.push(Value::Object(bucket));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_geohash_cells() {
        // Precision 1 (5 bits): 4 rows by 8 columns; 3 (15 bits): 128 by 256.
        assert_eq!(cells(1), (4.0, 8.0));
        assert_eq!(cells(3), (128.0, 256.0));
        for p in 1..=8 {
            let (rows, columns) = cells(p);
            let (height, width) = (180.0 / rows, 360.0 / columns);
            // The cell around a point, by the geohash crate, has the same size and edges.
            let point = geohash::Coord {
                x: -73.9857,
                y: 40.7484,
            };
            let hash = geohash::encode(point, p).expect("encode");
            let bbox = geohash::decode_bbox(&hash).expect("decode");
            assert!((bbox.max().y - bbox.min().y - height).abs() < 1e-9, "p={p}");
            assert!((bbox.max().x - bbox.min().x - width).abs() < 1e-9, "p={p}");
            assert!(
                ((bbox.min().y + 90.0) / height).fract().abs() < 1e-9,
                "p={p}"
            );
            assert!(
                ((bbox.min().x + 180.0) / width).fract().abs() < 1e-9,
                "p={p}"
            );
        }
    }
}
