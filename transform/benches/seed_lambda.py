#!/usr/bin/env python3
"""The seed Lambda: what the tutorials' Firehose transformation Lambda in Python does,
written here as the baseline the transform is measured against (same machine, same
event, side by side). Timed in this process; interpreter start and imports excluded.

Modes:
  clean       base64-decode, json.loads, pick six fields (id, retweets, replies, likes,
              the first rule's tag, the arrival time), json.dumps, base64-encode
  clean_full  the same with the fields our documents carry most of (text, created_at,
              author_id, four metrics)
  vader       clean, plus vaderSentiment's compound score and label per record

Timings: `handler` (the event already parsed, as the Lambda runtime hands it over) and
`e2e` (json.loads of the event bytes, the handler, json.dumps of the response).

Usage: seed_lambda.py EVENT [--modes clean,clean_full,vader] [--runs 11]
Prints one JSON line per (mode, timing): median, min and max seconds, records/s.
"""
import argparse
import base64
import json
import statistics
import time


def make_handler(mode):
    """The Lambda handler for `mode`."""
    analyzer = None
    if mode == "vader":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()

    def handler(event, context=None):
        records = []
        for record in event["records"]:
            post = json.loads(base64.b64decode(record["data"]))
            data = post["data"]
            metrics = data["public_metrics"]
            out = {
                "tweet_id": data["id"],
                "retweets": metrics["retweet_count"],
                "replies": metrics["reply_count"],
                "likes": metrics["like_count"],
                "category": post["matching_rules"][0]["tag"],
                "timestamp": record["approximateArrivalTimestamp"],
            }
            if mode == "clean_full":
                out.update(
                    text=data["text"],
                    created_at=data["created_at"],
                    author_id=data["author_id"],
                    quotes=metrics["quote_count"],
                )
            if analyzer is not None:
                score = analyzer.polarity_scores(data["text"])["compound"]
                out["sentiment"] = score
                out["sentiment_label"] = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
            line = (json.dumps(out) + "\n").encode("utf-8")
            records.append({"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(line).decode("ascii")})
        return {"records": records}

    return handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("event")
    ap.add_argument("--modes", default="clean,clean_full,vader")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--timings", default="handler,e2e")
    args = ap.parse_args()
    raw = open(args.event, "rb").read()
    event = json.loads(raw)
    n = len(event["records"])
    for mode in args.modes.split(","):
        handler = make_handler(mode)
        for timing in args.timings.split(","):
            run = (lambda: handler(event)) if timing == "handler" else (lambda: json.dumps(handler(json.loads(raw))))
            run()  # warm-up: lazy imports, caches
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            median = statistics.median(times)
            print(json.dumps({
                "impl": "python", "mode": mode, "timing": timing, "records": n, "runs": args.runs,
                "median_s": round(median, 5), "min_s": round(min(times), 5), "max_s": round(max(times), 5),
                "records_per_s": round(n / median), "records_per_s_min": round(n / max(times)),
                "records_per_s_max": round(n / min(times)),
            }), flush=True)


if __name__ == "__main__":
    main()
