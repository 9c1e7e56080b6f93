//! The dashboard preview in a real browser (headless Chromium through chromedriver): the
//! page loads without a console error, every panel of `kibana/dashboards.ndjson` is drawn,
//! and the figures it shows equal those computed here from the expected fixture documents
//! (places and the map included), over the embedded store and over osmem-server (the same
//! requests); a panel the page cannot draw says so by name while the others are drawn.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dashboard_preview::{saved, Backend, Dashboard, SavedObjects};
use search_store::{Mode, Store};
use serde_json::{json, Value};
use test_support::browser::{console_errors, Browser};

/// The fixture documents: every `Ok` document of `fixtures/expected/`.
fn documents() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for name in ["basic", "ugly", "places"] {
        let path = test_support::root().join(format!("fixtures/expected/{name}.ndjson"));
        for line in std::fs::read_to_string(&path)
            .expect("expected fixtures")
            .lines()
        {
            let r: Value = serde_json::from_str(line).expect("JSON");
            if r["result"] == "Ok" {
                docs.push((
                    format!("{name}-{}", r["recordId"].as_str().expect("id")),
                    r["document"].clone(),
                ));
            }
        }
    }
    docs
}

const INDEX: &str = "social-posts-2023-03-14";
/// The page's time range: the fixtures' day; `auto` makes 30-minute buckets.
const QUERY: &str = "?from=2023-03-14T00:00:00.000Z&to=2023-03-15T00:00:00.000Z";
const BUCKET_MS: i64 = 30 * 60 * 1000;

fn ms(v: &Value) -> Option<i64> {
    search_store::parse_date(v.as_str()?)
}

fn bucket_iso(v: &Value) -> Option<String> {
    let t = ms(v)?;
    Some(dashboard_preview::time::iso(t - t.rem_euclid(BUCKET_MS)))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// The map panel's geohash precision, from the saved objects.
fn map_precision() -> usize {
    let saved = SavedObjects::parse(saved::BUNDLED).expect("saved objects");
    let vis = &saved.visualizations["sentiment-map"].vis_state;
    vis["aggs"]
        .as_array()
        .expect("aggs")
        .iter()
        .find(|a| a["type"] == "geohash_grid")
        .and_then(|a| a["params"]["precision"].as_u64())
        .expect("the map's precision") as usize
}

type Rows = BTreeMap<Vec<String>, Vec<f64>>;
/// Reads a value of a document (`None`: it has none).
type ValueOf<'a> = dyn Fn(&Value) -> Option<f64> + 'a;
/// Per key: the count, and each value's sum and count.
type Sums = BTreeMap<Vec<String>, (f64, Vec<(f64, f64)>)>;

/// Expected rows per panel, computed from the documents: key(s) → values.
fn expected(docs: &[Value]) -> BTreeMap<&'static str, Rows> {
    // For each key of each document: the count, and the mean of each value it has.
    let group = |key_of: &dyn Fn(&Value) -> Vec<Vec<String>>, values: &[&ValueOf<'_>]| {
        let mut sums: Sums = BTreeMap::new();
        for d in docs {
            for k in key_of(d) {
                let e = sums
                    .entry(k)
                    .or_insert_with(|| (0.0, vec![(0.0, 0.0); values.len()]));
                e.0 += 1.0;
                for (i, value) in values.iter().enumerate() {
                    if let Some(v) = value(d) {
                        e.1[i].0 += v;
                        e.1[i].1 += 1.0;
                    }
                }
            }
        }
        sums.into_iter()
            .map(|(k, (n, means))| {
                let mut row = vec![n];
                row.extend(means.into_iter().map(|(s, n)| s / n));
                (k, row)
            })
            .collect::<Rows>()
    };
    let count = |key_of: &dyn Fn(&Value) -> Vec<Vec<String>>| group(key_of, &[]);
    let mean = |key_of: &dyn Fn(&Value) -> Vec<Vec<String>>,
                value: &dyn Fn(&Value) -> Option<f64>| {
        group(key_of, &[value])
            .into_iter()
            .map(|(k, row)| (k, vec![row[1]]))
            .collect::<Rows>()
    };
    let by = |field: &'static str| {
        move |d: &Value| {
            strings(d.pointer(field).unwrap_or(&Value::Null))
                .into_iter()
                .map(|s| vec![s])
                .collect::<Vec<_>>()
        }
    };
    let over_time = |d: &Value| {
        let Some(b) = bucket_iso(&d["created_at"]) else {
            return vec![];
        };
        strings(&d["categories"])
            .into_iter()
            .map(|c| vec![b.clone(), c])
            .collect()
    };
    let score = |d: &Value| d["sentiment"]["score"].as_f64();
    let lat = |d: &Value| d["location"]["lat"].as_f64();
    let lon = |d: &Value| d["location"]["lon"].as_f64();
    let precision = map_precision();
    let cell = |d: &Value| match (lat(d), lon(d)) {
        (Some(y), Some(x)) => vec![vec![
            geohash::encode(geohash::Coord { x, y }, precision).expect("geohash")
        ]],
        _ => vec![],
    };
    // A map cell: the centroid's latitude and longitude, the count, the mean sentiment.
    let map = group(&cell, &[&lat, &lon, &score])
        .into_iter()
        .map(|(k, r)| (k, vec![r[1], r[2], r[0], r[3]]))
        .collect();
    BTreeMap::from([
        ("posts-per-category", count(&by("/categories"))),
        ("sentiment-per-category", mean(&by("/categories"), &score)),
        ("posts-over-time", count(&over_time)),
        ("sentiment-over-time", mean(&over_time, &score)),
        ("sentiment-labels", count(&by("/sentiment/label"))),
        ("top-hashtags", count(&by("/hashtags"))),
        (
            "engagement-per-category",
            mean(&by("/categories"), &|d| d["metrics"]["engagement"].as_f64()),
        ),
        ("languages", count(&by("/lang"))),
        ("places", group(&by("/place/full_name"), &[&score])),
        ("regions", group(&by("/region"), &[&score])),
        ("sentiment-map", map),
    ])
}

/// A shown row as its keys and its values.
fn split(id: &str, row: &[String], keys: usize) -> (Vec<String>, Vec<f64>) {
    let values = row[keys..]
        .iter()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{id}: value {v} in {row:?}"))
        })
        .collect();
    (row[..keys].to_vec(), values)
}

/// Over osmem-server the map's cells are not compared one by one: its `geohash_grid`
/// (0.1.6) encodes latitude as longitude and back, so its cells differ from OpenSearch's.
/// What the cells add up to does not depend on how they are cut: the posts located, their
/// mean point and their mean sentiment.
fn assert_same_totals(shown: &[(Vec<String>, Vec<f64>)], want: &Rows) {
    let totals = |rows: &mut dyn Iterator<Item = &Vec<f64>>| {
        let (mut n, mut lat, mut lon, mut score) = (0.0, 0.0, 0.0, 0.0);
        for r in rows {
            n += r[2];
            lat += r[0] * r[2];
            lon += r[1] * r[2];
            score += r[3] * r[2];
        }
        [n, lat / n, lon / n, score / n]
    };
    let got = totals(&mut shown.iter().map(|(_, v)| v));
    let expected = totals(&mut want.values());
    assert!(expected[0] >= 2.0, "located fixture posts: {want:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-4, "map totals: {got:?} vs {expected:?}");
    }
}

/// Loads the page and checks everything it shows against the documents.
async fn check_page(url: &str, docs: &[Value], name: &str, exact_cells: bool) {
    let browser = Browser::start(1400, 3000).await;
    browser
        .client
        .goto(&format!("{url}{QUERY}"))
        .await
        .expect("the page loads");
    browser
        .wait_for(
            "return Number(document.body.dataset.refreshes || 0) >= 1 && !document.querySelector('section.panel[data-state=loading]')",
            "every panel answered",
            Duration::from_secs(30),
        )
        .await;
    let page = browser.dashboard().await;
    let console = browser.console().await;
    // For a look at what was checked (not compared: fonts differ between machines).
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(test_support::browser::screenshot_path(name), png).expect("screenshot");
    assert_eq!(
        console_errors(&console),
        Vec::<String>::new(),
        "console errors"
    );
    assert_eq!(page["errors"], json!([]), "page errors");
    let want = expected(docs);
    let panels = page["panels"].as_object().expect("panels");
    assert_eq!(
        panels.len(),
        want.len(),
        "every panel of the dashboard is on the page"
    );
    for (id, rows) in &want {
        let p = &panels[*id];
        assert_eq!(p["state"], "drawn", "{id}: {}", p["text"]);
        match *id {
            "top-hashtags" | "places" | "regions" => assert!(p["table"] == true, "{id} is a table"),
            _ => assert!(
                p["chart"].is_string() && p["painted"].as_u64() > Some(500),
                "{id} is a drawn chart: {p}"
            ),
        }
        let keys = match *id {
            "posts-over-time" | "sentiment-over-time" => 2,
            _ => 1,
        };
        let shown: Vec<Vec<String>> = serde_json::from_value(p["rows"].clone()).expect("rows");
        let shown: Vec<(Vec<String>, Vec<f64>)> =
            shown.iter().map(|r| split(id, r, keys)).collect();
        if *id == "sentiment-map" {
            assert_eq!(p["chart"], "bubble", "the map is a point map");
            if !exact_cells {
                assert_same_totals(&shown, rows);
                continue;
            }
        }
        assert_eq!(shown.len(), rows.len(), "{id}: {shown:?} vs {rows:?}");
        for (keys, values) in &shown {
            let expected = rows
                .get(keys)
                .unwrap_or_else(|| panic!("{id}: unexpected row {keys:?} {values:?}"));
            assert_eq!(values.len(), expected.len(), "{id} {keys:?}");
            for (value, expected) in values.iter().zip(expected) {
                assert!(
                    (value - expected).abs() < 1e-6,
                    "{id} {keys:?}: {values:?} vs {expected}"
                );
            }
        }
        if [
            "posts-per-category",
            "top-hashtags",
            "languages",
            "places",
            "regions",
        ]
        .contains(id)
        {
            let counts: Vec<f64> = shown.iter().map(|(_, v)| v[0]).collect();
            assert!(
                counts.windows(2).all(|w| w[0] >= w[1]),
                "{id} is ordered by count: {counts:?}"
            );
        }
    }
    let per_tag = &want["posts-per-category"];
    for t in page["tags"].as_array().expect("verdict tags") {
        let tag = t["tag"].as_str().expect("tag").to_string();
        assert_eq!(
            t["n"].as_f64(),
            per_tag.get(&vec![tag.clone()]).map(|r| r[0]),
            "{tag}: n"
        );
        let mean = want["sentiment-per-category"][&vec![tag.clone()]][0];
        assert!(
            (t["mean"].as_f64().expect("mean") - mean).abs() < 1e-6,
            "{tag}: mean"
        );
    }
    assert!(
        page["verdict"]
            .as_str()
            .is_some_and(|v| v.contains("Welch")),
        "{page}"
    );
}

fn embedded(dir: &std::path::Path) -> Arc<Store> {
    let store = Store::open(dir, Mode::Write).expect("store");
    let docs = documents();
    let json: Vec<(String, String)> = docs
        .iter()
        .map(|(id, d)| (id.clone(), d.to_string()))
        .collect();
    let refused = store
        .add(json.iter().map(|(id, d)| (id.as_str(), INDEX, d.as_str())))
        .expect("add");
    assert!(refused.iter().all(Option::is_none), "{refused:?}");
    store.commit().expect("commit");
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_figures_of_the_embedded_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = embedded(dir.path());
    let saved = SavedObjects::parse(saved::BUNDLED).expect("saved objects");
    let dashboard = Arc::new(Dashboard::new(saved, Backend::Embedded(store), None));
    let served = dashboard_preview::serve(dashboard, 0).await.expect("serve");
    let docs: Vec<Value> = documents().into_iter().map(|(_, d)| d).collect();
    check_page(&served.url, &docs, "preview-embedded.png", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_sends_the_same_requests_to_opensearch() {
    let server = test_support::servers::opensearch();
    let http = reqwest::Client::new();
    let template: Value = serde_json::from_str(search_store::INDEX_TEMPLATE).expect("template");
    let put = http
        .put(format!("{}/_index_template/social-posts", server.url))
        .json(&template)
        .send()
        .await
        .expect("template");
    assert!(
        put.status().is_success(),
        "{}",
        put.text().await.unwrap_or_default()
    );
    let mut bulk = String::new();
    for (id, d) in documents() {
        bulk.push_str(&json!({"index": {"_index": INDEX, "_id": id}}).to_string());
        bulk.push('\n');
        bulk.push_str(&d.to_string());
        bulk.push('\n');
    }
    let r = http
        .post(format!("{}/_bulk?refresh=true", server.url))
        .header("content-type", "application/x-ndjson")
        .body(bulk)
        .send()
        .await
        .expect("bulk");
    let r: Value = r.json().await.expect("bulk answer");
    assert_eq!(r["errors"], false, "{r}");
    let saved = SavedObjects::parse(saved::BUNDLED).expect("saved objects");
    let dashboard = Arc::new(Dashboard::new(
        saved,
        Backend::opensearch(&server.url).expect("client"),
        None,
    ));
    let served = dashboard_preview::serve(dashboard, 0).await.expect("serve");
    let docs: Vec<Value> = documents().into_iter().map(|(_, d)| d).collect();
    check_page(&served.url, &docs, "preview-opensearch.png", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_the_page_cannot_draw_says_so_and_the_rest_are_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = embedded(dir.path());
    // One visualization turned into a tag cloud, which the page does not draw.
    let broken = saved::BUNDLED
        .lines()
        .map(|l| match l.contains("\"id\":\"languages\"") {
            true => l.replace(
                "\\\"type\\\": \\\"pie\\\"",
                "\\\"type\\\": \\\"tagcloud\\\"",
            ),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let saved = SavedObjects::parse(&broken).expect("saved objects");
    let dashboard = Arc::new(Dashboard::new(saved, Backend::Embedded(store), None));
    let served = dashboard_preview::serve(dashboard, 0).await.expect("serve");
    let browser = Browser::start(1400, 3000).await;
    browser
        .client
        .goto(&format!("{}{QUERY}", served.url))
        .await
        .expect("the page loads");
    browser
        .wait_for(
            "return Number(document.body.dataset.refreshes || 0) >= 1",
            "a refresh",
            Duration::from_secs(30),
        )
        .await;
    let page = browser.dashboard().await;
    let languages = &page["panels"]["languages"];
    assert_eq!(languages["state"], "cannot-draw", "{languages}");
    let text = languages["text"].as_str().expect("text");
    assert!(
        text.contains("languages") && text.contains("[tagcloud]"),
        "{text}"
    );
    for (id, p) in page["panels"].as_object().expect("panels") {
        if id != "languages" {
            assert_eq!(p["state"], "drawn", "{id}");
        }
    }
    assert_eq!(
        console_errors(&browser.console().await),
        Vec::<String>::new()
    );
}
