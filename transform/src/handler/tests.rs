//! The handler's tests: batches, limits, ids, reports.

use std::hash::Hasher;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;
use crate::firehose::response_len;
use crate::sentiment::Backend;

fn record(id: &str, payload: &[u8]) -> FirehoseRecord {
    FirehoseRecord {
        record_id: id.into(),
        approximate_arrival_timestamp: 1_678_806_566_000,
        data: STANDARD.encode(payload),
        kinesis_record_metadata: None,
    }
}

fn run(config: Config, records: Vec<FirehoseRecord>) -> (FirehoseResponse, Report) {
    let t = Transformer::new(config, Backend::None);
    let event = FirehoseEvent {
        records,
        ..FirehoseEvent::default()
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(t.transform(&event, DateTime::<Utc>::UNIX_EPOCH))
        .unwrap()
}

#[test]
fn repeated_ids_are_counted_even_when_their_hashes_collide() {
    /// Every id gets the same hash.
    #[derive(Default)]
    struct Collide;
    impl Hasher for Collide {
        fn write(&mut self, _: &[u8]) {}
        fn finish(&self) -> u64 {
            7
        }
    }
    let ids = ["a", "b", "a", "c", "b", "b", "d", "a"];
    let mut answered = Vec::new();
    let mut colliding: SeenIds<Collide> = SeenIds::with_capacity(ids.len());
    let mut spread: SeenIds = SeenIds::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        colliding.check(id, i, &answered);
        spread.check(id, i, &answered);
        answered.push(ResponseRecord {
            record_id: id.to_string(),
            result: RecordResult::Ok,
            data: Data::default(),
        });
    }
    // 8 ids, 4 distinct.
    assert_eq!(colliding.repeats, 4);
    assert_eq!(spread.repeats, 4);
}
#[test]
fn every_outcome_is_decided_and_counted() {
    let (resp, report) = run(
        Config::default(),
        vec![
            record("a", br#"{"data":{"id":"1","text":"hi"}}"#),
            FirehoseRecord {
                data: "not base64!".into(),
                ..record("b", b"")
            },
            record("c", b"\xff\xfe"),
            record("d", br#"{"data":{"id":"1","text":"RT @x: hi"}}"#),
            record("e", b"  \n"),
        ],
    );
    let results: Vec<_> = resp.records.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            RecordResult::Ok,
            RecordResult::ProcessingFailed,
            RecordResult::ProcessingFailed,
            RecordResult::Dropped,
            RecordResult::ProcessingFailed
        ]
    );
    assert_eq!(resp.records[1].data, "not base64!");
    assert_eq!(resp.records[2].data, STANDARD.encode(b"\xff\xfe"));
    assert_eq!((report.ok, report.dropped, report.failed), (1, 1, 3));
    assert_eq!(report.failed_by_reason["invalid_base64"], 1);
    assert_eq!(report.failed_by_reason["invalid_utf8"], 1);
    assert_eq!(report.failed_by_reason["empty_payload"], 1);
    assert_eq!(report.dropped_by_reason["retweet"], 1);
    assert_eq!(report.categories["uncategorized"], 1);
    assert_eq!(
        report.reasons,
        [
            "",
            "invalid_base64",
            "invalid_utf8",
            "retweet",
            "empty_payload"
        ]
    );
    assert_eq!(
        report.bytes_out,
        serde_json::to_string(&resp).unwrap().len() as u64
    );
}

#[test]
fn overflow_goes_back_as_processing_failed_with_original_bytes() {
    let records: Vec<_> = (0..20)
        .map(|i| {
            record(
                &format!("r{i}"),
                format!(r#"{{"data":{{"id":"{i}","text":"x"}}}}"#).as_bytes(),
            )
        })
        .collect();
    let (full, _) = run(Config::default(), records.clone());
    let full_len = response_len(&full.records);
    let limit = full_len - 1000;
    let (resp, report) = run(
        Config {
            response_limit: limit,
            ..Config::default()
        },
        records.clone(),
    );
    let len = serde_json::to_string(&resp).unwrap().len();
    assert!(len <= limit, "{len} > {limit}");
    assert!(report.failed > 0 && report.ok > 0);
    assert_eq!(report.failed_by_reason["response_too_large"], report.failed);
    for (out, input) in resp.records.iter().zip(&records) {
        assert_eq!(out.record_id, input.record_id);
        if out.result == RecordResult::ProcessingFailed {
            assert_eq!(out.data, input.data);
        }
    }
}

/// VADER with a chosen batch size, recording the largest batch it was given.
struct Batched {
    records: usize,
    vader: crate::sentiment::Vader,
    largest: std::sync::atomic::AtomicUsize,
}

impl Analyzer for Batched {
    fn name(&self) -> &'static str {
        "batched"
    }

    fn batch_records(&self) -> usize {
        self.records
    }

    async fn analyze(
        &self,
        batch: &[SentimentRequest<'_>],
        deadline: Option<Instant>,
    ) -> crate::sentiment::Analysis {
        self.largest
            .fetch_max(batch.len(), std::sync::atomic::Ordering::Relaxed);
        self.vader.analyze(batch, deadline).await
    }
}

/// Transforms `event` with VADER in batches of `records`: the response, the report
/// (duration zeroed) and the largest batch the analyzer was given.
fn run_in_batches(event: &FirehoseEvent, records: usize) -> (FirehoseResponse, Report, usize) {
    let t = Transformer::new(
        Config::default(),
        Batched {
            records,
            vader: crate::sentiment::Vader::new(),
            largest: 0.into(),
        },
    );
    let (resp, mut report) = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(t.transform(event, DateTime::<Utc>::UNIX_EPOCH))
        .unwrap();
    report.duration = Duration::ZERO;
    let largest = t
        .analyzer()
        .largest
        .load(std::sync::atomic::Ordering::Relaxed);
    (resp, report, largest)
}

#[test]
fn batch_size_changes_nothing_but_the_batches() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/firehose/ugly.json"
    );
    let event: FirehoseEvent =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("event");
    let n = event.records.len();
    let run = |records: usize| run_in_batches(&event, records);
    let (whole, whole_report, largest) = run(usize::MAX);
    assert!(
        whole_report.ok > 1 && whole_report.failed > 0,
        "{whole_report:?}"
    );
    assert_eq!(largest as u64, whole_report.ok);
    for records in [1, 2, 3, 7, n - 1, n] {
        let (resp, report, largest) = run(records);
        assert_eq!(resp, whole, "batches of {records}");
        assert_eq!(report, whole_report, "batches of {records}");
        assert!(largest <= records, "batch of {largest} > {records}");
    }
}

#[test]
fn duplicated_ids_are_counted_across_batches() {
    let ids = ["a", "b", "a", "c", "b", "a"];
    let records: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            record(
                id,
                format!(r#"{{"data":{{"id":"{i}","text":"x"}}}}"#).as_bytes(),
            )
        })
        .collect();
    let event = FirehoseEvent {
        records,
        ..FirehoseEvent::default()
    };
    for batch in [1, 2, 4, usize::MAX] {
        let (resp, report, _) = run_in_batches(&event, batch);
        assert_eq!(report.duplicate_record_ids, 3, "batches of {batch}");
        let got: Vec<_> = resp.records.iter().map(|r| r.record_id.as_str()).collect();
        assert_eq!(got, ids);
    }
}

#[test]
fn duplicated_ids_are_answered_in_place_and_counted() {
    let (resp, report) = run(
        Config::default(),
        vec![
            record("same", br#"{"data":{"id":"1","text":"a"}}"#),
            record("same", br#"{"data":{"id":"2","text":"b"}}"#),
        ],
    );
    assert_eq!(resp.records.len(), 2);
    assert!(resp
        .records
        .iter()
        .all(|r| r.record_id == "same" && r.result == RecordResult::Ok));
    assert_eq!(report.duplicate_record_ids, 1);
}
