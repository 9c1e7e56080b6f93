//! The real Lambda path, offline: `cargo lambda watch` runs the `transform` binary under
//! the Lambda runtime API emulator on 127.0.0.1, `cargo lambda invoke` sends a fixture
//! event, and the response must be the expected one (but for `processed_at`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use pipeline_tests::{cargo_lambda_invoke, cargo_lambda_watch, decoded, expected, root};

#[test]
fn cargo_lambda_watch_answers_fixture_events() {
    let (_watch, port) = cargo_lambda_watch();
    let invoke = |fixture: &str| {
        cargo_lambda_invoke(
            port,
            &root().join(format!("fixtures/firehose/{fixture}.json")),
        )
        .expect("cargo lambda invoke answers")
    };
    let response = invoke("ugly");

    for (fixture, response) in [("ugly", response), ("basic", invoke("basic"))] {
        let got = decoded(&response);
        let want = expected(fixture);
        assert_eq!(got.len(), want.len());
        for (mut g, mut w) in got.into_iter().zip(want) {
            // processed_at is the invocation's real time here.
            for doc in [g.document.as_mut(), w.document.as_mut()]
                .into_iter()
                .flatten()
            {
                let at = doc["processed_at"].take();
                assert!(
                    at.as_str()
                        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
                    "processed_at {at}"
                );
            }
            assert_eq!(g, w, "{fixture}");
        }
    }
}
