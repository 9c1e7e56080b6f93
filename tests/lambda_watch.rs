//! The real Lambda path, offline: `cargo lambda watch` runs the `transform` binary under
//! the Lambda runtime API emulator on 127.0.0.1, `cargo lambda invoke` sends a fixture
//! event, and the response must be the expected one (but for `processed_at`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use test_support::{cargo_lambda_invoke, cargo_lambda_watch, root};

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
    test_support::assert_matches_expected("ugly", &response);
    test_support::assert_matches_expected("basic", &invoke("basic"));
}
