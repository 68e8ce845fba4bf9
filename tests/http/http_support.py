"""Shared pieces of the http_server tests: a document tree (with traps outside it), starting and
stopping the server, raw-socket helpers, and the CI rule for missing tools."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

SKIP = 77  # ctest SKIP_RETURN_CODE


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def need_tool(name: str) -> str:
    """The tool's path; missing: a failure in CI (CI=true), a visible skip locally."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        print(f"FAIL: {name} is not installed (scripts/install-deps.sh installs it)", flush=True)
        sys.exit(1)
    print(f"SKIP: {name} is not installed (scripts/install-deps.sh installs it)", flush=True)
    sys.exit(SKIP)


def png(width: int, height: int, rgb=(200, 30, 30)) -> bytes:
    """A small solid-colour PNG (stdlib only)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Tree:
    """A temporary document root plus a secret next to it that must never be served."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="nioxx-http-")
        self.root = os.path.join(self.base, "www")
        self.secret = b"TOP-SECRET-" + os.urandom(8).hex().encode()
        os.makedirs(os.path.join(self.root, "sub"))
        os.makedirs(os.path.join(self.root, "empty"))
        with open(os.path.join(self.base, "secret.txt"), "wb") as f:
            f.write(self.secret)
        self.files = {
            "index.html": b"<!doctype html><title>nioxx</title><h1>home</h1>\n",
            "sub/index.html": b"<p>sub index</p>\n",
            "style.css": b"body { background: #fff; }\n",
            "small.txt": b"0123456789abcdefghijklmnopqrstuvwxyz\n",
            "image.png": png(8, 8),
            "big.bin": os.urandom(3 * 1024 * 1024 + 123),
            "huge.bin": os.urandom(8 * 1024 * 1024 + 7),  # far beyond any socket buffer
            "empty.txt": b"",
        }
        for name, data in self.files.items():
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(data)
        # Links: one leading out of the root (refused), one inside (followed).
        os.symlink(os.path.join(self.base, "secret.txt"), os.path.join(self.root, "leak.txt"))
        os.symlink("..", os.path.join(self.root, "sub", "up"))
        os.symlink(self.base, os.path.join(self.root, "outdir"))
        os.symlink("small.txt", os.path.join(self.root, "alias.txt"))
        os.mkfifo(os.path.join(self.root, "fifo"))

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


class Server:
    """One http_server process; its `listening on HOST:PORT` line gives the port."""

    def __init__(self, binary: str, mode: str, root: str, extra: list[str] | None = None):
        cmd = [binary, "--mode", mode, "--root", root, "--port", "0", "--threads", "2",
               "--log-level", "warn"] + list(extra or [])
        log("starting: " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        deadline = time.monotonic() + 60
        self.port = 0
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited before listening: " + "".join(self.output))
            self.output.append(line)
            m = re.search(r"listening on [^ ]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise RuntimeError("no listening line within 60 s")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self) -> int:
        """SIGTERM, then the exit code (the drain must finish within 60 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop within 60 s of SIGTERM")


def connect(port: int, timeout: float = 30.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP responses off a raw socket (Content-Length framing only, as the server sends)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()  # appends stay cheap for multi-MiB bodies

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def response(self, head_request: bool = False):
        """(status, headers dict lower-cased, body); raises on EOF before a complete response."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed before a complete response head: %r" % self.buf)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0] + " ")
        assert m, "bad status line %r" % lines[0]
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        length = 0 if head_request else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            if not self._fill():
                raise EOFError("connection closed inside a body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(m.group(1)), headers, body

    def closed(self) -> bool:
        """True once the server closed the connection with nothing more sent."""
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not data:
                return not self.buf
            self.buf += data
