"""Shared pieces of the reliability drivers: start/stop a hello_server, watch its /proc entry,
run a steady good client beside the attack, and talk to the server over raw sockets."""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

import hello_wire as wire

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sanitized() -> bool:
    """True when the server under test was built with ASan/TSan: loads are scaled down."""
    return os.environ.get("NIOXX_SANITIZE", "") not in ("", "OFF", "off", "0", "none")


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def common_args(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server", required=True,
                   help="hello_server command (a path, or a quoted command such as 'python3 standin_server.py')")
    p.add_argument("--mode", default="reactor", choices=["reactor", "proactor", "coroutine"])
    p.add_argument("--dispatch", default=None, help="proactor dispatch strategy")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--server-arg", action="append", default=[], help="extra server flag (repeatable)")
    return p


class Server:
    """One hello_server process: started, its `listening on HOST:PORT` line parsed, output drained."""

    def __init__(self, args, extra: list[str] | None = None, prlimit_nofile: int | None = None,
                 startup_timeout: float = 30.0):
        cmd = shlex.split(args.server) + ["--mode", args.mode, "--port", "0", "--threads", str(args.threads)]
        if args.dispatch and args.mode in ("proactor", "coroutine"):
            cmd += ["--dispatch", args.dispatch]
        cmd += list(extra or []) + list(args.server_arg)
        if prlimit_nofile is not None:
            cmd = ["prlimit", f"--nofile={prlimit_nofile}:{prlimit_nofile}", "--"] + cmd
        log("server: " + " ".join(cmd))
        self.cmd = cmd
        self.lines: list[str] = []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace",
                                     start_new_session=True)
        self._listening = threading.Event()
        self.host, self.port = "127.0.0.1", 0
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._listening.wait(startup_timeout):
            self.kill()
            raise RuntimeError("server printed no 'listening on' line; output:\n" + self.output())
        self.pid = self._find_pid()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if os.environ.get("RELIABILITY_ECHO_SERVER"):
                print("  server| " + line, flush=True)
            m = re.search(r"listening on (\S+):(\d+)", line)
            if m and not self._listening.is_set():
                self.host, self.port = m.group(1), int(m.group(2))
                self._listening.set()

    def _find_pid(self) -> int:
        # Under prlimit the server replaces prlimit (exec), so the pid is the same.
        return self.proc.pid

    def output(self) -> str:
        return "\n".join(self.lines[-200:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    # --- /proc figures ---
    def rss_kib(self) -> int:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def wait_fds_at_most(self, limit: int, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        n = self.fd_count()
        while n > limit and time.monotonic() < deadline:
            time.sleep(0.1)
            n = self.fd_count()
        return n

    # --- stopping ---
    def terminate(self, timeout: float = 30.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"server did not exit within {timeout}s of SIGTERM")
        self._reader.join(5)
        return rc

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


class RssSampler(threading.Thread):
    """Samples the server's RSS every `period` seconds; keeps the peak."""

    def __init__(self, server: Server, period: float = 0.1):
        super().__init__(daemon=True)
        self.server, self.period = server, period
        self.peak = server.rss_kib()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.peak = max(self.peak, self.server.rss_kib())

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def connect(addr, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def set_linger_reset(s: socket.socket) -> None:
    """Makes close() send RST instead of FIN."""
    import struct
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Conversation:
    """Reads replies from a socket until EOF/reset/timeout; records how the stream ended."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = wire.FrameReader()
        self.replies: list[wire.Reply] = []
        self.end = None  # "eof" | "reset" | "timeout" | "garbage"
        self.garbage = ""

    def read_until_end(self, timeout: float) -> "Conversation":
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.end = "timeout"
                return self
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                self.end = "timeout"
                return self
            except (ConnectionResetError, BrokenPipeError):
                self.end = "reset"
                return self
            if not data:
                self.end = "eof" if not self.reader.buf else "garbage"
                if self.reader.buf:
                    self.garbage = f"stream ended inside a reply frame ({len(self.reader.buf)} bytes)"
                return self
            try:
                for f in self.reader.feed(data):
                    self.replies.append(wire.parse_reply(f))
            except wire.ParseError as e:
                self.end, self.garbage = "garbage", f"unparseable reply: {e}"
                return self

    def read_n(self, n: int, timeout: float) -> bool:
        """Reads until n replies arrived (True) or the stream ended/timed out (False)."""
        deadline = time.monotonic() + timeout
        while len(self.replies) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self.end = "timeout"
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                self.end = "timeout"
                return False
            except (ConnectionResetError, BrokenPipeError):
                self.end = "reset"
                return False
            if not data:
                self.end = "eof"
                return False
            for f in self.reader.feed(data):
                self.replies.append(wire.parse_reply(f))
        return True


def round_trip(addr, names_seqs, timeout: float = 10.0) -> tuple[bool, str]:
    """Opens a connection, sends the requests in one write, checks every reply. (ok, why-not)."""
    try:
        with connect(addr, timeout) as s:
            s.sendall(b"".join(wire.request(n, q) for n, q in names_seqs))
            c = Conversation(s)
            if not c.read_n(len(names_seqs), timeout):
                return False, f"got {len(c.replies)}/{len(names_seqs)} replies, then {c.end}"
            for (n, q), r in zip(names_seqs, c.replies):
                if r.error or r.greeting != wire.greeting_for(n) or r.seq != q:
                    return False, f"wrong reply {r} for ({n!r}, {q})"
            return True, ""
    except OSError as e:
        return False, f"{type(e).__name__}: {e}"


class GoodClient(threading.Thread):
    """A steady, well-behaved client beside the attack: one connection, `pipeline` requests in
    flight, every reply checked. Any loss, wrong reply or connection error is recorded."""

    def __init__(self, addr, pipeline: int = 4, name: str = "good"):
        super().__init__(daemon=True)
        self.addr, self.pipeline, self.name = addr, pipeline, name
        self.sent = self.ok = 0
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        seq = 0
        try:
            s = connect(self.addr)
            conv = Conversation(s)
            while not self._halt.is_set():
                batch = []
                for _ in range(self.pipeline):
                    seq += 1
                    batch.append((f"{self.name}-{seq}-\u00e9\u4e16", seq))
                s.sendall(b"".join(wire.request(n, q) for n, q in batch))
                self.sent += len(batch)
                base = len(conv.replies)
                if not conv.read_n(base + len(batch), 15.0):
                    self.failures.append(f"lost replies: connection {conv.end} after {self.ok} good replies")
                    return
                for (n, q), r in zip(batch, conv.replies[base:]):
                    if r.error or r.greeting != wire.greeting_for(n) or r.seq != q:
                        self.failures.append(f"wrong reply {r} for seq {q}")
                        return
                    self.ok += 1
                del conv.replies[:]
                time.sleep(0.002)
            s.close()
        except OSError as e:
            self.failures.append(f"connection error: {type(e).__name__}: {e}")

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


class Checker:
    """Collects named pass/fail checks and prints a summary; exit code 1 on any failure."""

    def __init__(self, title: str):
        self.title = title
        self.failed: list[str] = []
        self.passed = 0

    def check(self, cond: bool, what: str) -> bool:
        if cond:
            self.passed += 1
            log(f"  ok   {what}")
        else:
            self.failed.append(what)
            log(f"  FAIL {what}")
        return cond

    def finish(self, server: Server | None = None) -> int:
        if self.failed and server is not None:
            print("---- last server output ----\n" + server.output(), flush=True)
        log(f"{self.title}: {self.passed} passed, {len(self.failed)} failed")
        for f in self.failed:
            log(f"  failed: {f}")
        return 1 if self.failed else 0


def main_wrapper(fn) -> None:
    try:
        sys.exit(fn())
    except Exception as e:  # a crashed driver must fail the test loudly, not pass
        import traceback
        traceback.print_exc()
        log(f"driver error: {e}")
        sys.exit(2)


def round_trip_on(s: socket.socket, names_seqs, timeout: float = 10.0) -> bool:
    """One checked round trip on an open connection."""
    try:
        s.settimeout(timeout)
        s.sendall(b"".join(wire.request(n, q) for n, q in names_seqs))
        c = Conversation(s)
        if not c.read_n(len(names_seqs), timeout):
            return False
        return all(r.greeting == wire.greeting_for(n) and r.seq == q and not r.error
                   for (n, q), r in zip(names_seqs, c.replies))
    except OSError:
        return False


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def server_sockets(pid: int) -> list[tuple[int, int, str]]:
    """(server port, peer port, TCP state) of every TCP socket the process holds (diagnostics)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[9] in inodes:
                        out.append((int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16),
                                    TCP_STATES.get(int(p[3], 16), p[3])))
        except OSError:
            pass
    return out
