use super::*;

fn docs() -> Vec<(String, String)> {
    fixture_docs("basic")
}

/// The `Ok` documents of `fixtures/expected/NAME.ndjson`, with their record ids (prefixed `NAME-`: the fixtures reuse ids).
fn fixture_docs(name: &str) -> Vec<(String, String)> {
    let path = format!(
        "{}/../../fixtures/expected/{name}.ndjson",
        env!("CARGO_MANIFEST_DIR")
    );
    let expected = std::fs::read_to_string(&path).expect(&path);
    expected
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["result"] == "Ok")
        .map(|r| {
            (
                format!("{name}-{}", r["recordId"].as_str().unwrap_or_default()),
                r["document"].to_string(),
            )
        })
        .collect()
}

fn filled(dir: &Path) -> Store {
    filled_with(dir, &docs())
}

/// A store at `dir` holding `docs`, committed.
fn filled_with(dir: &Path, docs: &[(String, String)]) -> Store {
    let store = Store::open(dir, Mode::Write).expect("open");
    let refused = store
        .add(
            docs.iter()
                .map(|(id, json)| (id.as_str(), "social-posts-2023-03-14", json.as_str())),
        )
        .expect("add");
    assert!(refused.iter().all(Option::is_none), "{refused:?}");
    store.commit().expect("commit");
    store
}

#[test]
fn aggregations_answer_what_the_documents_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(dir.path());
    let docs: Vec<Value> = docs()
        .iter()
        .map(|(_, d)| serde_json::from_str(d).expect("doc"))
        .collect();
    let response = store
        .search(
            "social-posts*",
            &json!({"size": 0, "aggs": {"c": {"terms": {"field": "categories", "size": 10},
                "aggs": {"s": {"avg": {"field": "sentiment.score"}}}}}}),
        )
        .expect("search");
    assert_eq!(response["hits"]["total"]["value"], docs.len());
    let buckets = response["aggregations"]["c"]["buckets"]
        .as_array()
        .expect("buckets");
    assert!(!buckets.is_empty());
    for b in buckets {
        let tag = b["key"].as_str().expect("key");
        let scores: Vec<f64> = docs
            .iter()
            .filter(|d| {
                d["categories"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c == tag))
            })
            .map(|d| d["sentiment"]["score"].as_f64().expect("score"))
            .collect();
        assert_eq!(b["doc_count"], scores.len(), "{tag}");
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let got = b["s"]["value"].as_f64().expect("avg");
        assert!((got - mean).abs() < 1e-6, "{tag}: {got} vs {mean}");
    }
}

#[test]
fn a_geohash_grid_and_its_centroids_are_those_of_the_located_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let docs: Vec<(String, String)> = [fixture_docs("basic"), fixture_docs("places")].concat();
    let store = filled_with(dir.path(), &docs);
    let located: Vec<Value> = docs
        .iter()
        .map(|(_, d)| serde_json::from_str::<Value>(d).expect("doc"))
        .filter(|d| d["location"].is_object())
        .collect();
    assert!(located.len() >= 2, "the places fixture has located posts");
    for precision in [1, 3, 5] {
        // Expected: the documents grouped by the geohash crate's cell of their point.
        let mut want: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
        for d in &located {
            let point = geohash::Coord {
                x: d["location"]["lon"].as_f64().expect("lon"),
                y: d["location"]["lat"].as_f64().expect("lat"),
            };
            let cell = geohash::encode(point, precision).expect("geohash");
            want.entry(cell).or_default().push(d);
        }
        let r = store
            .search(
                "social-posts*",
                &json!({"size": 0, "aggs": {"2": {"geohash_grid": {"field": "location", "precision": precision},
                    "aggs": {"1": {"avg": {"field": "sentiment.score"}},
                             "c": {"geo_centroid": {"field": "location"}}}}}}),
            )
            .expect("geohash_grid");
        let cells = r["aggregations"]["2"]["buckets"].as_array().expect("cells");
        assert_eq!(cells.len(), want.len(), "precision {precision}: {r}");
        let counts: Vec<u64> = cells
            .iter()
            .map(|c| c["doc_count"].as_u64().unwrap())
            .collect();
        assert!(
            counts.windows(2).all(|w| w[0] >= w[1]),
            "by count: {counts:?}"
        );
        for c in cells {
            let key = c["key"].as_str().expect("key");
            let members = &want[key];
            let n = members.len() as f64;
            let mean = |f: &dyn Fn(&Value) -> f64| members.iter().map(|d| f(d)).sum::<f64>() / n;
            assert_eq!(c["doc_count"].as_u64(), Some(members.len() as u64), "{key}");
            assert_eq!(
                c["c"]["count"].as_u64(),
                Some(members.len() as u64),
                "{key}"
            );
            for (got, expected) in [
                (
                    &c["1"]["value"],
                    mean(&|d| d["sentiment"]["score"].as_f64().unwrap()),
                ),
                (
                    &c["c"]["location"]["lat"],
                    mean(&|d| d["location"]["lat"].as_f64().unwrap()),
                ),
                (
                    &c["c"]["location"]["lon"],
                    mean(&|d| d["location"]["lon"].as_f64().unwrap()),
                ),
            ] {
                let got = got.as_f64().unwrap_or_else(|| panic!("{key}: {c}"));
                assert!((got - expected).abs() < 1e-9, "{key}: {got} vs {expected}");
            }
        }
    }
    // Under another bucket, and with no located document: a centroid of none.
    let r = store
        .search(
            "social-posts*",
            &json!({"size": 0, "aggs": {"t": {"terms": {"field": "lang", "size": 10},
                "aggs": {"c": {"geo_centroid": {"field": "location"}}}}}}),
        )
        .expect("terms + geo_centroid");
    let buckets = r["aggregations"]["t"]["buckets"]
        .as_array()
        .expect("buckets");
    assert!(!buckets.is_empty());
    let mut centroids = 0;
    for b in buckets {
        centroids += b["c"]["count"].as_u64().expect("count");
        if b["c"]["count"] == 0 {
            assert!(b["c"].get("location").is_none(), "{b}");
        }
    }
    assert_eq!(centroids, located.len() as u64);
}

#[test]
fn a_time_range_and_an_index_pattern_filter_as_opensearch_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(dir.path());
    let docs: Vec<Value> = docs()
        .iter()
        .map(|(_, d)| serde_json::from_str(d).expect("doc"))
        .collect();
    let from = "2023-03-14T15:09:27.000Z";
    let in_range = docs
        .iter()
        .filter(|d| d["arrived_at"].as_str().is_some_and(|t| t >= from))
        .count();
    assert!(
        in_range > 0 && in_range < docs.len(),
        "the fixture spans the bound"
    );
    let ranged = json!({"size": 0, "query": {"bool": {"filter": [{"range": {"arrived_at": {"gte": from, "format": "strict_date_optional_time"}}}]}}});
    let r = store.search("social-posts*", &ranged).expect("range");
    assert_eq!(r["hits"]["total"]["value"], in_range);
    let r = store.search("other-*", &ranged).expect("pattern");
    assert_eq!(r["hits"]["total"]["value"], 0);
    let r = store
        .search("other,social-posts-2023-03-14", &json!({"size": 0}))
        .expect("list");
    assert_eq!(r["hits"]["total"]["value"], docs.len());
}

#[test]
fn what_it_cannot_answer_it_refuses_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(dir.path());
    for (body, named) in [
        (json!({"size": 10}), "[size]"),
        (
            json!({"size": 0, "query": {"fuzzy": {"text": "cat"}}}),
            "[fuzzy]",
        ),
        (
            json!({"size": 0, "query": {"range": {"colour": {"gte": 1}}}}),
            "[colour]",
        ),
        (
            json!({"size": 0, "aggs": {"x": {"geohash_grid": {"field": "lang"}}}}),
            "[keyword] is not supported for aggregation [geohash_grid]",
        ),
        (
            json!({"size": 0, "aggs": {"x": {"geohash_grid": {"field": "location", "precision": 13}}}}),
            "Must be between 1 and 12",
        ),
        (
            json!({"size": 0, "aggs": {"x": {"geo_bounds": {"field": "location"}}}}),
            "aggregations",
        ),
    ] {
        let err = store.search("*", &body).expect_err(&body.to_string());
        assert!(err.to_string().contains(named), "{body}: {err}");
    }
}

#[test]
fn it_survives_a_restart_appends_and_a_redelivery_replaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = docs().len() as u64;
    drop(filled(dir.path()));
    let store = Store::open(dir.path(), Mode::Write).expect("reopen");
    assert_eq!(
        store.count(),
        n,
        "what was committed is there after a restart"
    );
    let (id, json) = docs().remove(0);
    store
        .add([(id.as_str(), "social-posts-2023-03-14", json.as_str())])
        .expect("again");
    store
        .add([("another-id", "social-posts-2023-03-15", json.as_str())])
        .expect("new");
    store.commit().expect("commit");
    assert_eq!(
        store.count(),
        n + 1,
        "the same _id replaced itself; a new one appended"
    );
}

#[test]
fn a_second_writer_is_refused_and_a_reader_sees_each_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = filled(dir.path());
    let err = Store::open(dir.path(), Mode::Write).expect_err("second writer");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    let reader = Store::open(dir.path(), Mode::Read).expect("reader");
    assert_eq!(reader.count(), writer.count());
    assert!(
        reader.add([("x", "i", "{}")]).is_err(),
        "a reader does not write"
    );
    let (_, json) = docs().remove(0);
    writer
        .add([("new", "social-posts-2023-03-14", json.as_str())])
        .expect("add");
    writer.commit().expect("commit");
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while reader.count() != writer.count() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        reader.count(),
        writer.count(),
        "the reader reloads on the writer's commit"
    );
}

#[test]
fn a_missing_unreadable_or_foreign_store_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(&dir.path().join("none"), Mode::Read).expect_err("missing");
    assert!(err.to_string().contains("no store here"), "{err}");
    std::fs::write(dir.path().join("meta.json"), "not json").expect("write");
    let err = Store::open(dir.path(), Mode::Write).expect_err("corrupt");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    let other = tempfile::tempdir().expect("tempdir");
    drop(
        Store::open_with(
            other.path(),
            Mode::Write,
            r#"{"mappings": {"properties": {"a": {"type": "keyword"}}}}"#,
        )
        .expect("other"),
    );
    let err = Store::open(other.path(), Mode::Write).expect_err("foreign");
    assert!(matches!(err, StoreError::Schema { .. }), "{err}");
}

#[test]
fn the_export_writes_each_document_once_per_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = filled(dir.path());
    let (id, json) = docs().remove(0);
    store
        .add([(id.as_str(), "social-posts-2023-03-14", json.as_str())])
        .expect("again");
    store.commit().expect("commit");
    let out = tempfile::tempdir().expect("tempdir");
    let files = store.export(out.path()).expect("export");
    assert_eq!(
        files,
        vec![(
            "social-posts-2023-03-14.ndjson".to_string(),
            docs().len() as u64
        )]
    );
    let text =
        std::fs::read_to_string(out.path().join("social-posts-2023-03-14.ndjson")).expect("read");
    let mut exported: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let mut expected: Vec<Value> = docs()
        .iter()
        .map(|(_, d)| serde_json::from_str(d).expect("doc"))
        .collect();
    let key = |v: &Value| v["post_id"].as_str().unwrap_or_default().to_string();
    exported.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(exported, expected);
}
