"""bench/run's "find" table: p50 (ms) of each page at 100,000 and at 10
tasks, their ratio against the 1.5x target.

    find-report.py RESULTS_DIR
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def p50(user, page, query):
    path = out / f"oha-find_{user}_{page}_{query}-c1.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    codes = data.get("statusCodeDistribution", {})
    if set(codes) - {"200"}:
        raise SystemExit(f"{path.name}: statuses {codes}")
    return data["latencyPercentiles"]["p50"] * 1e3


queries = []
for path in sorted(out.glob("oha-find_big_first_*-c1.json")):
    queries.append(path.name[len("oha-find_big_first_") : -len("-c1.json")])
print("| query | page | p50 at 100,000 (ms) | p50 at 10 (ms) | ratio | within 1.5x |")
print("|---|---|---:|---:|---:|---|")
for query in sorted(queries, key=lambda q: (q.startswith(("q=", "overdue")), q.lstrip("sort=-"), q)):
    for page in ("first", "deep"):
        big, small = p50("big", page, query), p50("small1", page, query)
        if big is None or small is None:
            continue
        ratio = big / small
        shown = query.replace("%20", " ")
        print(f"| `{shown}` | {page} | {big:.2f} | {small:.2f} | {ratio:.2f} | {'yes' if ratio <= 1.5 else 'no'} |")
