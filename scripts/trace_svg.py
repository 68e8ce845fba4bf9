#!/usr/bin/env python3
"""Draws a window of a `hello_server --trace FILE` recording as an SVG timeline (docs/trace.svg).

One lane per nioxx thread; a box per completion handler (blue: read, orange: write), a tick where
an operation was initiated, a dot where an engine thread found it would block (waiting, grey) or
performed its I/O (performing, green), and an arrow from each initiation to its handler (the flow
arrows Perfetto draws). Standard library only, so it runs wherever the tests run.

Usage: scripts/trace_svg.py TRACE.json OUT.svg [--start-us T] [--window-us W] [--max-ops N]
"""
import argparse
import json
import sys
from collections import defaultdict

COLOURS = {"read": "#4c78a8", "write": "#f58518"}
LANE_H, TOP, LEFT, WIDTH = 46, 40, 150, 1100


def load(path):
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M"}
    handlers = [e for e in events if e.get("ph") == "X" and e.get("cat") != "initiate"]
    initiations = {e["args"]["op"]: e for e in events if e.get("cat") == "initiate"}
    instants = [e for e in events if e.get("ph") == "n"]
    return names, handlers, initiations, instants


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("out")
    ap.add_argument("--start-us", type=float, help="window start (default: the middle of the recording)")
    ap.add_argument("--window-us", type=float, default=250.0)
    ap.add_argument("--max-ops", type=int, default=60, help="operations drawn at most")
    args = ap.parse_args()

    names, handlers, initiations, instants = load(args.trace)
    if not handlers:
        sys.exit("trace_svg: no handler slices in the trace")
    handlers.sort(key=lambda e: e["ts"])
    start = args.start_us if args.start_us is not None else handlers[len(handlers) // 2]["ts"]
    end = start + args.window_us
    shown = [h for h in handlers if start <= h["ts"] and h["ts"] + h.get("dur", 0) <= end][: args.max_ops]
    ops = {h["args"]["op"] for h in shown}
    tids = sorted({h["tid"] for h in shown} | {initiations[o]["tid"] for o in ops if o in initiations} |
                  {i["tid"] for i in instants if i.get("id") in ops})
    lane = {tid: n for n, tid in enumerate(tids)}

    def x(ts):
        return LEFT + (ts - start) / (end - start) * WIDTH

    def y(tid):
        return TOP + lane[tid] * LANE_H

    height = TOP + len(tids) * LANE_H + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 20}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           '<defs><marker id="a" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">'
           '<path d="M0,0 L6,3 L0,6 z" fill="#666"/></marker></defs>',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT}" y="18" font-size="13">{len(shown)} handlers in {args.window_us:.0f} µs of '
           f'{args.trace.split("/")[-1]}: box = handler, tick = initiation, grey dot = waiting, '
           'green dot = performing, arrow = initiation → handler</text>']
    with_handlers = {h["tid"] for h in shown}
    with_io = {i["tid"] for i in instants if i.get("id") in ops and start <= i["ts"] <= end}
    for tid, n in lane.items():
        role = " + ".join(r for r, on in (("I/O", tid in with_io), ("handlers", tid in with_handlers)) if on)
        out.append(f'<rect x="{LEFT}" y="{y(tid)}" width="{WIDTH}" height="{LANE_H - 8}" fill="#f4f4f4"/>')
        out.append(f'<text x="8" y="{y(tid) + LANE_H / 2 - 6}">{names.get(tid, tid)}</text>')
        out.append(f'<text x="8" y="{y(tid) + LANE_H / 2 + 8}" fill="#555">{role or "initiations"}</text>')
    for h in shown:
        kind = h["args"].get("kind", h["name"].split()[-1])
        w = max(h.get("dur", 0) / (end - start) * WIDTH, 1.5)
        out.append(f'<rect x="{x(h["ts"]):.1f}" y="{y(h["tid"]) + 6}" width="{w:.1f}" height="{LANE_H - 20}" '
                   f'fill="{COLOURS.get(kind, "#54a24b")}"><title>handler {kind} #{h["args"]["op"]} '
                   f'({h.get("dur", 0):.1f} µs, {h["args"].get("outcome", "")})</title></rect>')
    for i in instants:
        if i.get("id") in ops and start <= i["ts"] <= end:
            colour = "#999" if i["name"] == "waiting" else "#54a24b"
            out.append(f'<circle cx="{x(i["ts"]):.1f}" cy="{y(i["tid"]) + LANE_H - 11}" r="2.5" fill="{colour}"/>')
    for h in shown:
        init = initiations.get(h["args"]["op"])
        if init is None or init["ts"] < start:
            continue
        x0, y0 = x(init["ts"]), y(init["tid"]) + 4
        out.append(f'<line x1="{x0:.1f}" y1="{y0 - 2}" x2="{x0:.1f}" y2="{y0 + LANE_H - 14}" stroke="black"/>')
        out.append(f'<line x1="{x0:.1f}" y1="{y0 + 4}" x2="{x(h["ts"]):.1f}" y2="{y(h["tid"]) + 8}" '
                   'stroke="#666" stroke-width="0.8" marker-end="url(#a)"/>')
    for k in range(6):
        t = args.window_us * k / 5
        out.append(f'<text x="{x(start + t) - (30 if k == 5 else 10):.1f}" y="{height - 16}">{t:.0f} µs</text>')
    out.append("</svg>")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.out}: {len(shown)} handlers on {len(tids)} threads")


if __name__ == "__main__":
    main()
