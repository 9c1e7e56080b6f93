//! The `search-setup` command against the domain stand-in (`tests/domain_server.py` in
//! front of osmem-server): what it prints on a first run, on a second, and on failure.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::{Command, Output};

use test_support::servers;

fn search_setup(endpoint: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_search-setup"))
        .args([
            "--endpoint",
            endpoint,
            "--region",
            "eu-west-1",
            "--timeout-secs",
            "30",
        ])
        .args(extra)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "AKIDADMIN")
        .env("AWS_SECRET_ACCESS_KEY", "admin-secret")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_command_prints_what_it_did_then_that_nothing_changed() {
    let osmem = servers::opensearch();
    let domain = servers::domain(
        &osmem.url,
        &[
            "--region",
            "eu-west-1",
            "--key",
            "AKIDADMIN:admin-secret:arn:aws:iam::123456789012:user/ops",
        ],
    );
    let first = search_setup(&domain.url, &["--retention-days", "14"]);
    let out = text(&first.stdout);
    assert!(first.status.success(), "{out}{}", text(&first.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[0].starts_with("  connect         ok         opensearch 3.8.0 at http://127.0.0.1:"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("  security        skipped    no fine-grained access control"),
        "{out}"
    );
    assert_eq!(lines[2], "  retention       created    policy social-posts-retention: social-posts* deleted 14 days after creation");
    assert_eq!(
        lines[3],
        "  index template  created    social-posts for social-posts*"
    );
    // The bundled saved objects, counted by type.
    let bundled =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboards.ndjson"))
            .unwrap();
    let of_type = |t: &str| {
        bundled
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"] == t)
            .count()
    };
    let visualizations = of_type("visualization");
    assert!(visualizations > 8, "the places panels are bundled");
    assert_eq!(
        lines[4],
        format!(
            "  dashboards      created    {} saved objects: 1 index pattern, {visualizations} visualizations, 1 dashboard",
            bundled.lines().count()
        )
    );
    assert_eq!(
        lines[5],
        "setup: retention created, index template created, dashboards created"
    );
    assert_eq!(
        lines[6],
        format!(
            "dashboard: {}/_dashboards/app/dashboards#/view/cats-vs-dogs",
            domain.url
        )
    );
    let progress = text(&first.stderr);
    assert!(progress.contains("setup step done"), "{progress}");

    let second = search_setup(&domain.url, &["--retention-days", "14"]);
    assert!(second.status.success());
    assert!(
        text(&second.stdout).contains("setup: the domain was already set up; nothing changed"),
        "{}",
        text(&second.stdout)
    );

    // A failure: one line on stderr naming the fix, exit 1, and what ran on stdout.
    let bare = search_setup(&osmem.url, &[]);
    assert_eq!(bare.status.code(), Some(1));
    let err = text(&bare.stderr);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(
            "error: retention failed: the cluster has no Index State Management plugin"
        ),
        "{err}"
    );
    assert!(last.contains("pass --retention-days 0"), "{last}");
    assert!(
        text(&bare.stdout).contains("  retention       FAILED"),
        "{}",
        text(&bare.stdout)
    );
}
