"""A real Prometheus server (Debian's prometheus) scrapes a loaded hello_server every second and
the server's frame counter is read back through Prometheus' HTTP query API (/api/v1/query): the
exposition works with the scraper operators run, not only with a parser."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
import urllib.parse

import ops_support as s


def query(base: str, expr: str) -> list:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        status, _, body = s.http_get(url, timeout=10)
    except OSError:  # not listening yet (URLError is an OSError)
        return []
    if status != 200:
        return []
    doc = json.loads(body)
    return doc.get("data", {}).get("result", []) if doc.get("status") == "success" else []


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--timeout", type=float, default=90.0)
    a = p.parse_args()
    prometheus = s.require_tool("prometheus", "prometheus")
    c = s.Checks()
    server = s.Server(a.server, ["--mode", "proactor", "--metrics", "127.0.0.1:0"])
    prom = None
    with tempfile.TemporaryDirectory(prefix="nioxx-prom-") as tmp:
        try:
            target = server.metrics_url.removeprefix("http://").removesuffix("/metrics")
            with open(f"{tmp}/prometheus.yml", "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: nioxx\n"
                        f"    static_configs:\n      - targets: ['{target}']\n")
            port = s.free_port()
            base = f"http://127.0.0.1:{port}"
            cmd = [prometheus, f"--config.file={tmp}/prometheus.yml",
                   f"--storage.tsdb.path={tmp}/data", f"--web.listen-address=127.0.0.1:{port}"]
            s.log("prometheus: " + " ".join(cmd))
            prom = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/log", "w"))
            # Load in the background while Prometheus starts and scrapes.
            loader = threading.Thread(target=s.load, args=(a.client, server.port, 4.0), daemon=True)
            loader.start()
            deadline = time.monotonic() + a.timeout
            frames, up = 0.0, None
            while time.monotonic() < deadline:
                if prom.poll() is not None:
                    break
                r = query(base, 'up{job="nioxx"}')
                up = float(r[0]["value"][1]) if r else up
                r = query(base, 'nioxx_server_frames_total{job="nioxx"}')
                frames = float(r[0]["value"][1]) if r else 0.0
                if up == 1 and frames > 0 and not loader.is_alive():
                    break
                time.sleep(0.5)
            loader.join(a.timeout)
            c.check(prom.poll() is None, "prometheus kept running")
            c.check(up == 1, f"the target is up in Prometheus (up={up})")
            c.check(frames > 0, f"nioxx_server_frames_total read back through the query API ({frames})")
            r = query(base, 'sum(nioxx_proactor_completions_total{job="nioxx",kind="read"})')
            reads = float(r[0]["value"][1]) if r else 0.0
            c.check(reads > 0, f"proactor read completions read back too ({reads})")
        finally:
            if prom is not None and prom.poll() is None:
                prom.terminate()
                try:
                    prom.wait(30)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait()
            if c.failed:
                try:
                    print(open(f"{tmp}/log").read()[-3000:])
                except OSError:
                    pass
            rc = server.stop()
    c.check(rc == 0, f"server stops cleanly on SIGTERM (rc {rc})")
    c.exit()


if __name__ == "__main__":
    main()
