"""The Lambda-path report: instructions per warm invocation by phase, CPU
time, response bytes, and what that means billed at 128, 256 and 512 MB.
    python3 bench/lambda-report.py RESULTS_DIR [BEFORE_RESULTS_DIR]

Billed duration at M MB, from this machine's measurements: Lambda gives a
function CPU in proportion to its memory (1,769 MB = one vCPU), so the
invocation's CPU time stretches by 1769/M while its waiting (the database's
round trip, the Runtime API) does not:
    duration(M) = (round trip - CPU) + CPU * max(1, 1769 / M)
billed in whole milliseconds, at the arm64 price."""
import json, math, pathlib, sys

GB_SECOND = 0.0000133334  # USD, arm64, first tier
PER_REQUEST = 0.20 / 1e6  # USD
SIZES = (128, 256, 512)


def load(directory):
    lines = pathlib.Path(directory, "results.jsonl").read_text().splitlines()
    return {r["case"]: r for r in map(json.loads, lines)}


def billed(result, memory):
    cpu = result["native"]["cpu_us"] / 1e3
    wait = max(0.0, result["native"]["round_trip_us_p50"] / 1e3 - cpu)
    ms = wait + cpu * max(1.0, 1769 / memory)
    return ms, math.ceil(ms) * memory / 1024 * GB_SECOND / 1e3 + PER_REQUEST


results = load(sys.argv[1])
before = load(sys.argv[2]) if len(sys.argv) > 2 else {}
phases = list(next(iter(results.values()))["instructions"]["phases"])

print("### Instructions per warm invocation, by phase (callgrind, the function's process)\n")
print("| case | total | " + " | ".join(phases) + " | response bytes | statuses |")
print("|---|---:|" + "---:|" * len(phases) + "---:|---|")
for case, r in results.items():
    ins = r["instructions"]
    cells = [f"{ins['phases'][p]:,}" for p in phases]
    statuses = ", ".join(f"{k}×{v}" for k, v in r["native"]["statuses"].items())
    print(f"| {case} | **{ins['total']:,}** | " + " | ".join(cells)
          + f" | {r['native']['response_bytes']:,} | {statuses} |")

if before:
    print("\n### Before → after (instructions per warm invocation)\n")
    print("| case | before | after | change |")
    print("|---|---:|---:|---:|")
    for case, r in results.items():
        if case in before:
            b, a = before[case]["instructions"]["total"], r["instructions"]["total"]
            print(f"| {case} | {b:,} | {a:,} | {(a - b) / b * 100:+.1f} % |")

print("\n### CPU time and billed duration (estimate)\n")
print("| case | CPU µs (this machine) | round trip p50 µs | "
      + " | ".join(f"{m} MB: ms, $/1M" for m in SIZES) + " | cheapest |")
print("|---|---:|---:|" + "---:|" * len(SIZES) + "---|")
for case, r in results.items():
    estimates = {m: billed(r, m) for m in SIZES}
    cheapest = min(SIZES, key=lambda m: (estimates[m][1], m))
    cells = [f"{ms:.1f}, {cost * 1e6:.2f}" for ms, cost in estimates.values()]
    print(f"| {case} | {r['native']['cpu_us']:,.0f} | {r['native']['round_trip_us_p50']:,.0f} | "
          + " | ".join(cells) + f" | {cheapest} MB |")
