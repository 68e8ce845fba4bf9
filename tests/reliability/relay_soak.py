#!/usr/bin/env python3
"""The relay demo under a fast sender and a slow receiver (issue 19), with its memory watched.

Starts a slow sink (reads 64 KiB, then pauses --pause-ms every --pause-every reads), the real
relay_server pointed at it, and a sender that pushes --bytes through the relay as fast as it
takes them. Checks that every byte arrived (count and CRC-32) and samples the relay's RSS every
50 ms; prints `RESULT relay bytes=... MiB/s=... rss_base_kib=... rss_peak_kib=... growth_kib=...`
and fails if the peak RSS grew by more than --max-growth-kib over the RSS before the transfer.
With --observe the relay also runs with --metrics and --trace (issue 16): a scrape after the
transfer must count the relayed bytes, and the trace file written at exit must load as JSON and
hold read and write operations, each handled once.

  python3 tests/reliability/relay_soak.py --relay build/bin/relay_server --bytes 1073741824
"""
import argparse
import json
import os
import tempfile
import urllib.request
import socket
import subprocess
import sys
import threading
import time
import zlib


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    p.add_argument("--bytes", type=int, default=1 << 30)
    p.add_argument("--dispatch", default="call-through")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pause-ms", type=float, default=1.0)
    p.add_argument("--pause-every", type=int, default=4, help="reads of 64 KiB between pauses")
    p.add_argument("--max-growth-kib", type=int, default=16 * 1024)
    p.add_argument("--observe", action="store_true", help="also check --metrics and --trace")
    a = p.parse_args()
    trace = os.path.join(tempfile.mkdtemp(), "relay-trace.json")
    observe = ["--metrics", "127.0.0.1:0", "--trace", trace] if a.observe else []

    sink = socket.create_server(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]
    relay = subprocess.Popen(
        [a.relay, "--port", "0", "--target", f"127.0.0.1:{sink_port}", "--dispatch", a.dispatch,
         "--threads", str(a.threads), *observe], stdout=subprocess.PIPE, text=True)
    try:
        line = relay.stdout.readline()
        if "listening on" not in line:
            print(f"FAIL relay did not start: {line!r}")
            return 1
        relay_port = int(line.rsplit(":", 1)[1])
        metrics_url = relay.stdout.readline().split()[-1] if a.observe else None
        received = {"n": 0, "crc": 0}

        def receive():
            conn, _ = sink.accept()
            reads = 0
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received["n"] += len(chunk)
                received["crc"] = zlib.crc32(chunk, received["crc"])
                reads += 1
                if a.pause_ms > 0 and reads % a.pause_every == 0:
                    time.sleep(a.pause_ms / 1000)
            conn.close()

        receiver = threading.Thread(target=receive)
        receiver.start()
        sender = socket.create_connection(("127.0.0.1", relay_port))
        time.sleep(0.2)  # the relay has connected upstream and settled
        base = rss_kib(relay.pid)
        peak = base
        stop = threading.Event()

        def sample():
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, rss_kib(relay.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        block = bytes((i * 131 + (i >> 8)) & 0xFF for i in range(1 << 20))
        crc = 0
        sent = 0
        t0 = time.monotonic()
        while sent < a.bytes:
            piece = block[: min(len(block), a.bytes - sent)]
            sender.sendall(piece)
            crc = zlib.crc32(piece, crc)
            sent += len(piece)
        sender.shutdown(socket.SHUT_WR)
        receiver.join()
        elapsed = time.monotonic() - t0
        stop.set()
        sampler.join()
        sender.close()
        ok = received["n"] == a.bytes and received["crc"] == crc
        growth = peak - base
        print(f"RESULT relay bytes={received['n']} of={a.bytes} crc_ok={received['crc'] == crc} "
              f"seconds={elapsed:.1f} MiB/s={a.bytes / elapsed / (1 << 20):.0f} "
              f"dispatch={a.dispatch} rss_base_kib={base} rss_peak_kib={peak} growth_kib={growth}")
        if not ok:
            print("FAIL bytes lost or corrupted")
            return 1
        # Sanitizers keep freed memory in quarantine: RSS says nothing about the relay's buffers.
        if growth > a.max_growth_kib and not os.environ.get("NIOXX_SANITIZE"):
            print(f"FAIL relay RSS grew by {growth} KiB (limit {a.max_growth_kib})")
            return 1
        if a.observe:
            text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
            samples = {l.split()[0]: float(l.split()[1]) for l in text.splitlines()
                       if l and not l.startswith("#") and " " in l}
            relayed = samples.get("nioxx_relay_forwarded_bytes_total", 0)
            if relayed < a.bytes:
                print(f"FAIL /metrics counts {relayed} relayed bytes, expected >= {a.bytes}")
                return 1
            if not any(k.startswith("nioxx_proactor_completions_total") for k in samples):
                print("FAIL /metrics lacks the proactor's operation families")
                return 1
            print(f"metrics ok: nioxx_relay_forwarded_bytes_total {relayed:.0f}")
        return 0
    finally:
        relay.send_signal(2)
        try:
            out, _ = relay.communicate(timeout=30)
            sys.stdout.write(out)
        except subprocess.TimeoutExpired:
            relay.kill()
        if a.observe and relay.returncode == 0 and check_trace(trace) != 0:
            return 1


def check_trace(path):
    """Every read/write operation in the file begins, ends and is handled exactly once."""
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    begins, ends, handled = {}, {}, {}
    for e in events:
        if e.get("cat") == "op" and e.get("ph") in ("b", "e"):
            (begins if e["ph"] == "b" else ends).setdefault(e["id"], []).append(e)
        elif e.get("ph") == "X" and e.get("cat") != "initiate":
            handled.setdefault(e["args"]["op"], []).append(e)
    kinds = {e["name"].split(" #")[0] for v in begins.values() for e in v}
    bad = [i for i in begins if len(begins[i]) != 1 or len(ends.get(i, [])) != 1 or len(handled.get(i, [])) != 1]
    if not begins or not {"read", "write"} <= kinds or bad:
        print(f"FAIL trace {path}: {len(begins)} operations, kinds {sorted(kinds)}, "
              f"{len(bad)} not begun/ended/handled exactly once")
        return 1
    print(f"trace ok: {len(begins)} operations ({', '.join(sorted(kinds))}), each handled once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
