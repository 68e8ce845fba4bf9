"""Shared pieces of the operations tests (issue 16): start a hello_server with its observability
flags, read the lines it prints, load it with hello_client, scrape /metrics, find external tools
(a missing tool fails under CI=true and is a visible skip elsewhere)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sanitized() -> bool:
    return os.environ.get("NIOXX_SANITIZE", "") not in ("", "OFF", "off", "0", "none")


def require_tool(name: str, package: str) -> str:
    """The tool's path; without it: a failure in CI (CI=true), a visible skip elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} not found: install Debian's {package} (scripts/install-deps.sh does)"
    if os.environ.get("CI", "").lower() == "true":
        print("FAIL: " + msg, flush=True)
        sys.exit(1)
    print("SKIP: " + msg, flush=True)
    sys.exit(SKIP)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One demo server process; `listening on` (and `metrics on`) lines parsed, output drained."""

    def __init__(self, binary: str, args: list[str], timeout: float = 30.0):
        self.cmd = [binary, "--port", "0"] + args
        log("server: " + " ".join(self.cmd))
        self.lines: list[str] = []
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace")
        self._ready = threading.Event()
        self._wants_metrics = "--metrics" in args
        self.port = 0
        self.metrics_url = ""
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError("server not ready; output:\n" + self.output())

    def _drain(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = re.search(r"listening on [0-9.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"metrics on (http://\S+)", line)
            if m:
                self.metrics_url = m.group(1)
            if self.port and (self.metrics_url or not self._wants_metrics):
                self._ready.set()
        self._ready.set()

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("server did not stop after SIGTERM; output:\n" + self.output())
        self._drained()
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._drained()

    def _drained(self) -> None:
        # The process has exited, but its last lines (the "stopped: ..." summary) may still sit in
        # the pipe: read to end of file before anyone looks at self.lines.
        self._drainer.join(30)


def load(client: str, port: int, seconds: float, connections: int = 8, pipeline: int = 4,
         extra: list[str] | None = None) -> str:
    cmd = [client, "--port", str(port), "--connections", str(connections), "--pipeline",
           str(pipeline), "--duration", str(seconds), "--warmup", "0.2"] + list(extra or [])
    log("load: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if r.returncode != 0:
        raise RuntimeError(f"hello_client exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def http_get(url: str, method: str = "GET", timeout: float = 30.0) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str) -> bool:
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failed += 1
        return ok

    def exit(self) -> None:
        print(f"{'FAILED' if self.failed else 'PASSED'} ({self.failed} failed checks)", flush=True)
        sys.exit(1 if self.failed else 0)
