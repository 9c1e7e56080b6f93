#!/usr/bin/env bash
# Instructions per record of the transform and of the Python seed Lambda on the 3 MB bench
# event, counted by valgrind (deterministic, unlike time on a shared machine): the count of
# three runs minus the count of one, over two runs' records, so reading the event and
# starting up cancel out. The Rust side is the `transform_n` example built with the
# `bench` profile (LTO: the code `cargo bench` times and the Lambda runs); the Python side
# is seed_lambda.py's handler (`seed_n.py`).
#
# Usage: transform/benches/instructions.sh [COMPARISONS]
#   COMPARISONS: space-separated RUST_MODE:PYTHON_MODE:TIMING, default
#   "clean:clean:handler clean:clean:e2e"; add "vader:vader:handler" for VADER (Python's
#   side then takes minutes under valgrind). Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
event=target/bench/event_3mb.json
venv=.venv
comparisons=${1:-"clean:clean:handler clean:clean:e2e"}
[ -f "$event" ] || cargo run -q --release -p transform-tools --bin gen-posts -- --source x --seed 3 --target-bytes 3000000 --event --out "$event"
echo "[build] cargo build --profile bench -p transform --example transform_n" >&2
cargo build -q --profile bench -p transform --example transform_n
bin=target/release/examples/transform_n
records=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['records']))" "$event")
count() { # runs, command...
  local runs=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_record() { # one three
  python3 -c "import sys; one,three,n=map(int,sys.argv[1:]); print(round((three-one)/2/n))" "$1" "$2" "$records"
}
echo "| comparison | Rust instructions per record | Python instructions per record | ratio |"
echo "| --- | ---: | ---: | ---: |"
for c in $comparisons; do
  IFS=: read -r rust_mode py_mode timing <<<"$c"
  echo "[count] Rust $rust_mode $timing: 1 and 3 runs under callgrind" >&2
  rust=$(per_record "$(count 1 "$bin" "$event" 1 "$rust_mode" "$timing")" \
    "$(count 3 "$bin" "$event" 3 "$rust_mode" "$timing")")
  echo "[count] Python $py_mode $timing: 1 and 3 runs under callgrind" >&2
  py=$(per_record "$(count 1 "$venv/bin/python" transform/benches/seed_n.py "$event" 1 "$py_mode" "$timing")" \
    "$(count 3 "$venv/bin/python" transform/benches/seed_n.py "$event" 3 "$py_mode" "$timing")")
  python3 -c "import sys; r,p=map(int,sys.argv[1:3]); print(f'| {sys.argv[3]} | {r:,} | {p:,} | {p/r:.1f}x |')" \
    "$rust" "$py" "Rust $rust_mode / Python $py_mode, $timing"
done
echo "[done] $records records; instructions per record = (count of 3 runs - count of 1) / 2 / records" >&2
