//! The document schema, the index template and the README's fields table agree: every
//! field a document can carry is mapped in `kibana/index-template.json` with a type that
//! fits its JSON value, nothing else is mapped, and transform/README.md documents each one.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeMap;

use serde_json::Value;
use test_support::{decoded, fixture_config, fixture_event, root, transform};

/// Every leaf path of a JSON object with the JSON kind of its value.
fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, &'static str>) {
    match value {
        // `{"lat": …, "lon": …}`: one geo_point.
        Value::Object(map)
            if map.len() == 2
                && map.get("lat").is_some_and(Value::is_f64)
                && map.get("lon").is_some_and(Value::is_f64) =>
        {
            out.insert(prefix.to_string(), "geo_point");
        }
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        Value::Array(items) => {
            let kind = items.first().map_or("string", |v| kind(v));
            out.insert(prefix.to_string(), kind);
        }
        other => {
            out.insert(prefix.to_string(), kind(other));
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        _ => "other",
    }
}

/// Every field the union of the fixture documents carries (nulls left out).
fn document_fields() -> BTreeMap<String, &'static str> {
    let mut fields = BTreeMap::new();
    for name in ["basic", "ugly", "places"] {
        for record in decoded(&transform(fixture_config(), &fixture_event(name)).0) {
            if let Some(doc) = record.document {
                let mut one = BTreeMap::new();
                leaves("", &doc, &mut one);
                for (k, v) in one {
                    if v != "other" {
                        fields.insert(k, v);
                    }
                }
            }
        }
    }
    fields
}

fn template_fields() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("kibana/index-template.json")).unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    let mappings = &template["template"]["mappings"];
    assert_eq!(
        mappings["dynamic"], "strict",
        "the index must never guess a type"
    );
    let mut out = BTreeMap::new();
    fn walk(prefix: &str, props: &Value, out: &mut BTreeMap<String, String>) {
        for (k, v) in props.as_object().unwrap() {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v.get("properties") {
                Some(inner) => walk(&path, inner, out),
                None => {
                    out.insert(path, v["type"].as_str().unwrap().to_string());
                }
            }
        }
    }
    walk("", &mappings["properties"], &mut out);
    out
}

#[test]
fn template_maps_exactly_the_document_fields_with_fitting_types() {
    let doc = document_fields();
    let template = template_fields();
    let doc_paths: Vec<&String> = doc.keys().collect();
    let template_paths: Vec<&String> = template.keys().collect();
    assert_eq!(
        doc_paths, template_paths,
        "document fields and template differ"
    );
    for (path, json_kind) in &doc {
        let mapped = template[path].as_str();
        let fits = match *json_kind {
            "boolean" => mapped == "boolean",
            "integer" => matches!(mapped, "integer" | "long" | "float"),
            "float" => mapped == "float",
            "geo_point" => mapped == "geo_point",
            "string" => matches!(mapped, "keyword" | "text" | "date"),
            _ => false,
        };
        assert!(fits, "{path}: a {json_kind} value mapped as {mapped}");
    }
    for date in ["created_at", "arrived_at", "processed_at"] {
        assert_eq!(template[date], "date");
    }
}

#[test]
fn readme_documents_every_field() {
    let readme = std::fs::read_to_string(root().join("transform/README.md")).unwrap();
    let template = template_fields();
    for (path, mapped) in &template {
        let row = format!("| `{path}` | {mapped} |");
        assert!(
            readme.contains(&row),
            "transform/README.md fields table lacks the row starting {row}"
        );
    }
}

/// Every `field` in a visualization's aggregations, with the aggregation's type.
fn agg_fields(vis_state: &Value) -> Vec<(String, String)> {
    vis_state["aggs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            let field = a["params"]["field"].as_str()?;
            Some((field.to_string(), a["type"].as_str()?.to_string()))
        })
        .collect()
}

#[test]
fn dashboards_use_only_mapped_aggregatable_fields_and_resolve_their_references() {
    let text = std::fs::read_to_string(root().join("kibana/dashboards.ndjson")).unwrap();
    let objects: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let template = template_fields();
    let ids: std::collections::BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["type"].as_str().unwrap().to_string(),
                o["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let pattern = objects
        .iter()
        .find(|o| o["type"] == "index-pattern")
        .unwrap();
    assert_eq!(
        pattern["attributes"]["title"], "social-posts*",
        "matches the template's index_patterns"
    );
    let time_field = pattern["attributes"]["timeFieldName"].as_str().unwrap();
    assert_eq!(template[time_field], "date");

    let mut visualizations = 0;
    for o in &objects {
        for r in o["references"].as_array().unwrap() {
            let key = (
                r["type"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            );
            assert!(ids.contains(&key), "{} refers to missing {key:?}", o["id"]);
        }
        if o["type"] != "visualization" {
            continue;
        }
        visualizations += 1;
        let vis_state: Value =
            serde_json::from_str(o["attributes"]["visState"].as_str().unwrap()).unwrap();
        let fields = agg_fields(&vis_state);
        assert!(!fields.is_empty(), "{} aggregates no field", o["id"]);
        for (f, aggregation) in fields {
            let mapped = template
                .get(&f)
                .unwrap_or_else(|| panic!("{}: field {f} is not in the index template", o["id"]));
            let takes: &[&str] = match aggregation.as_str() {
                "geohash_grid" | "geo_centroid" => &["geo_point"],
                _ => &["keyword", "date", "long", "integer", "float", "boolean"],
            };
            assert!(
                takes.contains(&mapped.as_str()),
                "{}: {f} is {mapped}, not aggregatable by {aggregation}",
                o["id"]
            );
        }
        let search: Value = serde_json::from_str(
            o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            search["indexRefName"],
            "kibanaSavedObjectMeta.searchSourceJSON.index"
        );
    }
    let dashboard = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
    let panels: Vec<Value> =
        serde_json::from_str(dashboard["attributes"]["panelsJSON"].as_str().unwrap()).unwrap();
    assert_eq!(
        panels.len(),
        visualizations,
        "every visualization is on the dashboard"
    );
    let refs: Vec<&str> = dashboard["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for p in &panels {
        assert!(refs.contains(&p["panelRefName"].as_str().unwrap()));
    }
}

fn saved_objects() -> Vec<Value> {
    std::fs::read_to_string(root().join("kibana/dashboards.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_index_pattern_lists_every_template_field_so_panels_work_before_the_first_index() {
    let objects = saved_objects();
    let pattern = objects
        .iter()
        .find(|o| o["type"] == "index-pattern")
        .unwrap();
    let fields: Vec<Value> =
        serde_json::from_str(pattern["attributes"]["fields"].as_str().unwrap()).unwrap();
    let listed: BTreeMap<String, (String, bool)> = fields
        .iter()
        .filter(|f| !f["name"].as_str().unwrap().starts_with('_'))
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                (
                    f["esTypes"][0].as_str().unwrap().to_string(),
                    f["aggregatable"].as_bool().unwrap(),
                ),
            )
        })
        .collect();
    // The template's fields, plus its multi-fields (`text.keyword`, `author.name.keyword`).
    let mut want: BTreeMap<String, (String, bool)> = template_fields()
        .into_iter()
        .map(|(path, mapped)| {
            let aggregatable = mapped != "text";
            (path, (mapped, aggregatable))
        })
        .collect();
    for parent in ["text", "author.name"] {
        want.insert(format!("{parent}.keyword"), ("keyword".into(), true));
    }
    assert_eq!(listed, want);
    let kinds: BTreeMap<&str, &str> = fields
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds["arrived_at"], "date");
    assert_eq!(kinds["sentiment.score"], "number");
    assert_eq!(kinds["categories"], "string");
    assert_eq!(kinds["_id"], "string");
}

#[test]
fn the_time_field_is_on_every_document_and_the_dashboard_opens_on_recent_data() {
    let objects = saved_objects();
    let pattern = objects
        .iter()
        .find(|o| o["type"] == "index-pattern")
        .unwrap();
    let time_field = pattern["attributes"]["timeFieldName"].as_str().unwrap();
    assert_eq!(time_field, "arrived_at");
    let mut documents = 0;
    for name in ["basic", "ugly", "places"] {
        for record in decoded(&transform(fixture_config(), &fixture_event(name)).0) {
            if let Some(doc) = record.document {
                documents += 1;
                assert!(
                    doc[time_field].is_string(),
                    "{}: no {time_field}",
                    record.record_id
                );
            }
        }
    }
    assert!(documents > 10);
    let dashboard = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
    let a = &dashboard["attributes"];
    assert_eq!(a["timeRestore"], true);
    assert_eq!(
        (a["timeFrom"].as_str(), a["timeTo"].as_str()),
        (Some("now-24h"), Some("now"))
    );
    for o in objects.iter().filter(|o| o["type"] == "visualization") {
        let vis: Value =
            serde_json::from_str(o["attributes"]["visState"].as_str().unwrap()).unwrap();
        for agg in vis["aggs"].as_array().unwrap() {
            if agg["type"] == "date_histogram" {
                // Over-time panels bucket by when the post was written, so a replayed
                // recording shows its own timeline; the time filter stays on arrived_at.
                assert_eq!(agg["params"]["field"], "created_at", "{}", o["id"]);
            }
        }
    }
}

#[test]
fn per_tag_panels_split_on_categories_and_value_axes_say_what_is_plotted() {
    for o in saved_objects()
        .iter()
        .filter(|o| o["type"] == "visualization")
    {
        let id = o["id"].as_str().unwrap();
        let vis: Value =
            serde_json::from_str(o["attributes"]["visState"].as_str().unwrap()).unwrap();
        let aggs = vis["aggs"].as_array().unwrap();
        for agg in aggs {
            assert_ne!(
                agg["params"]["field"], "category",
                "{id}: a post matching both tags counts for each only on categories"
            );
        }
        if !matches!(vis["type"].as_str(), Some("line" | "histogram" | "area")) {
            continue;
        }
        let metric = aggs.iter().find(|a| a["schema"] == "metric").unwrap();
        let axes = vis["params"]["valueAxes"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no valueAxes"));
        let title = axes[0]["title"]["text"].as_str().unwrap();
        let series = &vis["params"]["seriesParams"][0];
        assert_eq!(series["data"]["id"], metric["id"], "{id}");
        assert_eq!(series["valueAxis"], axes[0]["id"], "{id}");
        if metric["type"] == "avg" {
            let field = metric["params"]["field"].as_str().unwrap();
            assert_ne!(title, "Count", "{id}");
            let word = if field == "sentiment.score" {
                "sentiment"
            } else {
                "engagement"
            };
            assert!(
                title.to_lowercase().contains(word),
                "{id}: the axis says {title:?} for the mean of {field}"
            );
            assert!(
                series["data"]["label"]
                    .as_str()
                    .unwrap()
                    .starts_with("Mean"),
                "{id}"
            );
        } else {
            assert_eq!(metric["type"], "count");
            assert_eq!(title, "Posts", "{id}");
        }
    }
}
