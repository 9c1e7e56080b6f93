//! `producer cost` as a user runs it: the estimate's lines and total on the bundled price
//! file, a price overridden by flag, and bad input refused with the value named.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::{Command, Output};

fn cost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_producer"))
        .arg("cost")
        .args(args)
        .env_remove("AWS_REGION")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// The dollars of the line starting with `item`.
fn dollars(stdout: &str, item: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(item))
        .unwrap_or_else(|| panic!("no {item} line in\n{stdout}"));
    let amount = line.rsplit('$').next().unwrap().replace(',', "");
    amount.trim().parse().unwrap()
}

#[test]
fn the_estimate_prints_every_line_and_a_total_that_adds_up() {
    let out = cost(&["--posts-per-day", "24000", "--region", "us-east-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    let items = [
        "X API reads",
        "Firehose ingestion",
        "Lambda requests",
        "Lambda compute",
        "Comprehend",
        "OpenSearch instances",
        "OpenSearch storage",
        "S3 backup",
        "CloudWatch metrics",
        "CloudWatch alarms",
        "CloudWatch Logs",
        "Secrets Manager",
    ];
    // 24,000 posts a day for 730 h: 730,000 posts at the bundled $0.005.
    assert_eq!(dollars(&s, "X API reads"), 3_650.0);
    // us-east-1's t3.small.search at $0.036 for 730 h.
    assert_eq!(dollars(&s, "OpenSearch instances"), 26.28);
    let sum: f64 = items.iter().map(|i| dollars(&s, i)).sum();
    assert!((dollars(&s, "total") - sum).abs() < 0.06, "{s}");
    assert!(
        s.starts_with("Monthly estimate at 24,000 posts a day"),
        "{s}"
    );
}

#[test]
fn a_price_flag_overrides_the_file_and_free_sources_read_for_nothing() {
    let out = cost(&["--price", "x.post_read=0.01", "--posts-per-day", "24000"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(dollars(&s, "X API reads"), 7_300.0);
    let out = cost(&[
        "--source",
        "bluesky",
        "--backend",
        "comprehend",
        "--text-chars",
        "450",
    ]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(dollars(&s, "X API reads"), 0.0);
    // 15,000 × 730 / 24 = 456,250 posts × 5 units (450 characters) × $0.0001.
    assert_eq!(dollars(&s, "Comprehend"), 228.13);
}

#[test]
fn bad_input_is_refused_naming_the_value() {
    for (args, want) in [
        (
            &["--posts-per-day", "-5"][..],
            "--posts-per-day -5: a rate is a number of 0 or more",
        ),
        (
            &["--posts-per-day", "1e12"][..],
            "--posts-per-day 1000000000000: is not a plausible rate",
        ),
        (
            &["--region", "mars-1"][..],
            "region \"mars-1\" is not in the price file (it has: eu-west-1, us-east-1)",
        ),
        (
            &["--instance-type", "t2.nano.search"][..],
            "instance type \"t2.nano.search\" has no price in eu-west-1",
        ),
        (
            &["--price", "lamda=1"][..],
            "--price \"lamda=1\": no such price",
        ),
    ] {
        let out = cost(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
