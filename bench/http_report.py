#!/usr/bin/env python3
"""Turns bench/results/http.tsv (written by bench/http.sh) into docs/BENCHMARKS-http.md and a PNG
chart (gnuplot, as bench/report.py draws docs/benchmarks.png): per file size and connection count,
the median requests/s and MiB/s of nginx and of http_server in each mode, their ratio to nginx and
issue 15's targets (>= 1.0x nginx on 1 KiB, >= 0.9x on 1 MiB). Standard library only.

Usage: bench/http_report.py --tsv bench/results/http.tsv [--out docs/BENCHMARKS-http.md]
       [--chart docs/benchmarks-http.png] [--note TEXT ...] [--command CMD] [--machine TEXT]
"""
import argparse
import csv
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

SERVERS = ("nginx", "reactor", "proactor", "coroutine")
MODES = SERVERS[1:]
TARGETS = {"1k.bin": 1.0, "1m.bin": 0.9}  # issue 15: ratio to nginx


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    need = {"round", "server", "file", "connections", "requests_per_s", "MiB_per_s", "errors"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"http_report.py: {path}: no rows, or not bench/http.sh's columns ({sorted(need)})")
    return rows


def summarise(rows):
    """(file, connections) -> server -> {rps, mib, ratio, rounds, errors}; ratio = median of the
    per-round ratios to nginx (both measured in the same round)."""
    by = defaultdict(lambda: defaultdict(list))
    per_round = defaultdict(dict)
    errors = defaultdict(list)
    for r in rows:
        key = (r["file"], r["connections"])
        rps, mib = float(r["requests_per_s"]), float(r["MiB_per_s"])
        by[key][r["server"]].append((rps, mib))
        per_round[(key, r["round"])][r["server"]] = rps
        if r["errors"].strip() not in ("", "none"):
            errors[(key, r["server"])].append(r["errors"].strip())
    table = {}
    for key, servers in by.items():
        table[key] = {}
        for s, values in servers.items():
            ratios = [rr[s] / rr["nginx"] for (k, _), rr in per_round.items()
                      if k == key and rr.get("nginx") and s in rr]
            table[key][s] = {
                "rps": statistics.median(v[0] for v in values),
                "mib": statistics.median(v[1] for v in values),
                "ratio": statistics.median(ratios) if ratios else None,
                "rounds": len(values),
                "errors": errors.get((key, s), []),
            }
    return table


def keys_in_order(table):
    return sorted(table, key=lambda k: (k[0] != "1k.bin", k[0], int(k[1])))


def markdown(table):
    out = ["| file | connections | " + " | ".join(SERVERS) + " |",
           "|---|---:|" + "---:|" * len(SERVERS)]
    for key in keys_in_order(table):
        cells = []
        for s in SERVERS:
            m = table[key].get(s)
            if m is None:
                cells.append("—")
                continue
            text = f"{m['rps']:,.0f} req/s<br>{m['mib']:,.1f} MiB/s"
            if s != "nginx" and m["ratio"] is not None:
                text += f"<br>**{m['ratio']:.2f}x**"
            if m["errors"]:
                text += "<br>errors: " + "; ".join(m["errors"])
            cells.append(text)
        out.append(f"| {key[0]} | {int(key[1]):,} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(table):
    out = ["| file | connections | mode | x nginx | wanted | |", "|---|---:|---|---:|---|---|"]
    for key in keys_in_order(table):
        want = TARGETS.get(key[0])
        if want is None:
            continue
        for s in MODES:
            m = table[key].get(s)
            if m is None or m["ratio"] is None:
                continue
            ok = "met" if m["ratio"] >= want else "**missed**"
            out.append(f"| {key[0]} | {int(key[1]):,} | {s} | {m['ratio']:.2f} | >= {want:.1f} | {ok} |")
    return "\n".join(out)


def chart(table, png_path):
    if not shutil.which("gnuplot"):
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        dat = f.name
        f.write("workload " + " ".join(MODES) + "\n")
        for key in keys_in_order(table):
            vals = [table[key].get(s, {}).get("ratio") for s in MODES]
            f.write(f"{key[0]}/{key[1]}c " + " ".join("NaN" if v is None else f"{v:.3f}" for v in vals) + "\n")
    script = f"""
set terminal pngcairo size 900,480 font 'sans,10'
set output '{png_path}'
set title 'http_server against nginx: median requests/s as a ratio to nginx (1.0 = nginx)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set ylabel 'x nginx'
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2
plot for [i=2:{len(MODES) + 1}] '{dat}' using i:xtic(1) title columnheader(i)
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        os.unlink(dat)
    return True


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tsv", default=os.path.join(root, "bench/results/http.tsv"))
    ap.add_argument("--out", default=os.path.join(root, "docs/BENCHMARKS-http.md"))
    ap.add_argument("--chart", default=os.path.join(root, "docs/benchmarks-http.png"))
    ap.add_argument("--command", default="bench/http.sh")
    ap.add_argument("--machine", default="")
    ap.add_argument("--note", action="append", default=[], help="a line for the notes (repeatable)")
    args = ap.parse_args()

    rows = load(args.tsv)
    table = summarise(rows)
    rounds = max(m["rounds"] for per in table.values() for m in per.values())
    have_chart = chart(table, args.chart)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        "# HTTP benchmarks: http_server against nginx",
        "",
        f"Generated by `bench/http_report.py` from `bench/http.sh`'s `bench/results/http.tsv` on {now}. "
        "Do not edit by hand: re-run the scripts.",
        "",
        f"- Command: `{args.command}`" + (f"; machine: {args.machine}" if args.machine else ""),
        "- nginx from Debian (one worker, `sendfile on`, `tcp_nopush on`, `access_log off`) and "
        "`http_server --threads 1` in each mode serve the same tree (a 1 KiB and a 1 MiB file of "
        "random bytes); servers pinned to CPU 0, `wrk -t1` to CPU 1 (`taskset`), keep-alive.",
        f"- Every server runs once per round, interleaved; {rounds} round(s). Values are medians over "
        "rounds; `x` is the median of the per-round ratios to nginx measured in the same round.",
        "- Targets (issue 15): >= 1.0x nginx on 1 KiB, >= 0.9x on 1 MiB.",
    ]
    doc += [f"- {n}" for n in args.note]
    doc.append("")
    if have_chart:
        doc += [f"![ratio to nginx per mode, file and connection count]({os.path.basename(args.chart)})", ""]
    doc += ["## Results", "", markdown(table), "", "## Targets", "", targets(table), "",
            "Raw per-run data: `bench/results/http.tsv` (one row per server, file, connection count "
            "and round). The hello-protocol benchmarks are in [BENCHMARKS.md](BENCHMARKS.md).", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(doc))
    print(f"wrote {args.out}" + (f" and {args.chart}" if have_chart else ""))


if __name__ == "__main__":
    main()
