"""--trace end to end: a loaded hello_server writes Chrome trace-event JSON on SIGTERM; loaded with
Python's json parser, its slices nest on every thread, every operation has exactly one async
begin and end, one handler slice and one flow start and finish, in causal order; bad uses of the
flag exit 2 with a message."""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import tempfile

import ops_support as s


def check_trace(c: s.Checks, doc: dict, label: str) -> None:
    events = doc["traceEvents"]
    written = doc["otherData"]["operations"]
    c.check(written > 0, f"{label}: operations traced ({written})")
    acts = collections.Counter(e["args"].get("act", "") for e in events
                               if e["ph"] == "X" and e["cat"] == "initiate")
    c.check(sum(acts.values()) == written and "" not in acts and "unknown" not in acts,
            f"{label}: every initiation names its ACT type ({dict(acts)})")
    by_phase = collections.defaultdict(lambda: collections.defaultdict(list))
    slices = collections.defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            slices[e["tid"]].append((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), e))
            if e["cat"] == "handler":
                by_phase[e["args"]["op"]]["handler"].append(e)
        elif e["ph"] in ("b", "e", "s", "f"):
            by_phase[e["id"]][e["ph"]].append(e)
    # Nesting: on each thread, a slice starting inside another ends inside it too.
    bad_nesting = 0
    for tid, items in slices.items():
        items.sort(key=lambda x: (x[0], -x[1]))
        stack: list[float] = []
        for start, end, _ in items:
            while stack and stack[-1] <= start:
                stack.pop()
            if stack and end > stack[-1] + 1e-3:
                bad_nesting += 1
            stack.append(end)
    c.check(bad_nesting == 0, f"{label}: slices nest on every thread ({bad_nesting} overlaps)")
    not_once, out_of_order = 0, 0
    for op, ph in by_phase.items():
        if any(len(ph[k]) != 1 for k in ("b", "e", "s", "f", "handler")):
            not_once += 1
            continue
        b, e, s_, f, h = (float(ph[k][0]["ts"]) for k in ("b", "e", "s", "f", "handler"))
        if not (b <= e <= h and s_ <= f and f == h and s_ == b):
            out_of_order += 1
    c.check(len(by_phase) == written,
            f"{label}: one record per written operation ({len(by_phase)} vs {written})")
    c.check(not_once == 0, f"{label}: every operation begins, ends, is handled exactly once "
            f"({not_once} not)")
    c.check(out_of_order == 0, f"{label}: initiation <= completion queued <= handler, flow from "
            f"initiation to handler ({out_of_order} not)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--client", required=True)
    a = p.parse_args()
    c = s.Checks()
    r = subprocess.run([a.server, "--mode", "reactor", "--trace", "/tmp/x.json"],
                       capture_output=True, text=True, timeout=60)
    c.check(r.returncode == 2 and "--mode proactor" in r.stderr,
            f"--trace with --mode reactor exits 2 ({r.returncode}: {r.stderr.strip()})")
    r = subprocess.run([a.server, "--mode", "proactor", "--trace", "/nonexistent-dir/t.json"],
                       capture_output=True, text=True, timeout=60)
    c.check(r.returncode == 2 and "cannot write" in r.stderr,
            f"--trace to an unwritable path exits 2 ({r.returncode}: {r.stderr.strip()})")
    with tempfile.TemporaryDirectory(prefix="nioxx-trace-") as tmp:
        for mode, dispatch in (("proactor", "call-through"), ("coroutine", "pool")):
            path = os.path.join(tmp, f"{mode}.json")
            server = s.Server(a.server, ["--mode", mode, "--dispatch", dispatch, "--trace", path])
            try:
                s.load(a.client, server.port, 0.3, connections=4, pipeline=2)
            finally:
                rc = server.stop()
            label = f"{mode}/{dispatch}"
            c.check(rc == 0, f"{label}: server stops cleanly (rc {rc})")
            c.check(any("trace written to" in line for line in server.lines),
                    f"{label}: the server reports the trace file")
            with open(path) as f:
                doc = json.load(f)
            check_trace(c, doc, label)
    c.exit()


if __name__ == "__main__":
    main()
