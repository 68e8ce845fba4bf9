#!/usr/bin/env python3
"""Turns bench/results/runs.jsonl (written by bench/run.sh) into docs/BENCHMARKS.md and a PNG chart.

Medians over rounds; each configuration's ratio to the epoll and Asio baselines is the median of
the per-round ratios (both measured in the same round, at the same thread count when available).
Standard library only; the chart is drawn by gnuplot.
"""
import argparse
import datetime
import json
import re
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

LOAD_KEYS = ("rps", "p50_us", "p99_us", "server_cpu_us_per_req", "client_cpu_util", "client_kernel_share")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def baseline_for(configs_threads, family, threads):
    """The baseline configuration of family (epoll/asio) with the same (else closest) thread count."""
    candidates = [(abs(t - threads), t, c) for c, t in configs_threads.items() if re.fullmatch(family + r"-\d+t", c)]
    return min(candidates)[2] if candidates else None


def fmt(value, spec, missing="—"):
    return missing if value is None else format(value, spec)


def summarise(runs):
    order, workloads = [], []
    threads = {}
    by = defaultdict(list)  # (workload, config) -> runs
    per_round = defaultdict(dict)  # (workload, round) -> config -> result
    for run in runs:
        w, c = run["workload"], run["config"]
        if w not in workloads:
            workloads.append(w)
        if c not in order:
            order.append(c)
        threads[c] = run["threads"]
        by[(w, c)].append(run)
        if run["result"]:
            per_round[(w, run["round"])][c] = run["result"]
    tables = {}
    for w in workloads:
        rows = []
        for c in order:
            rs = by.get((w, c), [])
            if not rs:
                continue
            results = [r["result"] for r in rs if r["result"]]
            row = {"config": c, "threads": threads[c], "runs": len(rs),
                   "failed": sum(1 for r in rs if r["exit"] != 0),
                   "wrong": sum(r.get("wrong", 0) for r in results),
                   "lost": sum(r.get("lost", 0) for r in results),
                   "errors": sum(r.get("conn_errors", 0) for r in results),
                   "skipped": sum(r.get("skipped", 0) for r in results)}
            for k in LOAD_KEYS + ("rss_per_conn_kib", "rss_before_kib", "rss_idle_kib"):
                row[k] = median([r.get(k) for r in results])
            for family in ("epoll", "asio"):
                base = baseline_for(threads, family, threads[c])
                ratios = []
                for (w2, _), cfgs in per_round.items():
                    if w2 == w and c in cfgs and base in cfgs and cfgs[base].get("rps"):
                        ratios.append(cfgs[c]["rps"] / cfgs[base]["rps"])
                row["vs_" + family] = median(ratios)
                row["base_" + family] = base
            # Server CPU per request against epoll's, same round: the server-side comparison that
            # still holds when the load generator, not the server, caps the throughput.
            base = row["base_epoll"]
            cpu_ratios = []
            for (w2, _), cfgs in per_round.items():
                if w2 == w and c in cfgs and base in cfgs and cfgs[base].get("server_cpu_us_per_req"):
                    cpu_ratios.append(cfgs[c].get("server_cpu_us_per_req", 0) / cfgs[base]["server_cpu_us_per_req"])
            row["cpu_vs_epoll"] = median(cpu_ratios)
            rows.append(row)
        tables[w] = rows
    return workloads, order, tables


def markdown_tables(workloads, tables):
    out = []
    for w in workloads:
        rows = tables[w]
        idle = any(r["rps"] in (None, 0) and r["rss_per_conn_kib"] for r in rows) or w.startswith("idle")
        if idle:
            out.append(f"### {w}: server RSS per idle connection\n")
            out.append("| configuration | threads | RSS per connection (KiB) | RSS before (KiB) | RSS with connections (KiB) | wrong / lost / conn errors | failed runs |")
            out.append("|---|---:|---:|---:|---:|---|---:|")
            for r in rows:
                out.append(f"| {r['config']} | {r['threads']} | {fmt(r['rss_per_conn_kib'], '.2f')} | "
                           f"{fmt(r['rss_before_kib'], '.0f')} | {fmt(r['rss_idle_kib'], '.0f')} | "
                           f"{r['wrong']} / {r['lost']} / {r['errors']} | {r['failed']}/{r['runs']} |")
        else:
            out.append(f"### {w}: {workload_title(w)}\n")
            out.append("| configuration | threads | req/s (median) | x epoll | x Asio | server µs/req | server µs/req x epoll | p50 µs | p99 µs | load generator CPU | wrong / lost / conn errors | failed runs |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
            for r in rows:
                out.append(f"| {r['config']} | {r['threads']} | {fmt(r['rps'], ',.0f')} | "
                           f"{fmt(r['vs_epoll'], '.2f')} | {fmt(r['vs_asio'], '.2f')} | "
                           f"{fmt(r['server_cpu_us_per_req'], '.2f')} | {fmt(r['cpu_vs_epoll'], '.2f')} | "
                           f"{fmt(r['p50_us'], '.0f')} | {fmt(r['p99_us'], '.0f')} | "
                           f"{fmt(r['client_cpu_util'] and r['client_cpu_util'] * 100, '.0f')}%"
                           f"{kernel_share(r)} | "
                           f"{r['wrong']} / {r['lost']} / {r['errors']} | {r['failed']}/{r['runs']} |")
            if "@" in w:
                out.append("")
                out.append("Requests skipped by the open-loop pacer (no connection free: that server "
                           "did not keep up): " + ", ".join(f"{r['config']} {r['skipped']}" for r in rows))
        out.append("")
    return "\n".join(out)


def kernel_share(r):
    share = r.get("client_kernel_share")
    return f" ({share * 100:.0f}% kernel)" if share else ""


def workload_title(w):
    shape, _, rate = w.partition("@")
    conns, _, depth = shape.partition("x")
    if not depth:
        return w
    if rate:
        return (f"{conns} connections, pipeline {depth}, open loop at {rate.replace('k', ',000')} "
                "requests/s (compare server µs/req: every server is offered the same load)")
    return f"{conns} connections, pipeline {depth}"


def targets(workloads, tables):
    """Issue 7's targets, checked against this run's medians (skipped when nioxx did not run)."""
    lines = []
    row = {(w, r["config"]): r for w in workloads for r in tables[w]}
    load = [w for w in workloads if not w.startswith("idle")]
    idle = [w for w in workloads if w.startswith("idle")]

    def check(label, value, op, bound):
        if value is None:
            return
        ok = value >= bound if op == ">=" else value <= bound
        lines.append(f"| {label} | {value:.2f} | {op} {bound} | {'met' if ok else '**missed**'} |")

    for w in load:
        for (w2, c), r in row.items():
            if w2 == w and c.startswith("reactor-"):
                check(f"{w}: {c} x epoll", r["vs_epoll"], ">=", 0.95)
        proactors = [r for (w2, c), r in row.items() if w2 == w and c.startswith("proactor-")]
        if proactors:
            best = max(proactors, key=lambda r: r["vs_asio"] or 0)
            check(f"{w}: best proactor ({best['config']}) x Asio", best["vs_asio"], ">=",
                  1.15 if w == "64x16" else 1.0)
            if w == "64x16":
                best_e = max(proactors, key=lambda r: r["vs_epoll"] or 0)
                check(f"{w}: best proactor ({best_e['config']}) x epoll", best_e["vs_epoll"], ">=", 0.80)
        # Issue 12: io_uring call-through against epoll, one thread each side; the same bound on
        # server CPU per request (inverted), which holds when the load generator caps throughput.
        # An open-loop workload (shape@rate) offers every server the same load: only the CPU
        # reading of its shape's bound applies.
        shape, _, rate = w.partition("@")
        uring_bound = {"64x1": 0.95, "1000x1": 1.10, "64x16": 1.05}.get(shape)
        r = row.get((w, "uring-call-through-1t"))
        if uring_bound and r:
            if not rate:
                check(f"{w}: uring-call-through-1t x epoll (issue 12)", r["vs_epoll"], ">=",
                      uring_bound)
            check(f"{w}: uring-call-through-1t server µs/req x epoll (issue 12)", r["cpu_vs_epoll"],
                  "<=", round(1 / uring_bound, 2))
        # Issue 14: coroutines cost no more than 5% against the callback proactor they run on.
        for (w2, c), r in row.items():
            rest = c[len("coroutine-"):]
            # coroutine-uring-X runs on io_uring: its callback twin is uring-X.
            base = row.get((w, rest if rest.startswith("uring-") else "proactor-" + rest))
            if (w2 == w and c.startswith("coroutine-") and w in ("64x1", "64x16") and r.get("rps")
                    and base and base.get("rps")):
                check(f"{w}: {c} x {base['config']}", r["rps"] / base["rps"], ">=", 0.95)
    for w in idle:
        for (w2, c), r in row.items():
            if w2 == w and c.startswith("reactor-"):
                check(f"{w}: {c} KiB per idle connection", r["rss_per_conn_kib"], "<=", 0.5)
            if w2 == w and c.startswith("proactor-"):
                check(f"{w}: {c} KiB per idle connection", r["rss_per_conn_kib"], "<=", 1.5)
            # Issue 12: the io_uring engine, callback and coroutine glue.
            if w2 == w and (c.startswith("uring-") or c.startswith("coroutine-uring-")):
                check(f"{w}: {c} KiB per idle connection (issue 12)", r["rss_per_conn_kib"], "<=",
                      1.0)
    if not lines:
        return ""
    return "\n".join(["### Issue 7, 12 and 14 targets (this run)", "",
                      "| target | measured | wanted | |", "|---|---:|---|---|", *lines, ""])


def chart(workloads, order, tables, dat_path, png_path):
    # Open-loop workloads are left out: every server answers the rate asked.
    load = [w for w in workloads if not w.startswith("idle") and "@" not in w]
    configs = [c for c in order if any(r["config"] == c for w in load for r in tables[w])]
    if not load or not configs or not shutil.which("gnuplot"):
        return False
    with open(dat_path, "w") as f:
        f.write("workload " + " ".join(configs) + "\n")
        for w in load:
            vals = {r["config"]: r["rps"] for r in tables[w]}
            f.write(w + " " + " ".join(fmt(vals.get(c) and vals[c] / 1000, ".1f", "NaN") for c in configs) + "\n")
    script = f"""
set terminal pngcairo size 1100,560 font 'sans,10'
set output '{png_path}'
set title 'hello protocol: median requests/s (thousands) per configuration and workload'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set ylabel 'k requests/s'
set yrange [0:*]
plot for [i=2:{len(configs) + 1}] '{dat_path}' using i:xtic(1) title columnheader(i)
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--notes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--dat", required=True)
    ap.add_argument("--machine", default="")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--meta", default="")
    ap.add_argument("--append", nargs="*", default=[],
                    help="hand-written Markdown files appended after the results (analysis)")
    args = ap.parse_args()

    runs = load_runs(args.runs)
    if not runs:
        sys.exit("report.py: no runs recorded")
    workloads, order, tables = summarise(runs)
    body = markdown_tables(workloads, tables)
    goal = targets(workloads, tables)
    if goal:
        body += "\n" + goal
    print(body)
    notes = open(args.notes).read().strip() if args.notes and os.path.exists(args.notes) else ""
    have_chart = chart(workloads, order, tables, args.dat, args.chart)
    bad = sum(r["wrong"] + r["lost"] + r["errors"] for rows in tables.values() for r in rows)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        "# Benchmarks",
        "",
        f"Generated by `bench/run.sh` on {now}. Do not edit by hand: re-run the script.",
        "",
        f"- Command: `{args.command}`",
        f"- Machine: {args.machine}",
        f"- Run: {args.meta}",
        "- Servers run with `--threads 1` are pinned to CPU 0 and the load generator (`hello_load`, one "
        "thread) to CPU 1 with `taskset`; servers with 2 threads may use both CPUs and so share CPU 1 "
        "with the load generator.",
        "- Every configuration runs once per round, in rotated order, and each workload's rounds "
        "follow one another (A B C ... A B C ...). Values are medians over rounds; `x epoll` and "
        "`x Asio` are medians of the per-round ratios to the baseline with the same thread count "
        "measured in the same round.",
        "- Server CPU µs/req = (utime + stime delta of the server over the measured window, from "
        "`/proc/PID/stat`) / replies received in that window; `server µs/req x epoll` is the median of "
        "the per-round ratios of that figure to the epoll baseline's (below 1 = less server CPU per "
        "request), the comparison to read where the load generator is near 100%. Load generator CPU = its own CPU "
        "time over the window / the window (near 100% means the client, not the server, was the "
        "bottleneck), with the share of it spent in the kernel. RSS per idle connection = (VmRSS with "
        "the connections open and answered once - VmRSS before connecting) / connections.",
        f"- Every reply is validated (greeting text, seq, order). Wrong + lost + connection errors "
        f"over all runs: **{bad}**.",
        "",
    ]
    if notes:
        doc += ["Notes from the run:", "", *("- " + n for n in notes.splitlines()), ""]
    if have_chart:
        doc += [f"![median requests/s per configuration and workload]({os.path.basename(args.chart)})", ""]
    doc += ["## Results", "", body,
            "Raw per-run data: `bench/results/runs.jsonl` (one JSON object per run).", "",
            "The io_uring engine's idle memory per connection (where the bytes go) and its system "
            "calls under load (`strace -f -c`): [BENCHMARKS-uring.md](BENCHMARKS-uring.md).", "",
            "The HTTP server against nginx (`bench/http.sh`): [BENCHMARKS-http.md](BENCHMARKS-http.md).",
            ""]
    for extra in args.append:
        if os.path.exists(extra):
            doc += [open(extra).read().rstrip(), ""]
    with open(args.out, "w") as f:
        f.write("\n".join(doc))
    print(f"wrote {args.out}" + (f" and {args.chart}" if have_chart else ""))


if __name__ == "__main__":
    main()
