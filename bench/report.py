"""Turns one bench/run result directory into Markdown and a chart.

    python3 bench/report.py RUN                  # the full report (bench/run prints it)
    python3 bench/report.py RUN --svg FILE       # also the chart, as SVG
    python3 bench/report.py RUN --update BENCHMARKS.md --svg docs/bench-peer-ratios.svg
                                                 # BENCHMARKS.md's current results and its chart

The full report: per endpoint and concurrency, oha's requests/s, p50, p99
and errors; pgbench's figures for the same SQL; the bare HTTP round trip;
the overhead over the limit; the server's own per-request timing as a check
on oha; the c=1 overhead of single-task routes measured in rounds; then
cold starts, memory, profiles, the peer and zip sizes.

--update replaces what lies between `<!-- results:begin -->` and
`<!-- results:end -->` in the given file with the summary: one table of
the routes (ours, the SQL alone, the peer, at c=1 and c=32), then cold
start, memory and zips when the run has them.

The chart: with the peer part, the same-run ratios against the peer and
their targets (c=1: the peer's p50 over ours, c=32: our throughput over
the peer's); without it, our p50 by route. Python's standard library only:
the SVG is written by hand."""
import argparse, glob, html, json, os, re, statistics, sys

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


def full_report():
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


def machine(key):
    """One line of the run's machine.txt (`date`, `commit`, ...), or None."""
    path = f"{out}/machine.txt"
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip()
    return None


def run_name():
    name = f"`{os.path.basename(os.path.normpath(out))}`"
    commit = machine("commit")
    return f"{name}, commit `{commit}`" if commit else name


def sql_alone(name, c):
    path = f"{out}/pgbench-{name}-c{c}.txt"
    return pgbench(name, c) if os.path.exists(path) and os.path.exists(path[:-4] + ".log") else None


def summary():
    """BENCHMARKS.md's current results: one table, then a few lines."""
    lines = [f"Run {run_name()}.", ""]
    peer = any(oha(f"peer_{n}", c) for n in ENDPOINTS for c in (1, 32))
    lines.append("| endpoint | c=1 p50 ms | SQL alone p50 ms | FastAPI p50 ms | FastAPI ÷ ours "
                 "| c=32 req/s | SQL alone req/s | FastAPI req/s | ours × FastAPI |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def fmt(value, pattern):
        return pattern.format(value) if value is not None else "–"

    for name in ENDPOINTS:
        one, many = oha(name, 1), oha(name, 32)
        if not one and not many:
            continue
        sql1, sql32 = sql_alone(name, 1), sql_alone(name, 32)
        peer1, peer32 = oha(f"peer_{name}", 1), oha(f"peer_{name}", 32)
        ratio1 = peer1["p50"] / one["p50"] if one and peer1 else None
        ratio32 = many["rps"] / peer32["rps"] if many and peer32 else None
        lines.append(
            f"| {LABEL[name]} | {fmt(one and one['p50'], '{:.3f}')} | {fmt(sql1 and sql1['p50'], '{:.3f}')} "
            f"| {fmt(peer1 and peer1['p50'], '{:.3f}')} | {fmt(ratio1, '**{:.1f}**')} "
            f"| {fmt(many and many['rps'], '{:,.0f}')} | {fmt(sql32 and sql32['rps'], '{:,.0f}')} "
            f"| {fmt(peer32 and peer32['rps'], '{:,.0f}')} | {fmt(ratio32, '**{:.1f}**')} |")
    if not peer:
        lines.append("")
        lines.append("(No peer in this run: `BENCH_PARTS` without `peer`.)")
    lines.append("")
    if os.path.exists(f"{out}/cold-function.json"):
        fn = json.load(open(f"{out}/cold-function.json"))
        text = (f"- Cold start, exec → first authenticated 200 (list-tasks under `cargo lambda watch`, median of "
                f"{len(fn['cold_start_ms'])}): **{fn['cold_start_median_ms']:.1f} ms**")
        if os.path.exists(f"{out}/cold-function-tls.json"):
            tls = json.load(open(f"{out}/cold-function-tls.json"))
            text += (f"; over TLS on the default trust store **{tls['cold_start_median_ms']:.1f} ms** "
                     f"({tls['cold_start_median_ms'] / fn['cold_start_median_ms']:.2f}×)")
        lines.append(text + ".")
        lines.append(f"- Peak RSS after {fn['warm_invocations']} lists of 1000 tasks: "
                     f"**{fn['peak_rss_kib'] / 1024:.1f} MiB**.")
    if os.path.exists(f"{out}/zips.txt"):
        sizes = dict(line.split() for line in open(f"{out}/zips.txt") if line.strip())
        listed = ", ".join(f"{name} {int(size):,}" for name, size in sorted(sizes.items()))
        largest = max(int(v) for v in sizes.values())
        lines.append(f"- Deployment zips (`cargo lambda build --release --arm64 --output-format zip`), bytes: "
                     f"{listed}; the largest **{largest / 1e6:.2f} MB**.")
    return "\n".join(lines).rstrip() + "\n"


def update(path):
    text = open(path).read()
    begin, end = "<!-- results:begin -->\n", "<!-- results:end -->"
    if begin not in text or end not in text:
        sys.exit(f"{path}: no {begin.strip()} … {end} block to replace")
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1]
    open(path, "w").write(before + begin + summary() + end + after)


def chart_panels():
    """(title, target, rows of (label, value, text)) for each panel."""
    ones = [(LABEL[n], oha(n, 1), oha(f"peer_{n}", 1)) for n in ENDPOINTS]
    manys = [(LABEL[n], oha(n, 32), oha(f"peer_{n}", 32)) for n in ENDPOINTS]
    if any(peer for _, _, peer in ones + manys):
        return [
            ("c=1: FastAPI's p50 ÷ ours", 10,
             [(label, peer["p50"] / ours["p50"], f"{peer['p50'] / ours['p50']:.1f}")
              for label, ours, peer in ones if ours and peer]),
            ("c=32: our requests/s ÷ FastAPI's", 15,
             [(label, ours["rps"] / peer["rps"], f"{ours['rps'] / peer['rps']:.1f}×")
              for label, ours, peer in manys if ours and peer]),
        ]
    return [
        ("p50 at c=1, ms", None,
         [(label, ours["p50"], f"{ours['p50']:.2f}") for label, ours, _ in ones if ours]),
        ("p50 at c=32, ms", None,
         [(label, ours["p50"], f"{ours['p50']:.1f}") for label, ours, _ in manys if ours]),
    ]


def svg(path):
    panels = [p for p in chart_panels() if p[2]]
    if not panels:
        print(f"{out}: no oha results, no chart", file=sys.stderr)
        return
    label_w, bar_w, gap, row_h, top = 120, 260, 40, 30, 70
    panel_w = label_w + bar_w + gap
    rows = max(len(p[2]) for p in panels)
    width, height = panel_w * len(panels) + 20, top + rows * row_h + 50
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="10" y="22" font-size="15" font-weight="bold">Run {esc(run_name().replace("`", ""))}</text>']
    for i, (title, target, data) in enumerate(panels):
        x0 = 10 + i * panel_w
        scale = max([v for _, v, _ in data] + [target or 0]) * 1.15
        parts.append(f'<text x="{x0}" y="50" font-weight="bold">{esc(title)}</text>')
        bottom = top + len(data) * row_h
        if target is not None:  # under the bars and their labels
            tx = x0 + label_w + target / scale * bar_w
            parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#c62828" '
                         f'stroke-dasharray="5,4" stroke-width="1.5"/>')
            parts.append(f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#c62828">'
                         f'target {target}</text>')
        for j, (label, value, text) in enumerate(data):
            y = top + j * row_h
            w = value / scale * bar_w
            color = "#4a78b5" if target is None else ("#2e7d32" if value >= target else "#e08a00")
            parts.append(f'<text x="{x0 + label_w - 8}" y="{y + 15}" text-anchor="end">{esc(label)}</text>')
            parts.append(f'<rect x="{x0 + label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 10}" fill="{color}"/>')
            parts.append(f'<text x="{x0 + label_w + w + 4:.1f}" y="{y + 15}" stroke="white" stroke-width="3" '
                         f'paint-order="stroke">{esc(text)}</text>')
        parts.append(f'<line x1="{x0 + label_w}" y1="{top - 4}" x2="{x0 + label_w}" y2="{bottom}" stroke="#333"/>')
    if any(target is not None for _, target, _ in panels):
        parts.append(f'<text x="10" y="{height - 10}" fill="#555">green: target met; orange: missed. '
                     f'Same run, same database, data, tokens and oha loads for both stacks.</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts) + "\n")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("run", help="a bench/results/<time> directory")
    args.add_argument("--svg", metavar="FILE", help="write the chart there")
    args.add_argument("--update", metavar="MARKDOWN", help="replace the file's results block with the summary")
    options = args.parse_args()
    out = options.run.rstrip("/")
    if options.update:
        update(options.update)
    else:
        full_report()
    if options.svg:
        svg(options.svg)
