"""bench/run's "pgcpu" part as Markdown: per route at c=32, each server's
and pgbench's requests/s, PostgreSQL's CPU per request, and plans per call
of the run's busiest statement; then every statement's plans per call."""
import json, sys
from collections import defaultdict

runs = [json.loads(line) for line in open(sys.argv[1])]
by = defaultdict(dict)
for r in runs:
    by[r["route"]][r["who"]] = r


def cpu_us(r):
    return r["ticks"] / r["tck"] * 1e6 / max(r["requests"], 1)


def plans(r):
    top = r["statements"][0] if r["statements"] else None
    return f'{top["plans"] / top["calls"]:.3f}' if top and top["calls"] else "—"


def ratio(r, ref):
    return f"{cpu_us(r) / cpu_us(ref):.2f}×" if ref else "—"


# "at our rate": prepared SQL throttled to the rate ours reached, where its
# backends wake per request as ours do (bench/run says why).
print("| route | who | req/s | PG CPU µs/req | plans/call | CPU vs prepared | CPU vs prepared at our rate | req/s vs prepared |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for route, whos in by.items():
    ref = whos.get("pgbench-prepared")
    same_rate = whos.get("pgbench-prepared-at-our-rate")
    for who, r in whos.items():
        rps = r["requests"] / r["seconds"]
        vs_rps = f"{rps / (ref['requests'] / ref['seconds']):.0%}" if ref else "—"
        print(f"| {route} | {who} | {rps:,.0f} | {cpu_us(r):.0f} | {plans(r)} | {ratio(r, ref)} "
              f"| {ratio(r, same_rate)} | {vs_rps} |")
print()
print("Statements per run (calls ≥ 100): plans / calls")
print()
for route, whos in by.items():
    for who, r in whos.items():
        for s in r["statements"]:
            print(f"- {route}, {who}: {s['plans']} / {s['calls']} — `{s['query']}`")
