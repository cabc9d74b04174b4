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


print("| route | who | req/s | PG CPU µs/req | plans/call | CPU vs prepared | req/s vs prepared |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for route, whos in by.items():
    ref = whos.get("pgbench-prepared")
    for who, r in whos.items():
        rps = r["requests"] / r["seconds"]
        vs_cpu = f"{cpu_us(r) / cpu_us(ref):.2f}×" if ref else "—"
        vs_rps = f"{rps / (ref['requests'] / ref['seconds']):.0%}" if ref else "—"
        print(f"| {route} | {who} | {rps:,.0f} | {cpu_us(r):.0f} | {plans(r)} | {vs_cpu} | {vs_rps} |")
print()
print("Statements per run (calls ≥ 100): plans / calls")
print()
for route, whos in by.items():
    for who, r in whos.items():
        for s in r["statements"]:
            print(f"- {route}, {who}: {s['plans']} / {s['calls']} — `{s['query']}`")
