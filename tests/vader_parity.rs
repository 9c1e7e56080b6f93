//! The local analyzer equals Python vaderSentiment 3.3.2 on the committed corpus
//! (`tests/vader/corpus.jsonl`, made by `tests/vader/make_corpus.py`): the same label on
//! every text, compound within 1e-4, and the same positive / negative / neutral shares.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use serde::Deserialize;
use test_support::root;
use transform::{Label, Vader};

#[derive(Deserialize)]
struct Expected {
    text: String,
    neg: f64,
    neu: f64,
    pos: f64,
    compound: f64,
}

fn python_label(compound: f64) -> Label {
    if compound >= 0.05 {
        Label::Positive
    } else if compound <= -0.05 {
        Label::Negative
    } else {
        Label::Neutral
    }
}

#[test]
fn vader_matches_python_vader_sentiment_on_the_corpus() {
    let text = std::fs::read_to_string(root().join("tests/vader/corpus.jsonl")).expect("corpus");
    let corpus: Vec<Expected> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert!(corpus.len() >= 2_000, "corpus too small: {}", corpus.len());
    let non_ascii = corpus.iter().filter(|e| !e.text.is_ascii()).count();
    assert!(
        non_ascii >= 200,
        "corpus has too little non-ASCII text: {non_ascii}"
    );

    let vader = Vader::new();
    let mut label_mismatches = Vec::new();
    let mut worst = 0.0f64;
    for e in &corpus {
        let s = vader.score(&e.text);
        if s.label != python_label(e.compound) {
            label_mismatches.push(e.text.clone());
        }
        worst = worst.max((s.score - e.compound).abs());
        assert!(
            (s.positive - e.pos).abs() < 1e-9,
            "{:?}: pos {} vs {}",
            e.text,
            s.positive,
            e.pos
        );
        assert!(
            (s.negative - e.neg).abs() < 1e-9,
            "{:?}: neg {} vs {}",
            e.text,
            s.negative,
            e.neg
        );
        assert!(
            (s.neutral - e.neu).abs() < 1e-9,
            "{:?}: neu {} vs {}",
            e.text,
            s.neutral,
            e.neu
        );
    }
    assert!(
        label_mismatches.is_empty(),
        "labels differ on: {label_mismatches:?}"
    );
    assert!(worst <= 1e-4, "largest compound difference {worst}");
}
