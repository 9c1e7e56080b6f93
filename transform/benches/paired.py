#!/usr/bin/env python3
"""Paired comparison of the transform with the Python seed Lambda, run by compare.sh.

This machine's speed drifts by up to half within minutes, so rounds of one side then the
other compare different machines. Here every Python run is paired with the Rust runs made
right around it (as many as fill about the same time: half before, half after), each pair
gives one ratio of times (the Python run's over the median of its Rust runs), and the
median of the pairs' ratios is the figure; the quartiles show the spread.

The Python side is `seed_lambda.py`'s handler (beside this file), called in this process
exactly as that script times it; the Rust side is the `transform_n` example in
`serve` mode, which answers each request with the elapsed time of one run.

Usage: paired.py EVENT TRANSFORM_N_BINARY [--pairs 41] [--only 'clean, handler only']
Prints progress to stderr, one JSON line per comparison to stdout, and then a table.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seed_lambda import make_handler  # noqa: E402

# (label, Python seed mode, Rust mode, timing)
COMPARISONS = [
    ("clean, handler only", "clean", "clean", "handler"),
    ("clean, handler only (vs clean_full)", "clean_full", "clean", "handler"),
    ("clean, end to end", "clean", "clean", "e2e"),
    ("VADER, handler only", "vader", "vader", "handler"),
    ("VADER, end to end", "vader", "vader", "e2e"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("event")
    ap.add_argument("rust_binary")
    ap.add_argument("--pairs", type=int, default=41)
    ap.add_argument("--only", help="run only the comparisons whose label contains this text")
    a = ap.parse_args()
    raw = open(a.event, "rb").read()
    event = json.loads(raw)
    n = len(event["records"])
    rust = subprocess.Popen(
        [a.rust_binary, a.event, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def run_rust(mode, timing):
        rust.stdin.write(f"{mode} {timing}\n")
        rust.stdin.flush()
        return int(rust.stdout.readline()) / 1e9

    rows = []
    handlers = {}
    for label, py_mode, rust_mode, timing in COMPARISONS:
        if a.only and a.only not in label:
            continue
        h = handlers.setdefault(py_mode, make_handler(py_mode))
        if timing == "handler":
            py_fn = lambda h=h: h(event)
        else:
            py_fn = lambda h=h: json.dumps(h(json.loads(raw)))

        def run_py():
            t0 = time.perf_counter()
            py_fn()
            return time.perf_counter() - t0

        # Warm-up: at least three runs and one second a side (criterion warms up for three).
        for run in (run_py, lambda: run_rust(rust_mode, timing)):
            spent, runs = 0.0, 0
            while runs < 3 or spent < 1.0:
                spent += run()
                runs += 1
        # A Python run takes ten times a Rust run or more: each is compared with the median
        # of the Rust runs made right around it, about as many as fill its time (half
        # before, half after), so both sides see the same stretch of the machine's speed.
        ratios, py_times, rust_times = [], [], []
        around = 1
        for i in range(a.pairs):
            before = [run_rust(rust_mode, timing) for _ in range(around // 2)]
            p = run_py()
            after = [run_rust(rust_mode, timing) for _ in range(around - around // 2)]
            r = statistics.median(before + after)
            around = max(2, min(40, round(p / r)))
            ratios.append(p / r)
            py_times.append(p)
            rust_times.append(r)
            if (i + 1) % 10 == 0 or i + 1 == a.pairs:
                print(f"[paired] {label}: {i + 1}/{a.pairs} pairs, median ratio so far "
                      f"{statistics.median(ratios):.2f}", file=sys.stderr, flush=True)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        row = {
            "label": label, "python_mode": py_mode, "rust_mode": rust_mode, "timing": timing,
            "records": n, "pairs": a.pairs,
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_q1": round(q1, 3), "ratio_q3": round(q3, 3),
            "rust_records_per_s_median": round(n / statistics.median(rust_times)),
            "python_records_per_s_median": round(n / statistics.median(py_times)),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    rust.stdin.close()
    rust.wait()

    print(f"\npaired runs: {a.pairs} pairs per line, {n} records")
    print("| measurement | Rust records/s | Python records/s | ratio (median of pairs) | quartiles |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['label']} | {r['rust_records_per_s_median']:,} | "
              f"{r['python_records_per_s_median']:,} | {r['ratio_median']:.1f}x | "
              f"{r['ratio_q1']:.1f}-{r['ratio_q3']:.1f}x |")


if __name__ == "__main__":
    main()
