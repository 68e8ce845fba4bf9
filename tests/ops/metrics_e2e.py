"""--metrics end to end: a loaded hello_server's /metrics passes `promtool check metrics`
(Debian's prometheus package), parses with python3-prometheus-client, and its counters agree with
the load; the output-pending gauge sees the replies held for a client that does not read, and
drops to zero once it is gone; the endpoint answers bad requests with HTTP errors; a bad
--metrics value exits 2."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import ops_support as s

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import hello_wire  # noqa: E402  (tests/reliability: the hello protocol's wire format)


def gauge(url: str, name: str, parse) -> float:
    _, _, text = s.http_get(url)
    return next((x.value for f in parse(text) for x in f.samples if x.name == name), -1.0)


def check_output_pending(c: s.Checks, server: s.Server, parse) -> None:
    """A client that sends requests and never reads: once the kernel's buffers are full, the
    server holds replies (up to --output-cap) and the gauge shows them; when the client goes,
    the gauge goes back to zero."""
    name = "nioxx_server_output_pending_bytes"
    block = b"".join(hello_wire.request("x" * 1000, i + 1) for i in range(1000))  # ~1 MB
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setblocking(False)
    held = -1.0
    sent = 0
    rest = memoryview(block)  # a partial send continues where it stopped: frames stay whole
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and held <= 0:
        try:
            while sent < 256 << 20:  # the server stops reading long before this
                n = sock.send(rest)
                sent += n
                rest = rest[n:] if n < len(rest) else memoryview(block)
        except BlockingIOError:
            pass
        held = gauge(server.metrics_url, name, parse)
        if held <= 0:
            time.sleep(0.2)
    c.check(held > 0, f"{name} > 0 while a client does not read ({held:.0f} bytes; "
                      f"{sent >> 20} MiB of requests sent)")
    sock.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and held != 0:
        time.sleep(0.2)
        held = gauge(server.metrics_url, name, parse)
    c.check(held == 0, f"{name} back to 0 once that client is gone ({held:.0f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--mode", default="proactor")
    a = p.parse_args()
    promtool = s.require_tool("promtool", "prometheus")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        s.require_tool("python3-prometheus-client (module prometheus_client)",
                       "python3-prometheus-client")
        return
    c = s.Checks()

    for value, hint in [("127.0.0.1", "HOST:PORT"), (":9100", "HOST:PORT"),
                        ("127.0.0.1:70000", "0..65535"), ("127.0.0.1:x", "0..65535"),
                        ("example.org:9100", "numeric IP")]:
        bad = subprocess.run([a.server, "--metrics", value], capture_output=True, text=True,
                             timeout=60)
        c.check(bad.returncode == 2 and hint in bad.stderr,
                f"--metrics {value} exits 2 naming the problem ({bad.returncode}: "
                f"{bad.stderr.strip()!r})")

    server = s.Server(a.server, ["--mode", a.mode, "--metrics", "127.0.0.1:0"])
    try:
        connections = 4 if s.sanitized() else 8
        s.load(a.client, server.port, 1.0, connections=connections)
        status, headers, text = s.http_get(server.metrics_url)
        c.check(status == 200, f"GET /metrics answers 200 (got {status})")
        c.check(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
                f"content type of the 0.0.4 text format ({headers.get('Content-Type')})")
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        c.check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                f"promtool check metrics: clean (rc {r.returncode}) {r.stdout}{r.stderr}")

        values: dict[str, float] = {}
        families = {}
        for fam in text_string_to_metric_families(text):
            families[fam.name] = fam
            for sample in fam.samples:
                if not sample.labels or set(sample.labels) == {"server"}:
                    values[sample.name] = sample.value
        for name, kind in [("nioxx_server_frames", "counter"),
                           ("nioxx_server_connections_accepted", "counter"),
                           ("nioxx_server_connections_open", "gauge"),
                           ("nioxx_server_output_pending_bytes", "gauge"),
                           ("nioxx_loop_iterations", "counter"),
                           ("nioxx_loop_lag_seconds", "gauge")]:
            fam = families.get(name)
            c.check(fam is not None and fam.type == kind, f"family {name} is a {kind}")
        if a.mode != "reactor":
            c.check("nioxx_proactor_operations_in_flight" in families,
                    "proactor operation families are exported")
        frames = values.get("nioxx_server_frames_total", 0)
        accepted = values.get("nioxx_server_connections_accepted_total", 0)
        c.check(frames > 0, f"frames answered under load are counted ({frames})")
        c.check(accepted >= connections, f"connections accepted >= {connections} ({accepted})")
        c.check(values.get("nioxx_server_sent_bytes_total", 0) > frames,
                "bytes sent counted (more than one per frame)")

        # A second scrape after more load: counters only grow.
        s.load(a.client, server.port, 0.5, connections=2)
        _, _, text2 = s.http_get(server.metrics_url)
        frames2 = next(x.value for f in text_string_to_metric_families(text2) for x in f.samples
                       if x.name == "nioxx_server_frames_total")
        c.check(frames2 > frames, f"frames counter grows with more load ({frames} -> {frames2})")
        check_output_pending(c, server, text_string_to_metric_families)

        base = server.metrics_url.rsplit("/", 1)[0]
        c.check(s.http_get(base + "/")[0] == 404, "GET / -> 404")
        c.check(s.http_get(server.metrics_url, method="POST")[0] == 405, "POST /metrics -> 405")
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(b"garbage\r\n\r\n")
            reply = sock.recv(4096)
        c.check(reply.startswith(b"HTTP/1.1 400"), f"garbage -> 400 ({reply[:40]!r})")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X: " + b"a" * 9000)
            reply = sock.recv(4096)
        c.check(reply.startswith(b"HTTP/1.1 431"), f"oversized head -> 431 ({reply[:40]!r})")
    finally:
        rc = server.stop()
    c.check(rc == 0, f"server stops cleanly on SIGTERM (rc {rc})")
    c.exit()


if __name__ == "__main__":
    main()
