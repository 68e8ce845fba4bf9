"""Scale-out end to end (docs/DEPLOY.md):
1. --reuseport: two hello_servers share one port; without the flag the second cannot bind.
2. HAProxy (Debian's haproxy, TCP mode, health checks) in front of three hello_servers (reactor,
   proactor, coroutine); the checking load client (tests/reliability/loadgen.py, reconnecting)
   runs through it; one server gets SIGTERM mid-run. Checks: the stopped server exits 0; every
   request the servers answered reached the client (sum of the servers' answered counts == the
   client's right replies), no wrong or lost reply, and the load went on on the other two."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import ops_support as s

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import loadgen  # noqa: E402


def answered(server: s.Server) -> int:
    for line in server.lines:
        m = re.search(r"stopped: .*requests=(\d+)", line)
        if m:
            return int(m.group(1))
    raise RuntimeError("no summary line; output:\n" + server.output())


def frames(server: s.Server) -> float:
    _, _, text = s.http_get(server.metrics_url)
    m = re.search(r'^nioxx_server_frames_total\{[^}]*\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else -1.0


def wait_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def reuseport(c: s.Checks, binary: str) -> None:
    first = s.Server(binary, ["--reuseport"])
    try:
        second = s.Server(binary, ["--reuseport", "--mode", "proactor"], timeout=30)
        # The helper passed --port 0; the real check: a second process on the first one's port.
        second.stop()
        cmd = [binary, "--port", str(first.port), "--reuseport", "--mode", "proactor"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = p.stdout.readline()
        c.check(f"listening on 127.0.0.1:{first.port}" in line,
                f"--reuseport: a second server listens on the same port ({line.strip()})")
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
        r = subprocess.run([binary, "--port", str(first.port)], capture_output=True, text=True,
                           timeout=60)
        c.check(r.returncode == 1 and "cannot start" in r.stderr,
                f"without --reuseport the port is taken (rc {r.returncode})")
    finally:
        first.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True)
    p.add_argument("--client", required=True)  # unused: loadgen.py reconnects, hello_client not
    p.add_argument("--duration", type=float, default=6.0)
    a = p.parse_args()
    haproxy = s.require_tool("haproxy", "haproxy")
    c = s.Checks()
    reuseport(c, a.server)

    servers = [s.Server(a.server, ["--mode", mode, "--metrics", "127.0.0.1:0",
                                   "--shutdown-grace", "20"])
               for mode in ("reactor", "proactor", "coroutine")]
    proxy = None
    with tempfile.TemporaryDirectory(prefix="nioxx-haproxy-") as tmp:
        try:
            port = s.free_port()
            cfg = os.path.join(tmp, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(f"""global
  maxconn 1024
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend hello
  bind 127.0.0.1:{port}
  default_backend hello_servers
backend hello_servers
  balance roundrobin
  default-server check inter 200ms fall 1 rise 2
""" + "".join(f"  server s{i} 127.0.0.1:{x.port}\n" for i, x in enumerate(servers)))
            proxy = subprocess.Popen([haproxy, "-f", cfg, "-db"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
            c.check(wait_port(port), "haproxy listens")
            connections = 6 if s.sanitized() else 12
            gen = loadgen.LoadGen(("127.0.0.1", port), connections, pipeline=4, reconnect=True)
            gen.connect_all()
            c.check(gen.stats.connections == connections,
                    f"{connections} connections through haproxy ({gen.stats.connections})")
            result: dict = {}
            runner = threading.Thread(target=lambda: result.update(st=gen.run(a.duration)))
            runner.start()
            time.sleep(a.duration / 3)
            victim, others = servers[0], servers[1:]
            ok_at_stop = gen.stats.ok
            before = [frames(x) for x in others]
            s.log(f"SIGTERM to the {victim.cmd[4]} server (port {victim.port})")
            rc = victim.stop()
            c.check(rc == 0, f"the stopped server exits 0 (rc {rc})")
            runner.join(a.duration + 120)
            st = result.get("st")
            after = [frames(x) for x in others]
            gen.close_all()
            c.check(st is not None, "the load run finished")
            if st is None:
                c.exit()
            s.log(f"client: {st}")
            c.check(st.wrong == 0 and st.lost == 0 and st.truncated == 0,
                    f"no wrong, lost or truncated reply (wrong {st.wrong}, lost {st.lost}, "
                    f"truncated {st.truncated}) {st.first_problem}")
            c.check(st.conn_errors == 0, f"no connection errors ({st.conn_errors})")
            c.check(st.reconnects > 0,
                    f"the client reconnected after the stop ({st.reconnects} reconnects, "
                    f"{st.unsent_at_close} requests in flight at close, answered by no server)")
            c.check(st.ok > ok_at_stop, f"load continued after the stop ({ok_at_stop} -> {st.ok})")
            c.check(all(b2 > b1 for b1, b2 in zip(before, after)),
                    f"both remaining servers answered more after the stop ({before} -> {after})")
            for x in others:
                c.check(x.stop() == 0, f"server on port {x.port} stops cleanly")
            total = sum(answered(x) for x in servers)
            c.check(total == st.ok,
                    f"every request the servers answered reached the client (servers {total}, "
                    f"client {st.ok}; the stopped server answered {answered(victim)})")
        finally:
            if proxy is not None and proxy.poll() is None:
                proxy.terminate()
                proxy.wait(30)
            for x in servers:
                x.kill()
    c.exit()


if __name__ == "__main__":
    main()
