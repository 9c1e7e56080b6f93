//! A JSON document into a tantivy document, as strictly as OpenSearch indexes it under our
//! template (`"dynamic": "strict"`): a field the template does not map is refused with
//! `strict_dynamic_mapping_exception`, a value that does not fit its type with
//! `mapper_parsing_exception`, each with OpenSearch's wording, so the local stream backs
//! them up exactly as Firehose would. OpenSearch's coercions are kept: numbers in strings,
//! `"true"`/`"false"`, a number for a keyword; `null` and empty arrays index nothing.

use std::collections::BTreeMap;

use serde_json::Value;
use tantivy::schema::Field;
use tantivy::{DateTime, TantivyDocument};

use crate::schema::{Kind, Mapping, Node};

/// Why a document cannot be indexed: OpenSearch's error type and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `mapper_parsing_exception` or `strict_dynamic_mapping_exception`.
    pub kind: &'static str,
    /// The reason, as OpenSearch words it.
    pub reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

/// Builds the tantivy document for `json` (its `_id`, `_index` and `_source` included).
pub fn build(
    mapping: &Mapping,
    id: &str,
    index: &str,
    json: &str,
) -> Result<TantivyDocument, Refused> {
    let value: Value = serde_json::from_str(json).map_err(|e| Refused {
        kind: "mapper_parsing_exception",
        reason: format!("failed to parse: {e}"),
    })?;
    let Value::Object(map) = &value else {
        return Err(Refused {
            kind: "mapper_parsing_exception",
            reason: "failed to parse, document is empty or not an object".into(),
        });
    };
    let mut doc = TantivyDocument::new();
    object(&mut doc, &mapping.root, "", map, id)?;
    doc.add_text(mapping.id, id);
    doc.add_text(mapping.index, index);
    doc.add_text(mapping.source, json);
    Ok(doc)
}

fn object(
    doc: &mut TantivyDocument,
    nodes: &BTreeMap<String, Node>,
    prefix: &str,
    map: &serde_json::Map<String, Value>,
    id: &str,
) -> Result<(), Refused> {
    for (name, value) in map {
        let path = format!("{prefix}{name}");
        let Some(node) = nodes.get(name) else {
            let within = match prefix.strip_suffix('.') {
                Some(p) => p.to_string(),
                None => "_doc".to_string(),
            };
            return Err(Refused {
                kind: "strict_dynamic_mapping_exception",
                reason: format!(
                    "mapping set to strict, dynamic introduction of [{name}] within [{within}] is not allowed"
                ),
            });
        };
        node_value(doc, node, &path, value, id)?;
    }
    Ok(())
}

fn node_value(
    doc: &mut TantivyDocument,
    node: &Node,
    path: &str,
    value: &Value,
    id: &str,
) -> Result<(), Refused> {
    match (node, value) {
        (_, Value::Null) => Ok(()),
        (_, Value::Array(items)) => {
            for item in items {
                node_value(doc, node, path, item, id)?;
            }
            Ok(())
        }
        (Node::Object(children), Value::Object(map)) => object(doc, children, &format!("{path}."), map, id),
        (Node::Object(_), _) => Err(Refused {
            kind: "mapper_parsing_exception",
            reason: format!(
                "object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value"
            ),
        }),
        (Node::Leaf { field, kind: Kind::GeoPoint, subfields }, v) => {
            let point = geo_point(v).map_err(|why| Refused {
                kind: "mapper_parsing_exception",
                reason: format!("failed to parse field [{path}] of type [geo_point] ({why})"),
            })?;
            doc.add_f64(*field, point.0);
            if let Some((lon, _)) = subfields.first() {
                doc.add_f64(*lon, point.1);
            }
            Ok(())
        }
        (Node::Leaf { field, kind, subfields }, v) => {
            add(doc, *field, *kind, v).map_err(|why| Refused {
                kind: "mapper_parsing_exception",
                reason: format!(
                    "failed to parse field [{path}] of type [{}] in document with id '{id}'. Preview of field's value: '{}'{}",
                    kind.name(),
                    preview(v),
                    why.map(|w| format!(" ({w})")).unwrap_or_default()
                ),
            })?;
            for (sub_field, sub_kind) in subfields {
                // A multi-field takes what it can; OpenSearch's `ignore_above` skips the rest.
                let _ = add(doc, *sub_field, *sub_kind, v);
            }
            Ok(())
        }
    }
}

fn preview(v: &Value) -> String {
    match v {
        Value::String(s) => s.chars().take(64).collect(),
        other => other.to_string().chars().take(64).collect(),
    }
}

/// Adds one value; `Err(Some(reason))` / `Err(None)` when it does not fit.
fn add(
    doc: &mut TantivyDocument,
    field: Field,
    kind: Kind,
    v: &Value,
) -> Result<(), Option<String>> {
    match kind {
        Kind::Keyword { ignore_above } => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(None),
            };
            if ignore_above.is_none_or(|max| s.chars().count() <= max) {
                doc.add_text(field, s);
            }
        }
        Kind::Text => match v {
            Value::String(s) => doc.add_text(field, s),
            Value::Number(_) | Value::Bool(_) => doc.add_text(field, v.to_string()),
            _ => return Err(None),
        },
        Kind::Long | Kind::Integer => {
            let n = match v {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or(None)?;
            if kind == Kind::Integer && i32::try_from(n).is_err() {
                return Err(Some(format!("Numeric value ({n}) out of range of int")));
            }
            doc.add_i64(field, n);
        }
        Kind::Float | Kind::GeoPoint => {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or(None)?;
            doc.add_f64(field, n);
        }
        Kind::Boolean => {
            let b = match v {
                Value::Bool(b) => *b,
                Value::String(s) if s == "true" => true,
                Value::String(s) if s == "false" || s.is_empty() => false,
                _ => return Err(None),
            };
            doc.add_bool(field, b);
        }
        Kind::Date => {
            let ms = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => parse_date(s),
                _ => None,
            }
            .ok_or_else(|| Some("not a strict_date_optional_time or epoch_millis".to_string()))?;
            doc.add_date(field, DateTime::from_timestamp_millis(ms));
        }
    }
    Ok(())
}

/// A `geo_point` as OpenSearch reads it: `{"lat": …, "lon": …}` or `"lat,lon"`; the
/// latitude and longitude, or why not (OpenSearch's words).
fn geo_point(v: &Value) -> Result<(f64, f64), String> {
    let (lat, lon) = match v {
        Value::Object(m) => (
            m.get("lat")
                .and_then(Value::as_f64)
                .ok_or("field [lat] missing")?,
            m.get("lon")
                .and_then(Value::as_f64)
                .ok_or("field [lon] missing")?,
        ),
        Value::String(s) => {
            let (a, b) = s.split_once(',').ok_or("expected \"lat,lon\"")?;
            (
                a.trim().parse().map_err(|_| "latitude is not a number")?,
                b.trim().parse().map_err(|_| "longitude is not a number")?,
            )
        }
        _ => return Err("expected an object {lat, lon}".into()),
    };
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("illegal latitude value [{lat}]"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("illegal longitude value [{lon}]"));
    }
    Ok((lat, lon))
}

/// `strict_date_optional_time`: `yyyy-MM-dd`, optionally `THH:mm[:ss[.fraction]]` and a zone
/// (`Z` or `±HH:mm`; none means UTC). Milliseconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_millis());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping::from_template(crate::INDEX_TEMPLATE).expect("template")
    }

    #[test]
    fn dates_in_every_form_the_template_accepts() {
        assert_eq!(
            parse_date("2026-12-01T10:00:00.000Z"),
            Some(1_796_119_200_000)
        );
        assert_eq!(
            parse_date("2026-12-01T11:00:00+01:00"),
            Some(1_796_119_200_000)
        );
        assert_eq!(parse_date("2026-12-01T10:00:00"), Some(1_796_119_200_000));
        assert_eq!(parse_date("2026-12-01"), Some(1_796_083_200_000));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2026-13-01"), None);
    }

    #[test]
    fn a_geo_point_is_kept_as_its_latitude_and_longitude_and_checked_as_opensearch_does() {
        let m = mapping();
        let doc = build(
            &m,
            "1",
            "i",
            r#"{"location": {"lat": 40.75, "lon": -73.99}}"#,
        )
        .unwrap();
        let (lat, _) = m.field("location.lat").unwrap();
        let (lon, _) = m.field("location.lon").unwrap();
        use tantivy::schema::Value as _;
        assert_eq!(doc.get_first(lat).and_then(|v| v.as_f64()), Some(40.75));
        assert_eq!(doc.get_first(lon).and_then(|v| v.as_f64()), Some(-73.99));
        assert!(build(&m, "2", "i", r#"{"location": "40.75,-73.99"}"#).is_ok());
        for (bad, why) in [
            (
                r#"{"location": {"lat": 140.7, "lon": 0}}"#,
                "illegal latitude value [140.7]",
            ),
            (
                r#"{"location": {"lat": 0, "lon": 190}}"#,
                "illegal longitude value [190]",
            ),
            (r#"{"location": {"lat": 1}}"#, "field [lon] missing"),
            (r#"{"location": 5}"#, "expected an object"),
        ] {
            let err = build(&m, "3", "i", bad).unwrap_err();
            assert_eq!(err.kind, "mapper_parsing_exception", "{bad}");
            assert!(
                err.reason.contains("[location] of type [geo_point]") && err.reason.contains(why),
                "{bad}: {}",
                err.reason
            );
        }
    }

    #[test]
    fn an_unmapped_field_is_refused_as_opensearch_refuses_it() {
        let err = build(
            &mapping(),
            "1",
            "i",
            r#"{"post_id": "1", "sentiment": {"mood": 1}}"#,
        )
        .expect_err("strict");
        assert_eq!(err.kind, "strict_dynamic_mapping_exception");
        assert!(
            err.reason.contains("[mood] within [sentiment]"),
            "{}",
            err.reason
        );
        let err = build(&mapping(), "1", "i", r#"{"colour": "red"}"#).expect_err("strict");
        assert!(
            err.reason.contains("[colour] within [_doc]"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn a_value_that_does_not_fit_its_type_is_a_mapper_parsing_exception() {
        for (doc, field) in [
            (
                r#"{"created_at": "not a date"}"#,
                "[created_at] of type [date]",
            ),
            (
                r#"{"text_length": 3000000000}"#,
                "[text_length] of type [integer]",
            ),
            (
                r#"{"metrics": {"likes": "many"}}"#,
                "[metrics.likes] of type [long]",
            ),
            (r#"{"has_media": "yes"}"#, "[has_media] of type [boolean]"),
            (r#"{"sentiment": 0.5}"#, "object mapping for [sentiment]"),
            (
                r#"{"author": {"id": {"x": 1}}}"#,
                "[author.id] of type [keyword]",
            ),
        ] {
            let err = build(&mapping(), "doc-1", "i", doc).expect_err(doc);
            assert_eq!(err.kind, "mapper_parsing_exception", "{doc}");
            assert!(err.reason.contains(field), "{doc}: {}", err.reason);
        }
    }

    #[test]
    fn opensearch_coercions_and_nulls_are_kept() {
        let m = mapping();
        let doc = build(
            &m,
            "1",
            "i",
            r#"{"metrics": {"likes": "12", "quotes": null}, "has_media": "true", "categories": ["cats", "dogs"], "hashtags": []}"#,
        )
        .expect("coerced");
        let (likes, _) = m.field("metrics.likes").expect("likes");
        let (categories, _) = m.field("categories").expect("categories");
        use tantivy::schema::document::Value as _;
        assert_eq!(doc.get_first(likes).and_then(|v| v.as_i64()), Some(12));
        assert_eq!(doc.get_all(categories).count(), 2);
    }
}
