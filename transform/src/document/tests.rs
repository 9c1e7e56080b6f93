//! The document's tests: cleaning, the policy, times, text, and the hand writer held to
//! serde_json.

use chrono::{SecondsFormat, TimeZone, Utc};

use super::text::decode_entities;
use super::time::*;
use super::*;
use crate::config::{Config, MultiCategory};
use crate::post::StreamPost;

fn post(json: &str) -> StreamPost<'_> {
    serde_json::from_str(json).unwrap()
}

fn keep<'a>(json: &'a str, config: &Config) -> Document<'a> {
    match clean(
        post(json),
        1_700_000_000_123,
        "2026-01-01T00:00:00.000Z",
        config,
    )
    .unwrap()
    {
        Cleaned::Keep(doc) => doc,
        Cleaned::Drop(r) => panic!("dropped: {r:?}"),
    }
}

#[test]
fn canonical_shape_is_digits_and_separators_where_they_belong() {
    let by_bytes = |v: &str| {
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        v.len() == 24
            && v.bytes().zip(shape).all(|(b, &want)| {
                if want == b'd' {
                    b.is_ascii_digit()
                } else {
                    b == want
                }
            })
    };
    let good = "2023-03-14T15:09:26.195Z";
    assert!(has_canonical_shape(good));
    // Every byte of a good time replaced by every byte value.
    for at in 0..24 {
        for b in 0..=255u8 {
            let mut bytes = good.as_bytes().to_vec();
            bytes[at] = b;
            if let Ok(v) = std::str::from_utf8(&bytes) {
                assert_eq!(has_canonical_shape(v), by_bytes(v), "{v:?}");
            }
        }
    }
    for v in [
        "",
        "2023-03-14T15:09:26Z",
        "2023-03-14T15:09:26.195Z ",
        "2023-03-14 15:09:26.195Z",
    ] {
        assert_eq!(has_canonical_shape(v), by_bytes(v), "{v:?}");
    }
}

#[test]
fn the_arrival_clock_formats_as_iso_millis_does() {
    let mut clock = ArrivalClock::default();
    let mut ms = 1_678_806_565_990;
    // Steps within a second, across seconds, minutes, a day, a year; then back in
    // time, the epoch, and times outside the hand-made range.
    for step in [
        0,
        3,
        7,
        1,
        999,
        1000,
        17,
        60_000,
        86_400_000,
        31_536_000_000,
    ] {
        ms += step;
        assert_eq!(clock.format(ms), iso_millis(ms), "{ms}");
        assert_eq!(clock.format(ms + 1), iso_millis(ms + 1), "{}", ms + 1);
    }
    for ms in [
        ms - 86_400_000,
        0,
        999,
        1000,
        -1,
        -1001,
        253_402_300_799_999,
        253_402_300_800_000,
        5,
    ] {
        assert_eq!(clock.format(ms), iso_millis(ms), "{ms}");
    }
}

#[test]
fn entities_are_decoded() {
    assert_eq!(
        decode_entities("cats &amp; dogs &lt;3 &gt;_&lt;".into()),
        "cats & dogs <3 >_<"
    );
    assert_eq!(decode_entities("&#39;hi&#x1F431;&quot;".into()), "'hi🐱\"");
    assert_eq!(
        decode_entities("AT&T & &bogus; &#xZZ; &".into()),
        "AT&T & &bogus; &#xZZ; &"
    );
    assert_eq!(decode_entities("&amp;amp;".into()), "&amp;");
    assert_eq!(decode_entities("&#0; &#1114112;".into()), "&#0; &#1114112;");
    assert_eq!(decode_entities("é&amp".into()), "é&amp");
}

#[test]
fn a_full_post_becomes_the_documented_fields() {
    let doc = keep(
        r#"{"data":{"id":"42","text":"Cats &amp; dogs #Caturday #caturday @Bob https://t.co/x",
        "created_at":"2023-03-14T15:09:26.000Z","lang":"EN","author_id":"7",
        "public_metrics":{"retweet_count":1,"reply_count":2,"like_count":3,"quote_count":4,"bookmark_count":5,"impression_count":100},
        "entities":{"hashtags":[{"tag":"Caturday"},{"tag":"caturday"}],"mentions":[{"username":"Bob"}],"urls":[{"url":"https://t.co/x"}]},
        "attachments":{"media_keys":["3_1","3_2","7_1"]},
        "referenced_tweets":[{"type":"quoted","id":"9"}]},
        "includes":{"users":[{"id":"7","username":"kitty","name":"Kit","public_metrics":{"followers_count":12}}],
                    "media":[{"media_key":"3_1","type":"photo"},{"media_key":"3_2","type":"photo"},{"media_key":"7_1","type":"video"}]},
        "matching_rules":[{"id":"1","tag":"cats"},{"id":"2","tag":"dogs"},{"id":"3","tag":"cats"}]}"#,
        &Config::default(),
    );
    assert_eq!(
        doc.text,
        "Cats & dogs #Caturday #caturday @Bob https://t.co/x"
    );
    assert_eq!(doc.text_length, 51);
    assert_eq!(doc.lang.as_deref(), Some("en"));
    assert_eq!(doc.created_at.as_deref(), Some("2023-03-14T15:09:26.000Z"));
    assert_eq!(doc.arrived_at, "2023-11-14T22:13:20.123Z");
    assert_eq!(doc.categories.as_slice(), ["cats", "dogs"]);
    assert_eq!(doc.category, "multiple");
    assert_eq!(doc.author.username.as_deref(), Some("kitty"));
    assert_eq!(doc.author.followers, Some(12));
    assert_eq!(doc.metrics.engagement, 15);
    assert_eq!(doc.metrics.impressions, Some(100));
    assert_eq!(doc.media_types.as_slice(), ["photo", "video"]);
    assert!(doc.has_media);
    assert_eq!(doc.hashtags.as_slice(), ["caturday"]);
    assert_eq!(doc.mentions.as_slice(), ["bob"]);
    assert_eq!(doc.url_count, 1);
    assert!(doc.is_quote && !doc.is_reply && !doc.is_retweet);
    assert_eq!(doc.source, "x");
}

#[test]
fn primary_category_policy() {
    let both = r#"{"data":{"id":"1","text":"t"},"matching_rules":[{"tag":"dogs"},{"tag":"cats"}]}"#;
    let first = Config {
        multi_category: MultiCategory::First,
        ..Config::default()
    };
    assert_eq!(keep(both, &first).category, "dogs");
    assert_eq!(keep(both, &Config::default()).category, "multiple");
    let none = r#"{"data":{"id":"1","text":"t"},"matching_rules":[{"id":"5"}]}"#;
    assert_eq!(keep(none, &Config::default()).category, "uncategorized");
    assert!(keep(none, &Config::default()).categories.is_empty());
}

#[test]
fn policy_drops_on_purpose() {
    let rt = r#"{"data":{"id":"1","text":"RT @a: hi","lang":"en"}}"#;
    let es = r#"{"data":{"id":"1","text":"hola mundo","lang":"es"}}"#;
    let no_lang = r#"{"data":{"id":"1","text":"hello"}}"#;
    let drop = |json: &str, config: &Config| match clean(post(json), 0, "", config).unwrap() {
        Cleaned::Drop(r) => Some(r),
        Cleaned::Keep(_) => None,
    };
    let default = Config::default();
    assert_eq!(drop(rt, &default), Some(DropReason::Retweet));
    let keep_rt = Config {
        drop_retweets: false,
        ..Config::default()
    };
    assert_eq!(drop(rt, &keep_rt), None);
    let en_only = Config {
        languages: Some(vec!["en".into()]),
        ..Config::default()
    };
    assert_eq!(drop(es, &en_only), Some(DropReason::Language));
    assert_eq!(drop(no_lang, &en_only), Some(DropReason::Language));
    let min = Config {
        min_text_length: 6,
        ..Config::default()
    };
    assert_eq!(drop(no_lang, &min), Some(DropReason::TooShort));
    assert_eq!(drop(es, &min), None);
}

#[test]
fn lists_keep_first_occurrences_in_order_without_empty_items() {
    let doc = keep(
        r#"{"data":{"id":"1","text":"hi",
        "entities":{"hashtags":[{"tag":"Dogs"},{"tag":""},{"tag":"DOGS"},{"tag":"Ärger"},{"tag":"cats"}],
                    "mentions":[{"username":"Bob"},{"username":"bob"},{"username":""}]}},
        "matching_rules":[{"tag":""},{"tag":"Dogs"},{"id":"9"},{"tag":"cats"},{"tag":"Dogs"},{"tag":null}]}"#,
        &Config::default(),
    );
    // Rule tags are kept as written (only repeats and empty tags go); hashtags and
    // mentions are lower-cased first, so `Dogs` and `DOGS` are one.
    assert_eq!(doc.categories.as_slice(), ["Dogs", "cats"]);
    assert_eq!(doc.hashtags.as_slice(), ["dogs", "ärger", "cats"]);
    assert_eq!(doc.mentions.as_slice(), ["bob"]);
    assert_eq!(doc.arrived_at.to_string(), "2023-11-14T22:13:20.123Z");
    assert_eq!(
        format!("{:?}", doc.arrived_at),
        "\"2023-11-14T22:13:20.123Z\""
    );
}

#[test]
fn arrival_times_are_formatted_as_chrono_formats_them() {
    let chrono = |ms: i64| {
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    // Every 97th day from 1970 to 9999 (leap days and century years included), at a
    // time of day that moves through the day.
    for day in (0..2_932_897_i64).step_by(97) {
        let ms = day * 86_400_000 + (day * 7_919_993) % 86_400_000;
        assert_eq!(iso_millis(ms).as_str(), chrono(ms), "{ms}");
    }
    for ms in [
        0,
        951_782_400_000,
        4_107_542_399_999,
        253_402_300_799_999,
        253_402_300_800_000,
        -1,
        -62_135_596_800_000,
    ] {
        assert_eq!(iso_millis(ms).as_str(), chrono(ms), "{ms}");
    }
}

#[test]
fn created_at_is_normalised_to_utc_millis() {
    assert_eq!(
        normalise_time("2023-03-14T17:09:26+02:00".into()),
        "2023-03-14T15:09:26.000Z"
    );
    assert_eq!(normalise_time("yesterday".into()), "yesterday");
    assert_eq!(
        normalise_time("2023-03-14T15:09:26.195Z".into()),
        "2023-03-14T15:09:26.195Z"
    );
    assert_eq!(
        normalise_time("2023-03-14T15:09:26.19Z".into()),
        "2023-03-14T15:09:26.190Z"
    );
    assert_eq!(
        normalise_time("2023-13-45T15:09:26.195Z".into()),
        "2023-13-45T15:09:26.195Z"
    );
}

#[test]
fn empty_id_is_an_error() {
    let err = clean(
        post(r#"{"data":{"id":"","text":"x"}}"#),
        0,
        "",
        &Config::default(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "empty_field");
}
