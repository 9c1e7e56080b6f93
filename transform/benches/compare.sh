#!/usr/bin/env bash
# Measures the transform beside the Python seed Lambda on the same 3 MB event and prints
# the figures the README reports: records/s per core and the ratio to Python (handler
# only, and end to end with event parsing and response serialisation), with and without
# VADER, by best medians, by minimums and by paired runs (paired.py); the cold-start
# initialisation; the peak memory of the real Lambda process (release build under
# `cargo lambda watch`) answering that event.
#
# Usage: transform/benches/compare.sh   (uses .venv from tests/run; adds vaderSentiment to it)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
event=$root/target/bench/event_3mb.json
venv=$root/.venv
mkdir -p target/bench
# A full 3 MB processor buffer of X-shaped posts (the seed Lambda reads X's fields).
[ -f "$event" ] || cargo run -q --release -p transform-tools --bin gen-posts -- --source x --seed 3 --target-bytes 3000000 --event --out "$event"
"$venv/bin/python" -c 'import vaderSentiment' 2>/dev/null || "$venv/bin/pip" install -q vaderSentiment==3.3.2

# Three rounds, Python and Rust interleaved; each side's best round counts, since this
# machine's noise only ever slows a run down.
for round in 1 2 3; do
  echo "[round $round] Python seed Lambda (clean, clean_full, vader), 11 runs each" >&2
  "$venv/bin/python" transform/benches/seed_lambda.py "$event" --modes clean,clean_full,vader --runs 11 \
    > "target/bench/python.$round.jsonl"
  echo "[round $round] Rust criterion benches (cargo bench -p transform)" >&2
  TRANSFORM_BENCH_EVENT=$event cargo bench -q -p transform --bench transform -- \
    'transform_3mb|cold_start' --save-baseline "round$round" >&2
done

# Paired runs: every Rust run beside a Python run (see paired.py), the steadiest figure here.
echo "[paired] Rust and Python runs one by one (transform/benches/paired.py)" >&2
cargo build -q --profile bench -p transform --example transform_n >&2
"$venv/bin/python" transform/benches/paired.py "$event" "$root/target/release/examples/transform_n" \
  > target/bench/paired.txt

echo "[memory] peak memory of the Lambda process (cargo lambda watch --release)" >&2
port=$("$venv/bin/python" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
(cd transform && exec "$venv/bin/cargo-lambda" lambda watch --release --ignore-changes -A 127.0.0.1 -P "$port") \
  > target/bench/watch.log 2>&1 &
watch=$!
trap 'kill -TERM -- "$watch" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if (cd transform && "$venv/bin/cargo-lambda" lambda invoke transform --data-file "$event" \
      -A 127.0.0.1 -P "$port" --output-format json > "$root/target/bench/response.json" 2>/dev/null); then
    break
  fi
  sleep 1
done
# Two more invocations, as a warm Lambda would get.
for _ in 1 2; do
  (cd transform && "$venv/bin/cargo-lambda" lambda invoke transform --data-file "$event" \
    -A 127.0.0.1 -P "$port" --output-format json > /dev/null)
done
fn_pid=$(pgrep -f "$root/target/release/transform$" | head -n1)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$fn_pid/status")

echo "[summary]" >&2
"$venv/bin/python" - "$event" "$peak_kib" <<'PY'
import json, sys, pathlib
event, peak_kib = sys.argv[1], int(sys.argv[2])
n = len(json.load(open(event))["records"])
rounds = (1, 2, 3)
# Two estimates per side, over the three rounds: the best median (each side's best round)
# and the minimum (the fastest single run: this machine's noise only ever adds time, so
# the minimum moves least from run to run).
py, py_min = {}, {}
for rnd in rounds:
    for r in map(json.loads, open(f"target/bench/python.{rnd}.jsonl")):
        key = (r["mode"], r["timing"])
        py[key] = max(py.get(key, 0), r["records_per_s"])
        py_min[key] = max(py_min.get(key, 0), r["records_per_s_max"])
def crit(bench, rnd, name):
    return f"target/criterion/transform_3mb/{bench.replace('/', '_')}/round{rnd}/{name}.json"
def rust(bench):
    best = min(json.load(open(crit(bench, rnd, "estimates")))["median"]["point_estimate"] for rnd in rounds)
    return n / (best / 1e9)
def rust_min(bench):
    fastest = min(
        t / i
        for rnd in rounds
        for s in [json.load(open(crit(bench, rnd, "sample")))]
        for t, i in zip(s["times"], s["iters"])
    )
    return n / (fastest / 1e9)
init = min(json.load(open(f"target/criterion/cold_start/config_and_vader/round{rnd}/estimates.json"))["median"]["point_estimate"] for rnd in rounds) / 1e6
print(f"event: {n} records, {pathlib.Path(event).stat().st_size} bytes")
print("| measurement | Rust records/s | Python records/s | ratio (best medians) | ratio (minimums) |")
print("| --- | ---: | ---: | ---: | ---: |")
for label, rb, pm in [
    ("clean, handler only", "handler/clean", ("clean", "handler")),
    ("clean, handler only (vs clean_full)", "handler/clean", ("clean_full", "handler")),
    ("clean, end to end", "e2e/clean", ("clean", "e2e")),
    ("VADER, handler only", "handler/vader", ("vader", "handler")),
    ("VADER, end to end", "e2e/vader", ("vader", "e2e")),
]:
    r, p = rust(rb), py[pm]
    ratio_min = rust_min(rb) / py_min[pm]
    print(f"| {label} | {r:,.0f} | {p:,.0f} | {r / p:.1f}x | {ratio_min:.1f}x |")
print()
print(pathlib.Path("target/bench/paired.txt").read_text().split("\n\n", 1)[1].rstrip())
print(f"\ncold start (config + VADER lexicon): {init:.2f} ms")
print(f"peak memory of the Lambda process on this event: {peak_kib / 1024:.1f} MiB")
PY
