"""bench/run's "feed" table: p50 (ms) of a list page of 1000 and of the
change feed's pages of 1000 (the first sync's, and one by seq), each round
in the same run, and each against the list's p50 of its round.

    feed-report.py RESULTS_DIR
"""
import json
import pathlib
import statistics
import sys

out = pathlib.Path(sys.argv[1])


def p50(name):
    path = out / f"oha-{name}-c1.json"
    data = json.loads(path.read_text())
    codes = data.get("statusCodeDistribution", {})
    if set(codes) - {"200"}:
        raise SystemExit(f"{path.name}: statuses {codes}")
    return data["latencyPercentiles"]["p50"] * 1e3


rounds = sorted(int(p.name.split("_")[2].split("-")[0]) for p in out.glob("oha-feed_list_*-c1.json"))
print("| round | list page of 1000 (ms) | first sync page (ms) | ratio | page by seq (ms) | ratio |")
print("|---:|---:|---:|---:|---:|---:|")
walks, sinces = [], []
for r in rounds:
    lst, walk, since = p50(f"feed_list_{r}"), p50(f"feed_walk_{r}"), p50(f"feed_since_{r}")
    walks.append(walk / lst)
    sinces.append(since / lst)
    print(f"| {r} | {lst:.2f} | {walk:.2f} | {walk / lst:.2f} | {since:.2f} | {since / lst:.2f} |")
print(
    f"\nMedian ratio to the list page: first sync {statistics.median(walks):.2f}x, "
    f"by seq {statistics.median(sinces):.2f}x (target: at most 1.00x)."
)
