"""Turns one bench/run result directory into the Markdown table of
BENCHMARKS.md: per endpoint and concurrency, oha's requests/s, p50, p99 and
errors; pgbench's figures for the same SQL; the bare HTTP round trip; the
overhead over the limit; the server's own per-request timing as a check on
oha; the c=1 overhead of single-task routes measured in rounds; then cold
starts, memory and zip sizes."""
import glob, json, os, re, statistics, sys

out = sys.argv[1]
ENDPOINTS = ["list", "get", "create", "update", "toggle", "delete"]
LABEL = {"list": "GET list (1000)", "get": "GET one", "create": "POST", "update": "PUT",
         "toggle": "PATCH toggle", "delete": "DELETE", "noop": "bare HTTP (/noop)"}
ROUTE = {"list": "GET /api/{user_id}/tasks", "get": "GET /api/{user_id}/tasks/{task_id}",
         "create": "POST /api/{user_id}/tasks", "update": "PUT /api/{user_id}/tasks/{task_id}",
         "toggle": "PATCH /api/{user_id}/tasks/{task_id}/complete",
         "delete": "DELETE /api/{user_id}/tasks/{task_id}"}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


# DELETE draws its URLs at random from a file of existing tasks (oha picks
# with replacement), so a repeat finds the task gone: 404, as the contract
# says. Those are expected answers, counted apart, not errors.
EXPECTED = {"delete": ("204", "404"), "peer_delete": ("204", "404")}


def oha(name, c):
    path = f"{out}/oha-{name}-c{c}.json"
    if not os.path.exists(path):
        return None
    data = json.load(open(path))
    s, p = data["summary"], data["latencyPercentiles"]
    codes = data.get("statusCodeDistribution", {})
    expected = EXPECTED.get(name.split("_r")[0], ("200", "201"))  # delete_r3: a round of delete
    # Requests still in flight when a timed run ends are not failures.
    errors = sum(n for e, n in data.get("errorDistribution", {}).items() if "deadline" not in e) + sum(
        n for code, n in codes.items() if code not in expected)
    return {"rps": s["requestsPerSec"], "p50": p["p50"] * 1e3, "p99": p["p99"] * 1e3,
            "errors": errors, "codes": codes, "answered": sum(codes.values())}


def pgbench(name, c):
    lat = []
    for line in open(f"{out}/pgbench-{name}-c{c}.log"):
        f = line.split()
        lat.append(int(f[2]) / 1e3)  # µs → ms
    text = open(f"{out}/pgbench-{name}-c{c}.txt").read()
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return {"rps": tps, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
            "errors": int(failed.group(1)) if failed else 0}


def server_timing():
    """latency_us of each logged request, per (endpoint, c) section."""
    sections, current = {}, None
    for line in open(f"{out}/server.log"):
        m = re.match(r"=== (\w+) c=(\d+)", line)
        if m:
            current = (m.group(1), int(m.group(2)))
            sections[current] = []
        elif line.startswith("=== end"):
            current = None
        elif current:
            m = re.search(r"latency_us=(\d+)", line)
            if m:
                sections[current].append(int(m.group(1)) / 1e3)
    return sections


timing = server_timing()
print(f"Results: `{out}`\n")
print("```")
print(open(f"{out}/machine.txt").read().strip())
print("```\n")
for c in (1, 32):
    noop = oha("noop", c)
    if noop is None:
        continue
    print(f"### Concurrency {c}\n")
    print("| endpoint | req/s | p50 ms | p99 ms | errors (statuses) | SQL alone (pgbench) req/s | SQL p50 ms | SQL p99 ms "
          "| limit p50 ms (SQL + bare HTTP) | overhead p50 µs | server-side p50 ms (requests logged / oha answered) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {LABEL['noop']} | {noop['rps']:,.0f} | {noop['p50']:.3f} | {noop['p99']:.3f} | {noop['errors']} "
          "| | | | | | |")
    for name in ENDPOINTS:
        h, s = oha(name, c), pgbench(name, c)
        limit = s["p50"] + noop["p50"]
        own = timing.get((name, c), [])
        own_p50 = f"{statistics.median(own):.3f} ({len(own):,} / {h['answered']:,})" if own else "–"
        statuses = "/".join(f"{n} × {code}" for code, n in sorted(h["codes"].items()))
        print(f"| {LABEL[name]} | {h['rps']:,.0f} | {h['p50']:.3f} | {h['p99']:.3f} | {h['errors']} ({statuses}) "
              f"| {s['rps']:,.0f} | {s['p50']:.3f} | {s['p99']:.3f} | {limit:.3f} "
              f"| {(h['p50'] - limit) * 1e3:+,.0f} | {own_p50} |")
    print()

ROUND_ENDPOINTS = ["get", "create", "update", "toggle", "delete"]
rounds = sorted({int(m.group(1)) for f in glob.glob(f"{out}/oha-get_r*-c1.json")
                 for m in [re.search(r"_r(\d+)-c1", f)]})
if rounds:
    print(f"### Concurrency 1, overhead in rounds ({len(rounds)} rounds, each part "
          "back to back: bare HTTP, the SQL, the API)\n")
    print("| endpoint | overhead p50 µs, median of rounds | min … max | API p50 ms (median) "
          "| limit p50 ms (median) | server-side p50 − SQL p50 µs (median) | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in ROUND_ENDPOINTS:
        over, api, lim, own, errors = [], [], [], [], 0
        for r in rounds:
            h, s, noop = oha(f"{name}_r{r}", 1), pgbench(f"{name}_r{r}", 1), oha(f"noop_r{r}_{name}", 1)
            limit = s["p50"] + noop["p50"]
            over.append((h["p50"] - limit) * 1e3)
            api.append(h["p50"])
            lim.append(limit)
            errors += h["errors"] + s["errors"] + noop["errors"]
            logged = timing.get((f"{name}_r{r}", 1), [])
            if logged:
                own.append((statistics.median(logged) - s["p50"]) * 1e3)
        own_text = f"{statistics.median(own):+,.0f}" if own else "–"
        print(f"| {LABEL[name]} | **{statistics.median(over):+,.0f}** | {min(over):+,.0f} … {max(over):+,.0f} "
              f"| {statistics.median(api):.3f} | {statistics.median(lim):.3f} | {own_text} | {errors} |")
    print()

if os.path.exists(f"{out}/cold-function.json"):
    fn = json.load(open(f"{out}/cold-function.json"))
    la = json.load(open(f"{out}/cold-local-api.json"))
    def runs(d):
        values = ", ".join(f"{v:.1f}" for v in d["cold_start_ms"])
        return f"median **{d['cold_start_median_ms']:.1f} ms** of {len(d['cold_start_ms'])} runs ({values})"

    print("### Cold start and memory\n")
    print(f"- list-tasks binary under `cargo lambda watch`, exec → first authenticated 200 (incl. first "
          f"database connection): {runs(fn)}")
    print(f"- the same process after {fn['warm_invocations']} more invocations listing 1000 tasks: peak RSS "
          f"**{fn['peak_rss_kib'] / 1024:.1f} MiB**, RSS {fn['rss_kib'] / 1024:.1f} MiB; warm invocation "
          f"median {fn['warm_invocation_median_us'] / 1e3:.2f} ms through the emulator")
    if os.path.exists(f"{out}/cold-function-tls.json"):
        tls = json.load(open(f"{out}/cold-function-tls.json"))
        print(f"- the same over TLS (`sslmode=require`, verified against the platform's default trust store "
              f"— its hashed CA directory — plus `DATABASE_CA_FILE`, as on Neon): "
              f"{runs(tls)} (**{tls['cold_start_median_ms'] / fn['cold_start_median_ms']:.2f}×** "
              f"without TLS); peak RSS {tls['peak_rss_kib'] / 1024:.1f} MiB after {tls['warm_invocations']} "
              f"more invocations")
    if os.path.exists(f"{out}/cold-function-tls-bundle.json"):
        bundle = json.load(open(f"{out}/cold-function-tls-bundle.json"))
        print(f"- the same with the system's CA bundle file parsed whole (`SSL_CERT_FILE` set to it; "
              f"the default before): {runs(bundle)}")
    if os.path.exists(f"{out}/cold-function-tls-roots.json"):
        roots = json.load(open(f"{out}/cold-function-tls-roots.json"))
        print(f"- the same over TLS with `SSL_CERT_FILE` naming only the root it needs (no system bundle to "
              f"parse): {runs(roots)}")
    print(f"- local-api, exec → first authenticated 200: median **{la['cold_start_median_ms']:.1f} ms** of "
          f"{len(la['cold_start_ms'])} runs")
for name, title, c in (("get", "GET one", 32), ("list", "GET list (1000)", 32),
                       ("get-c1", "GET one", 1), ("create-c1", "POST", 1)):
    if os.path.exists(f"{out}/profile-{name}.txt"):
        print(f"\n### Server CPU by symbol, {title} at c={c} (`perf record -F 999 -p <server>`, top entries)\n")
        if os.path.exists(f"{out}/profile-{name}-cpu.txt"):
            # perf ran 5 s of the 8 s load: CPU per request from the load's rate.
            ticks = int(open(f"{out}/profile-{name}-cpu.txt").read().split()[-1])
            rate = json.load(open(f"{out}/oha-profile-{name}.json"))["summary"]["requestsPerSec"]
            hz = os.sysconf("SC_CLK_TCK")
            print(f"server CPU (user + system) {ticks / hz / 5 / max(rate, 1) * 1e6:.0f} µs per request "
                  f"at {rate:.0f} requests/s\n")
        print("```")
        print(open(f"{out}/profile-{name}-dso.txt").read().rstrip())
        print()
        print("\n".join(open(f"{out}/profile-{name}.txt").read().splitlines()[:25]))
        print("```")
if os.path.exists(f"{out}/oha-peer_get-c1.json"):
    print("\n### Same run: the seed's FastAPI stack (`BENCH_PARTS=peer`, same PostgreSQL, data, tokens and oha runs)\n")
    print("| endpoint | c | ours req/s | FastAPI req/s | throughput × | ours p50 ms | FastAPI p50 ms | p50 ÷ |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in (1, 32):
        for name in ENDPOINTS:
            ours, peer = oha(name, c), oha(f"peer_{name}", c)
            if not ours or not peer:
                continue
            print(f"| {LABEL[name]} | {c} | {ours['rps']:,.0f} | {peer['rps']:,.0f} | "
                  f"**{ours['rps'] / peer['rps']:.1f}×** | {ours['p50']:.3f} | {peer['p50']:.3f} | "
                  f"**{peer['p50'] / ours['p50']:.1f}**{'' if ours['p50'] * 10 <= peer['p50'] else ' (target 10)'} |")
    bad = {n: oha(f"peer_{n}", c)["codes"] for c in (1, 32) for n in ENDPOINTS if oha(f"peer_{n}", c)}
    print(f"\nFastAPI status codes: {bad}")
if os.path.exists(f"{out}/conditional.md"):
    print("\n### Conditional requests and idempotency keys (`bench/src/bin/conditional.rs`, one reqwest client)\n")
    print(open(f"{out}/conditional.md").read().rstrip())
if os.path.exists(f"{out}/zips.txt"):
    print("\n### Deployment zips (`cargo lambda build --release --arm64 --output-format zip`)\n")
    print("| function | bytes | MB |\n| --- | ---: | ---: |")
    for line in open(f"{out}/zips.txt"):
        name, size = line.split()
        print(f"| {name} | {int(size):,} | {int(size) / 1e6:.2f} |")
