//! Property tests of the Firehose contract over random batches of valid and invalid
//! records: every record id exactly once, in order; only the three results; `Ok` data is
//! one JSON line for the same post; `ProcessingFailed` carries the original bytes; the
//! counters add up; the response respects the size limit.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};
use test_support::transform;
use transform::{response_len, FirehoseRecord};
use transform::{Config, FirehoseEvent, RecordResult};

/// What a generated record is, so the test knows what must come out.
#[derive(Debug, Clone)]
enum Kind {
    Post { id: String, retweet: bool },
    Garbage,
}

fn post_strategy() -> impl Strategy<Value = (Vec<u8>, Kind)> {
    (
        "[0-9]{1,19}",
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec!["cats", "dogs", "birds", ""]),
            0..4,
        ),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["en", "es", "ja", "und"])),
    )
        .prop_map(|(id, text, tags, retweet, newline, lang)| {
            let rules: Vec<Value> = tags.iter().map(|t| json!({"id": "1", "tag": t})).collect();
            let mut data = json!({"id": id, "text": text, "lang": lang});
            if retweet {
                data["referenced_tweets"] = json!([{"type": "retweeted", "id": "9"}]);
            }
            let mut bytes =
                serde_json::to_vec(&json!({"data": data, "matching_rules": rules})).unwrap();
            if newline {
                bytes.push(b'\n');
            }
            (bytes, Kind::Post { id, retweet })
        })
}

fn garbage_strategy() -> impl Strategy<Value = (Vec<u8>, Kind)> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // A valid post cut short.
        (post_strategy(), any::<prop::sample::Index>()).prop_map(|((bytes, _), at)| {
            let cut = at.index(bytes.len().saturating_sub(2).max(1));
            bytes[..cut].to_vec()
        }),
        Just(br#"{"data":{"text":"no id"}}"#.to_vec()),
        Just(br#"{"data":{"id":7,"text":"numeric id"}}"#.to_vec()),
    ]
    .prop_map(|bytes| (bytes, Kind::Garbage))
}

/// A record: (base64 data as sent, raw bytes if the data is valid base64, kind).
fn record_strategy() -> impl Strategy<Value = (String, Kind)> {
    prop_oneof![
        4 => post_strategy().prop_map(|(b, k)| (STANDARD.encode(b), k)),
        2 => garbage_strategy().prop_map(|(b, k)| (STANDARD.encode(b), k)),
        1 => "[A-Za-z0-9+/=!@ ]{0,40}".prop_map(|s| (s, Kind::Garbage)),
    ]
}

fn event(records: &[(String, Kind)], ids: &[String]) -> FirehoseEvent {
    FirehoseEvent {
        records: records
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(i, ((data, _), id))| FirehoseRecord {
                record_id: id.clone(),
                approximate_arrival_timestamp: 1_678_806_566_000 + i as i64,
                data: data.clone(),
                kinesis_record_metadata: None,
            })
            .collect(),
        ..FirehoseEvent::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn contract_holds_for_any_batch(
        records in prop::collection::vec(record_strategy(), 0..40),
        dup_every in 0usize..5,
    ) {
        // Unique ids, except that some batches repeat an id on purpose.
        let ids: Vec<String> = (0..records.len())
            .map(|i| if dup_every > 0 && i % (dup_every + 3) == 1 { "dup".to_string() } else { format!("r{i}") })
            .collect();
        let ev = event(&records, &ids);
        let (resp, report) = transform(Config::default(), &ev);

        prop_assert_eq!(resp.records.len(), ev.records.len());
        let json = serde_json::to_string(&resp).unwrap();
        prop_assert_eq!(response_len(&resp.records), json.len());
        prop_assert_eq!(report.ok + report.dropped + report.failed, ev.records.len() as u64);

        for ((input, output), (_, kind)) in ev.records.iter().zip(&resp.records).zip(&records) {
            prop_assert_eq!(&input.record_id, &output.record_id);
            match (output.result, kind) {
                (RecordResult::Ok, Kind::Post { id, retweet: false }) => {
                    let bytes = STANDARD.decode(&output.data).unwrap();
                    prop_assert_eq!(bytes.last(), Some(&b'\n'));
                    prop_assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
                    let doc: Value = serde_json::from_slice(&bytes).unwrap();
                    prop_assert_eq!(&doc["post_id"], id.as_str());
                    prop_assert_eq!(&doc["schema_version"], 1);
                }
                (RecordResult::Dropped, Kind::Post { retweet: true, .. }) => {
                    prop_assert!(output.data.is_empty());
                }
                (RecordResult::ProcessingFailed, Kind::Garbage) => {
                    prop_assert_eq!(&output.data, &input.data);
                }
                (result, kind) => prop_assert!(false, "{:?} for {:?}", result, kind),
            }
        }
    }

    #[test]
    fn response_stays_under_the_limit(
        records in prop::collection::vec(record_strategy(), 1..40),
        squeeze in 0.3f64..1.0,
    ) {
        let ids: Vec<String> = (0..records.len()).map(|i| format!("r{i}")).collect();
        let ev = event(&records, &ids);
        let (full, _) = transform(Config::default(), &ev);
        let full_len = response_len(&full.records);
        // The smallest possible response: every record as it came.
        let floor = serde_json::to_string(&serde_json::json!({"records": ev.records.iter().map(|r|
            json!({"recordId": r.record_id, "result": "ProcessingFailed", "data": r.data})).collect::<Vec<_>>()}))
            .unwrap()
            .len();
        let limit = floor.max((full_len as f64 * squeeze) as usize);
        let config = Config { response_limit: limit, ..Config::default() };
        let (resp, report) = transform(config, &ev);
        let len = serde_json::to_string(&resp).unwrap().len();
        prop_assert!(len <= limit, "{} > {}", len, limit);
        for ((input, output), full_out) in ev.records.iter().zip(&resp.records).zip(&full.records) {
            prop_assert_eq!(&input.record_id, &output.record_id);
            if output.result != full_out.result {
                // Only Ok records move, and only to ProcessingFailed with the original bytes.
                prop_assert_eq!(full_out.result, RecordResult::Ok);
                prop_assert_eq!(output.result, RecordResult::ProcessingFailed);
                prop_assert_eq!(&output.data, &input.data);
            }
        }
        let moved = resp.records.iter().zip(&full.records).filter(|(a, b)| a.result != b.result).count() as u64;
        prop_assert_eq!(report.failed_by_reason.get("response_too_large").copied().unwrap_or(0), moved);
    }
}

#[test]
fn a_batch_whose_documents_overflow_six_megabytes_still_answers_every_record() {
    // 30,000 tiny posts: about 5.6 MB of event, about 20 MB of documents.
    let payload = |i: usize| {
        format!(
            r#"{{"data":{{"id":"{i}","text":"good dog {i}"}},"matching_rules":[{{"tag":"dogs"}}]}}"#
        )
    };
    let records: Vec<(String, Kind)> = (0..30_000)
        .map(|i| (STANDARD.encode(payload(i)), Kind::Garbage))
        .collect();
    let ids: Vec<String> = (0..records.len()).map(|i| format!("{i:08}")).collect();
    let ev = event(&records, &ids);
    let event_len = serde_json::to_string(&ev).unwrap().len();
    assert!(event_len < 6_000_000, "{event_len}");

    let (resp, report) = transform(Config::default(), &ev);
    let len = serde_json::to_string(&resp).unwrap().len();
    assert!(len <= 6_000_000, "{len}");
    assert_eq!(resp.records.len(), 30_000);
    assert!(resp
        .records
        .iter()
        .zip(&ev.records)
        .all(|(o, i)| o.record_id == i.record_id));
    // As many Ok as fit: converting one record fewer would not have fitted.
    let max_saving = 2_000;
    assert!(
        len > 6_000_000 - max_saving,
        "converted more than needed: {len}"
    );
    assert!(report.ok > 1_000, "{}", report.ok);
    assert_eq!(report.failed_by_reason["response_too_large"], report.failed);
    assert_eq!(report.ok + report.failed, 30_000);
    for (o, i) in resp.records.iter().zip(&ev.records) {
        if o.result == RecordResult::ProcessingFailed {
            assert_eq!(o.data, i.data);
        }
    }
}
