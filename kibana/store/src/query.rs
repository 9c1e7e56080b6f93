//! The query part of an OpenSearch search request, as a tantivy query. Tantivy reads the
//! aggregation part itself (its aggregation requests follow the Elasticsearch JSON), but
//! not the query DSL, so this maps the part of it a dashboard sends: `match_all`, `bool`
//! (`must`, `filter`, `should`, `must_not`), `range` (on dates: ISO strings or epoch
//! milliseconds; on numbers), `term`, `terms`, `exists`, and `query_string` / `match` of
//! `*`. Anything else is refused by name rather than answered wrongly.

use std::ops::Bound;

use serde_json::Value;
use tantivy::query::{
    AllQuery, BooleanQuery, ExistsQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DateTime, Term};

use crate::document::parse_date;
use crate::schema::{Kind, Mapping};
use crate::StoreError;

/// The tantivy query for an OpenSearch query object.
pub fn translate(mapping: &Mapping, query: &Value) -> Result<Box<dyn Query>, StoreError> {
    let unsupported = |what: String| StoreError::Unsupported(format!("query {what}"));
    let Some((kind, body)) = query
        .as_object()
        .and_then(|o| (o.len() == 1).then(|| o.iter().next()))
        .flatten()
    else {
        return Err(unsupported(format!(
            "{query} (one clause per object expected)"
        )));
    };
    match kind.as_str() {
        "match_all" => Ok(Box::new(AllQuery)),
        "bool" => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let body = body
                .as_object()
                .ok_or_else(|| unsupported(format!("bool {body}")))?;
            for (key, occur) in [
                ("must", Occur::Must),
                ("filter", Occur::Must),
                ("should", Occur::Should),
                ("must_not", Occur::MustNot),
            ] {
                let items = match body.get(key) {
                    None => continue,
                    Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                    Some(one) => vec![one],
                };
                for item in items {
                    clauses.push((occur, translate(mapping, item)?));
                }
            }
            if let Some(other) = body
                .keys()
                .find(|k| !["must", "filter", "should", "must_not"].contains(&k.as_str()))
            {
                return Err(unsupported(format!("bool.{other}")));
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Ok(Box::new(BooleanQuery::new(clauses)))
        }
        "range" => {
            let (path, bounds) =
                single(body).ok_or_else(|| unsupported(format!("range {body}")))?;
            let (field, kind) = field(mapping, path)?;
            let term = |v: &Value| -> Result<Term, StoreError> {
                let bad = || {
                    StoreError::Unsupported(format!(
                        "range bound {v} on [{path}] ({})",
                        kind.name()
                    ))
                };
                Ok(match kind {
                    Kind::Date => {
                        let ms = match v {
                            Value::Number(n) => n.as_i64(),
                            Value::String(s) => parse_date(s),
                            _ => None,
                        }
                        .ok_or_else(bad)?;
                        Term::from_field_date(field, DateTime::from_timestamp_millis(ms))
                    }
                    Kind::Long | Kind::Integer => {
                        Term::from_field_i64(field, v.as_i64().ok_or_else(bad)?)
                    }
                    Kind::Float => Term::from_field_f64(field, v.as_f64().ok_or_else(bad)?),
                    _ => Term::from_field_text(field, v.as_str().ok_or_else(bad)?),
                })
            };
            let mut lower = Bound::Unbounded;
            let mut upper = Bound::Unbounded;
            for (key, v) in bounds.as_object().into_iter().flatten() {
                match key.as_str() {
                    "gte" => lower = Bound::Included(term(v)?),
                    "gt" => lower = Bound::Excluded(term(v)?),
                    "lte" => upper = Bound::Included(term(v)?),
                    "lt" => upper = Bound::Excluded(term(v)?),
                    "format" => {
                        let f = v.as_str().unwrap_or_default();
                        if !f.split("||").all(|f| {
                            [
                                "strict_date_optional_time",
                                "epoch_millis",
                                "date_optional_time",
                            ]
                            .contains(&f)
                        }) {
                            return Err(unsupported(format!("range format {f}")));
                        }
                    }
                    other => return Err(unsupported(format!("range.{other}"))),
                }
            }
            Ok(Box::new(RangeQuery::new(lower, upper)))
        }
        "term" | "terms" => {
            let (path, value) =
                single(body).ok_or_else(|| unsupported(format!("{kind} {body}")))?;
            let (field, field_kind) = field(mapping, path)?;
            let value = value.get("value").unwrap_or(value);
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            let terms = values
                .into_iter()
                .map(|v| match (field_kind, v) {
                    (Kind::Keyword { .. } | Kind::Text, Value::String(s)) => {
                        Ok(Term::from_field_text(field, s))
                    }
                    (Kind::Long | Kind::Integer, v) if v.is_i64() => {
                        Ok(Term::from_field_i64(field, v.as_i64().unwrap_or_default()))
                    }
                    (Kind::Boolean, Value::Bool(b)) => Ok(Term::from_field_bool(field, *b)),
                    _ => Err(unsupported(format!(
                        "{kind} {v} on [{path}] ({})",
                        field_kind.name()
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match terms.len() {
                1 => Box::new(TermQuery::new(
                    terms.into_iter().next().expect("one"),
                    IndexRecordOption::Basic,
                )),
                _ => Box::new(TermSetQuery::new(terms)),
            })
        }
        "exists" => {
            let path = body
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| unsupported(format!("exists {body}")))?;
            field(mapping, path)?;
            Ok(Box::new(ExistsQuery::new(path.to_string(), false)))
        }
        "query_string" | "simple_query_string"
            if body.get("query").and_then(Value::as_str) == Some("*") =>
        {
            Ok(Box::new(AllQuery))
        }
        other => Err(unsupported(format!("[{other}]"))),
    }
}

fn single(body: &Value) -> Option<(&str, &Value)> {
    let o = body.as_object()?;
    (o.len() == 1)
        .then(|| o.iter().next().map(|(k, v)| (k.as_str(), v)))
        .flatten()
}

fn field(mapping: &Mapping, path: &str) -> Result<(tantivy::schema::Field, Kind), StoreError> {
    mapping.field(path).ok_or_else(|| {
        StoreError::Unsupported(format!(
            "query on [{path}], which the index template does not map"
        ))
    })
}
