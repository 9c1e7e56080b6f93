#!/usr/bin/env python3
"""Accuracy of the transform's VADER on VADER's own 4,200 human-rated tweets.

Fetches the vaderSentiment 3.3.2 source package from PyPI (pip download), takes
additional_resources/hutto_ICWSM_2014.tar.gz -> tweets_GroundTruth.txt (id, mean human
rating in [-4, 4], text), scores every text with `transform-local sentiment`, and reports:
- 3-class accuracy: human positive if mean > 0.5, negative if < -0.5, else neutral;
  ours by VADER's label (compound >= 0.05 / <= -0.05);
- binary accuracy: sign agreement on the tweets humans rated non-neutral;
- Pearson r between compound and the mean human rating.

Usage: .venv/bin/python tests/vader/accuracy.py
"""
import io
import math
import pathlib
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = ROOT / "target" / "vader-accuracy"


def ground_truth():
    WORK.mkdir(parents=True, exist_ok=True)
    cached = WORK / "tweets_GroundTruth.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8", errors="replace")
    print("[1/3] downloading vaderSentiment==3.3.2 sdist from PyPI", file=sys.stderr)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", d, "vaderSentiment==3.3.2"], check=True)
        sdist = next(pathlib.Path(d).glob("vaderSentiment-3.3.2.tar.gz"))
        with tarfile.open(sdist) as outer:
            member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
            inner_bytes = outer.extractfile(member).read()
        with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
            member = next(m for m in inner.getmembers() if m.name.endswith("tweets_GroundTruth.txt"))
            text = inner.extractfile(member).read().decode("utf-8", errors="replace")
    cached.write_text(text, encoding="utf-8")
    return text


def main():
    rows = []
    for line in ground_truth().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            rows.append((float(parts[1]), "\t".join(parts[2:])))
    print(f"[2/3] scoring {len(rows)} tweets with transform-local sentiment", file=sys.stderr)
    texts = "\n".join(t.replace("\n", " ") for _, t in rows) + "\n"
    out = subprocess.run(["cargo", "run", "-q", "--release", "--bin", "transform-local", "--", "sentiment", "-"],
                         input=texts.encode(), capture_output=True, check=True, cwd=ROOT)
    import json
    scores = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert len(scores) == len(rows), (len(scores), len(rows))

    print("[3/3] comparing with the mean human ratings", file=sys.stderr)
    def human(m):
        return "POSITIVE" if m > 0.5 else ("NEGATIVE" if m < -0.5 else "NEUTRAL")
    three = sum(human(m) == s["label"] for (m, _), s in zip(rows, scores)) / len(rows)
    polar = [(m, s) for (m, _), s in zip(rows, scores) if abs(m) > 0.5]
    binary = sum((m > 0) == (s["score"] > 0) for m, s in polar) / len(polar)
    xs = [s["score"] for s in scores]
    ys = [m for m, _ in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    r = cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    print(f"| tweets | 3-class accuracy | binary accuracy (n={len(polar)}) | Pearson r |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {len(rows)} | {three:.3f} | {binary:.3f} | {r:.3f} |")


if __name__ == "__main__":
    main()
