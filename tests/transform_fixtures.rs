//! Every bundled fixture event through the handler: ids, order, results and the exact
//! documents, plus the cases a user checks by hand (both tags, entities, policy).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use serde_json::Value;
use test_support::{
    decoded, expected, fixture_config, fixture_event, fixture_names, transform, FIXTURE_NOW,
};
use transform::{response_len, RESPONSE_LIMIT_BYTES};
use transform::{Config, FirehoseEvent, RecordResult};
use transform_tools::events::DecodedRecord;

fn doc<'a>(records: &'a [DecodedRecord], post_id: &str) -> &'a Value {
    records
        .iter()
        .filter_map(|r| r.document.as_ref())
        .find(|d| d["post_id"] == post_id)
        .unwrap_or_else(|| panic!("no Ok document for post {post_id}"))
}

#[test]
fn every_fixture_gives_the_expected_response() {
    let names = fixture_names();
    assert!(names.len() >= 3, "fixtures missing: {names:?}");
    for name in names {
        let event = fixture_event(&name);
        let (response, report) = transform(fixture_config(), &event);

        let in_ids: Vec<&str> = event.records.iter().map(|r| r.record_id.as_str()).collect();
        let out_ids: Vec<&str> = response
            .records
            .iter()
            .map(|r| r.record_id.as_str())
            .collect();
        assert_eq!(in_ids, out_ids, "{name}: ids or order differ");

        for (input, output) in event.records.iter().zip(&response.records) {
            match output.result {
                RecordResult::ProcessingFailed => assert_eq!(output.data, input.data, "{name}"),
                RecordResult::Dropped => assert!(output.data.is_empty(), "{name}"),
                RecordResult::Ok => {}
            }
        }
        let json = serde_json::to_string(&response).unwrap();
        assert!(json.len() < RESPONSE_LIMIT_BYTES);
        assert_eq!(report.bytes_out as usize, json.len());
        assert_eq!(response_len(&response.records), json.len());
        assert_eq!(
            report.ok + report.dropped + report.failed,
            event.records.len() as u64
        );

        let got = decoded(&response);
        let want = expected(&name);
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{name}: record {} differs", w.record_id);
        }
    }
}

#[test]
fn ok_documents_are_single_line_json_with_schema_version() {
    let event = fixture_event("ugly");
    let (response, _) = transform(Config::default(), &event);
    use base64::Engine;
    for r in response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::Ok)
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&r.data)
            .unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(
            text.matches('\n').count(),
            1,
            "document spans lines: {text}"
        );
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["processed_at"], FIXTURE_NOW);
    }
}

#[test]
fn ugly_fixture_outcomes_are_the_ones_a_user_expects() {
    let event = fixture_event("ugly");
    let (response, report) = transform(Config::default(), &event);
    let records = decoded(&response);

    assert_eq!(report.failed_by_reason["invalid_base64"], 1);
    assert_eq!(report.failed_by_reason["invalid_utf8"], 1);
    assert_eq!(report.failed_by_reason["truncated_json"], 1);
    assert_eq!(report.failed_by_reason["missing_field"], 2);
    assert_eq!(report.failed_by_reason["wrong_type"], 2);
    assert_eq!(report.failed_by_reason["invalid_json"], 1);
    assert_eq!(report.failed_by_reason["empty_payload"], 1);
    assert_eq!(report.dropped_by_reason["retweet"], 1);

    let both = doc(&records, "1636001000000000113");
    assert_eq!(both["category"], "multiple");
    assert_eq!(both["categories"], serde_json::json!(["cats", "dogs"]));
    assert_eq!(
        both["text"],
        "my cat and my dog are best friends & partners in crime <3 #CatsAndDogs"
    );

    let escapes = doc(&records, "1636001000000000114");
    assert_eq!(
        escapes["text"],
        "Line one\nLine \"two\" \\ tab\there 🐱 犬と猫 🐕🐈 Zoë & Björn"
    );
    assert_eq!(escapes["created_at"], "2023-03-14T15:10:14.000Z");
    assert_eq!(escapes["text_length"], 51);

    let ja = doc(&records, "1636001000000000111");
    assert_eq!(ja["lang"], "ja");
    assert_eq!(ja["hashtags"], serde_json::json!(["猫", "ねこ"]));

    let bluesky = doc(&records, "at://did:plc:abc123/app.bsky.feed.post/3kq2xyz");
    assert_eq!(bluesky["source"], "bluesky");
    assert_eq!(bluesky["author"]["username"], "dogperson.bsky.social");

    let no_metrics = doc(&records, "1636001000000000115");
    assert_eq!(no_metrics["metrics"]["engagement"], 0);
    assert_eq!(no_metrics["author"]["username"], Value::Null);

    // The record near Firehose's 1,000 KiB limit is transformed, not failed.
    use base64::Engine;
    let big = event
        .records
        .iter()
        .position(|r| r.data.len() > 1_000_000)
        .expect("a record near 1,000 KiB");
    let big_len = base64::engine::general_purpose::STANDARD
        .decode(&event.records[big].data)
        .unwrap()
        .len();
    assert!(big_len > 1_000_000 && big_len <= 1_024_000, "{big_len}");
    assert_eq!(response.records[big].result, RecordResult::Ok);
}

#[test]
fn kinesis_source_events_give_the_same_documents_as_direct_put() {
    let direct = decoded(&transform(Config::default(), &fixture_event("basic")).0);
    let kinesis_event = fixture_event("basic-kinesis");
    assert!(kinesis_event.source_kinesis_stream_arn.is_some());
    assert!(kinesis_event
        .records
        .iter()
        .all(|r| r.kinesis_record_metadata.is_some()));
    let kinesis = decoded(&transform(Config::default(), &kinesis_event).0);
    assert_eq!(direct, kinesis);
}

#[test]
fn policy_from_configuration_drops_and_counts() {
    let config = Config::from_lookup(|k| match k {
        "LANGUAGES" => Some("en".into()),
        "DROP_RETWEETS" => Some("false".into()),
        "MIN_TEXT_LENGTH" => Some("25".into()),
        "SENTIMENT_BACKEND" => Some("none".into()),
        _ => None,
    })
    .unwrap();
    let (response, report) = transform(config, &fixture_event("ugly"));
    // The ja, ar and de posts.
    assert_eq!(report.dropped_by_reason["language"], 3);
    // "no rule tag on this one" has 23 characters.
    assert_eq!(report.dropped_by_reason["too_short"], 1);
    assert!(!report.dropped_by_reason.contains_key("retweet"));
    let records = decoded(&response);
    let rt = doc(&records, "1636001000000000110");
    assert_eq!(rt["is_retweet"], true);
    assert!(records
        .iter()
        .filter_map(|r| r.document.as_ref())
        .all(|d| d["sentiment"].is_null() && d["lang"] == "en"));
}

#[test]
fn an_empty_event_gives_an_empty_response() {
    let (response, report) = transform(Config::default(), &FirehoseEvent::default());
    assert!(response.records.is_empty());
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"records":[]}"#
    );
    assert_eq!(report.records, 0);
}
