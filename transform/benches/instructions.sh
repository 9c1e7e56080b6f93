#!/usr/bin/env bash
# Instructions per record of the transform without sentiment on the 3 MB bench event,
# counted by valgrind (deterministic, unlike time on a shared machine): the count of
# three runs minus the count of one, over two runs' records, so reading the event and
# starting up cancel out. Builds with the `profiling` profile (release code, no LTO).
#
# Usage: transform/benches/instructions.sh   (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/../.."
event=target/bench/event_3mb.json
[ -f "$event" ] || python3 ../shared/baselines/gen_tweets.py --target-bytes 3000000 --out "$event"
echo "[build] cargo build --profile profiling -p transform --example transform_n" >&2
cargo build -q --profile profiling -p transform --example transform_n
bin=target/profiling/examples/transform_n
count() {
  echo "[count] $1 run(s) under callgrind" >&2
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$event" "$1" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
one=$(count 1)
three=$(count 3)
records=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['records']))" "$event")
python3 -c "import sys; one,three,n=map(int,sys.argv[1:]); print(f'{(three-one)/2/n:,.0f} instructions per record ({n} records)')" "$one" "$three" "$records"
