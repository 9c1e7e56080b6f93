#!/usr/bin/env python3
"""Builds tests/vader/corpus.jsonl: varied texts with the scores Python vaderSentiment 3.3.2
gives them, the expectations of tests/vader_parity.rs.

Texts: synthetic posts from our generator, `gen-posts` (transform/tools: emoji, escapes,
many languages), and every combination of a small grammar of the rules VADER implements
(negations, boosters and dampeners, ALL CAPS, "but", "kind of", "least", idioms,
punctuation emphasis, emoticons, non-ASCII and other scripts).

Usage: .venv/bin/pip install vaderSentiment==3.3.2
       .venv/bin/python tests/vader/make_corpus.py
"""
import itertools
import json
import pathlib
import subprocess
import sys
import tempfile

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]

WORDS = ["good", "bad", "love", "hate", "great", "terrible", "funny", "sad", "okay", "nice"]
MODIFIERS = ["", "not ", "never ", "very ", "extremely ", "kind of ", "sort of ", "barely ",
             "isn't ", "ain't ", "least ", "without doubt ", "hardly ", "uber "]
SUBJECTS = ["the cat is ", "my dog was ", "this puppy seems ", "", "I think it's "]
ENDINGS = ["", "!", "!!!", "?", "??", "?!", ".", " :)", " :(", " 😂", " 💔"]
CASES = [str, str.upper, str.title]

HANDWRITTEN = [
    "", " ", "is?", "?", "!!!", "😂😂😂", "❤️", "👍🏽", "👨‍👩‍👧", "🐱🐶",
    "The food was good, but the service was terrible.",
    "The food was terrible, but the service was good!",
    "I don't think this is the best dog ever but it's ok",
    "Not bad at all", "not good at all", "It's not that great.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "At least it isn't a horrible book.", "he is at least smart", "least favorite",
    "Today SUX!", "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!", "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all, the bomb!", "That movie was the shit", "she's the bomb",
    "that hit the spot", "this will cut the mustard", "hand to mouth", "back handed",
    "kiss of death", "yeah right", "Yeah right, like that's gonna work",
    "VADER is smart, handsome, and funny.", "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "ÉNORME chat!!! c'est SUPER", "Ünïcödé ÇÄPS GOOD", "İstanbul is GREAT", "ΚΑΛΗΜΕΡΑ good",
    "うちの猫が可愛すぎる good", "قطتي نائمة love", "我的狗狗今天特别开心 :)",
    "no", "nope, never, nothing good", "never so good", "never this bad",
    "without doubt the best", "sort of good", "kind of bad", "kinda great", "barely okay",
    "it was so so good", "incredibly, insanely bad", "fricking awesome", "FRICKING AWESOME",
    "I'm not feeling it :-(", "<3 <3 <3", "</3", "xD", "^_^", ":'(", "d:",
    "good good good good good good good good good good good good",
    "bad bad bad bad bad bad bad bad bad bad bad bad bad bad bad bad",
    "But why? Why?? WHY???", "but but but good", "good but", "but",
    "tab\there and\nnewline good", "multiple   spaces   good", "'quoted' \"good\"",
    "--good--", "!good!", "#good", "@good", "good.bad", "good,bad", "a-ok", "g00d",
]


def synthetic(n, seed):
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "posts.ndjson"
        subprocess.run(["cargo", "run", "-q", "--bin", "gen-posts", "--", "--count", str(n),
                        "--seed", str(seed), "--out", str(out)], check=True, cwd=ROOT)
        return [json.loads(line)["data"]["text"] for line in out.read_text(encoding="utf-8").splitlines()]


def grammar():
    out = []
    for subject, modifier, word, ending in itertools.product(SUBJECTS, MODIFIERS, WORDS, ENDINGS):
        out.append(f"{subject}{modifier}{word}{ending}")
    # Every 5th sentence, in each case variant; "but" joins of neighbours.
    picked = out[::5]
    cased = [case(t) for t in picked for case in CASES]
    joined = [f"{a} but {b}" for a, b in zip(picked[::7], picked[3::7])]
    return cased + joined


def main():
    analyzer = SentimentIntensityAnalyzer()
    texts = HANDWRITTEN + synthetic(1200, 7) + grammar()
    seen = set()
    rows = []
    for t in texts:
        if t in seen:
            continue
        seen.add(t)
        s = analyzer.polarity_scores(t)
        rows.append({"text": t, "neg": s["neg"], "neu": s["neu"], "pos": s["pos"], "compound": s["compound"]})
    path = HERE / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} texts scored by vaderSentiment", file=sys.stderr)


if __name__ == "__main__":
    main()
