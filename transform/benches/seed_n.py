#!/usr/bin/env python3
"""The Python seed Lambda's handler run N times on one event, for instruction counts under
valgrind beside `transform_n` (see instructions.sh): `seed_n.py EVENT N MODE TIMING`, MODE
one of seed_lambda.py's (clean, clean_full, vader), TIMING handler or e2e. One warm-up
run comes first, as seed_lambda.py does, in every count."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seed_lambda import make_handler  # noqa: E402

path, times, mode, timing = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = open(path, "rb").read()
event = json.loads(raw)
handler = make_handler(mode)
handler(event)
for _ in range(times):
    if timing == "e2e":
        json.dumps(handler(json.loads(raw)))
    else:
        handler(event)
