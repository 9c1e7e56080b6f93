//! The transform's hand-written hot paths against `serde_json`, the reference.
//!
//! The payload reader (`transform::scan`): on generated posts, on the same posts with
//! random edits, and on every post of the bundled recording. Wherever the scanner reads a
//! post, serde must read the same post; and it must read the realistic posts (else the
//! fast path would be dead code). The document writer (`Document::write_json`): the same
//! bytes as `serde_json::to_vec` for every document those posts make.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader};

use proptest::prelude::*;
use serde_json::{json, Value};
use test_support::root;
use transform::bench::{clean, Cleaned};
use transform::Config;
use transform::StreamPost;
use transform::{Label, Sentiment};

/// Some(true): both read the same post; Some(false): the scanner declined; panics when
/// the scanner reads what serde refuses or reads it differently.
fn agree(text: &str) -> bool {
    let Some(fast) = transform::bench::scan_post(text) else {
        return false;
    };
    match serde_json::from_str::<StreamPost>(text) {
        Ok(slow) => {
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
            true
        }
        Err(err) => panic!("the scanner read a post serde refuses ({err}): {text}"),
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// In a place the model reads: the typical value, nothing, or (when `wild`) `null` or
/// any value at all.
fn field(typical: Value, wild: bool) -> impl Strategy<Value = Option<Value>> {
    let w = u32::from(wild);
    prop_oneof![
        6 => Just(Some(typical)),
        2 => Just(None),
        w => Just(Some(Value::Null)),
        w => any_json().prop_map(Some),
    ]
}

fn post_strategy(wild: bool) -> impl Strategy<Value = Value> {
    (
        (
            field(json!("1580000000000041421"), wild),
            field(json!("cats &amp; dogs \"quoted\" é 🐱 \\ / \u{7}"), wild),
            field(json!("2023-03-14T15:09:26.195Z"), wild),
            field(json!("en"), wild),
            field(json!({"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 0, "impression_count": 380}), wild),
            field(json!({"hashtags": [{"start": 1, "tag": "Meow"}], "mentions": [{"username": "Bob"}], "urls": [{"url": "u"}]}), wild),
            field(json!({"media_keys": ["3_1"]}), wild),
            field(json!([{"type": "quoted", "id": "9"}]), wild),
        ),
        (
            field(json!({"users": [{"id": "7", "username": "k", "name": "K", "public_metrics": {"followers_count": 5}}], "media": [{"media_key": "3_1", "type": "photo"}]}), wild),
            field(json!([{"id": "1", "tag": "cats"}, {"id": "2", "tag": "dogs"}]), wild),
            field(json!("bluesky"), wild),
            any_json(),
        ),
    )
        .prop_map(|((id, text, created, lang, metrics, entities, attachments, refs), (includes, rules, source, extra))| {
            let mut data = serde_json::Map::new();
            for (k, v) in [("id", id), ("text", text), ("created_at", created), ("lang", lang),
                ("public_metrics", metrics), ("entities", entities), ("attachments", attachments),
                ("referenced_tweets", refs)] {
                if let Some(v) = v {
                    data.insert(k.into(), v);
                }
            }
            data.insert("extra".into(), extra);
            let mut post = serde_json::Map::new();
            post.insert("data".into(), Value::Object(data));
            for (k, v) in [("includes", includes), ("matching_rules", rules), ("source", source)] {
                if let Some(v) = v {
                    post.insert(k.into(), v);
                }
            }
            Value::Object(post)
        })
}

/// An edit of the serialised text: cut it, replace a byte with a JSON-significant one,
/// or insert one.
#[derive(Debug, Clone)]
enum Edit {
    Cut(prop::sample::Index),
    Replace(prop::sample::Index, char),
    Insert(prop::sample::Index, char),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let ch = prop::sample::select(vec![
        '"', '\\', ',', ':', '{', '}', '[', ']', ' ', '0', '-', '.', 'e', 'n', 'u', '\n', '\u{1}',
    ]);
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Edit::Cut),
        (any::<prop::sample::Index>(), ch.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<prop::sample::Index>(), ch).prop_map(|(i, c)| Edit::Insert(i, c)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    match edit {
        Edit::Cut(i) => text[..*i.get(&boundaries)].to_string(),
        Edit::Replace(_, _) if text.is_empty() => String::new(),
        Edit::Replace(i, c) => {
            let at = *i.get(&boundaries[..boundaries.len() - 1]);
            let next = text[at..]
                .chars()
                .next()
                .map_or(at, |old| at + old.len_utf8());
            format!("{}{c}{}", &text[..at], &text[next..])
        }
        Edit::Insert(i, c) => {
            let at = *i.get(&boundaries);
            format!("{}{c}{}", &text[..at], &text[at..])
        }
    }
}

/// The document a post makes, written by hand and by serde: the same bytes. Returns
/// whether the post made a document.
fn writes_like_serde(text: &str, sentiment: Option<Sentiment>) -> bool {
    let Ok(post) = serde_json::from_str::<StreamPost>(text) else {
        return false;
    };
    let config = Config {
        drop_retweets: false,
        ..Config::default()
    };
    let Ok(Cleaned::Keep(mut doc)) =
        clean(post, 1_678_806_566_123, "2026-11-22T03:00:00.000Z", &config)
    else {
        return false;
    };
    doc.sentiment = sentiment;
    let mut hand = Vec::new();
    doc.write_json(&mut hand);
    assert_eq!(
        String::from_utf8(hand).unwrap(),
        serde_json::to_string(&doc).unwrap()
    );
    true
}

fn sentiment_strategy() -> impl Strategy<Value = Option<Sentiment>> {
    prop::option::of(
        (0.0f64..=1.0, 0.0f64..=1.0, any::<bool>()).prop_map(|(p, n, fallback)| Sentiment {
            label: if p > n {
                Label::Positive
            } else {
                Label::Negative
            },
            score: ((p - n) * 10_000.0).round() / 10_000.0,
            positive: p,
            negative: n,
            neutral: 1.0 - p.max(n),
            mixed: 0.0,
            analyzer: "vader",
            fallback,
        }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_scanner_never_disagrees_with_serde(post in post_strategy(true), edits in prop::collection::vec(edit_strategy(), 0..3)) {
        let mut text = serde_json::to_string(&post).unwrap();
        for edit in &edits {
            text = apply(&text, edit);
        }
        agree(&text);
    }

    #[test]
    fn the_scanner_reads_well_formed_posts(post in post_strategy(false)) {
        // Typical values in every place the model reads (any value elsewhere), pretty-printed:
        // wherever serde reads such a post, the scanner must read it too.
        let text = serde_json::to_string_pretty(&post).unwrap();
        if serde_json::from_str::<StreamPost>(&text).is_ok() {
            prop_assert!(agree(&text), "scanner declined: {}", text);
        }
    }

    #[test]
    fn documents_are_written_as_serde_writes_them(post in post_strategy(true), sentiment in sentiment_strategy()) {
        writes_like_serde(&serde_json::to_string(&post).unwrap(), sentiment);
    }
}

#[test]
fn the_scanner_reads_every_unlocated_post_of_the_bundled_recording() {
    let file =
        std::fs::File::open(root().join("fixtures/recorded/cats-dogs-2000.ndjson.gz")).unwrap();
    let (mut read, mut located) = (0, 0);
    for line in BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let line = line.unwrap();
        // A post with `geo` is left to serde_json (by design: a few in a hundred).
        let has_geo = serde_json::from_str::<Value>(&line).unwrap()["data"]["geo"].is_object();
        if has_geo {
            assert!(!agree(&line), "the scanner read a located post: {line}");
            located += 1;
        } else {
            assert!(agree(&line), "declined: {line}");
        }
        assert!(writes_like_serde(&line, None), "no document: {line}");
        read += 1;
    }
    assert_eq!(read, 2000);
    assert!((100..400).contains(&located), "{located} located posts");
}

#[test]
fn the_scanner_reads_the_readable_fixtures_serde_reads() {
    let mut read = 0;
    for name in ["basic", "ugly", "places"] {
        let text =
            std::fs::read_to_string(root().join(format!("fixtures/tweets/{name}.ndjson"))).unwrap();
        for line in text.lines().filter(|l| !l.contains("\"_fixture\"")) {
            if agree(line) {
                read += 1;
            }
            writes_like_serde(line, None);
        }
    }
    assert!(read >= 10, "the scanner read only {read} fixture posts");
}
