"""A checking load generator: many non-blocking connections on one epoll selector, each keeping
`pipeline` requests in flight; every reply is checked against the request it answers (greeting
text, seq, order). Used by load.py, faults.py (SIGTERM under load) and soak.sh.

Counts: ok (right replies), wrong, lost (requests never answered), conn_errors (connect failures,
resets or EOF while requests were in flight / before the end of the run).
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import multiprocessing
import selectors
import socket
import time

import hello_wire as w


@dataclasses.dataclass
class Stats:
    connections: int = 0  # connections established
    held: int = 0  # connections open at the same time at the end of the ramp-up
    ok: int = 0
    wrong: int = 0
    lost: int = 0
    conn_errors: int = 0
    closed_by_server: int = 0  # EOF/RST seen (an error unless the server was told to stop)
    truncated: int = 0  # a connection ended inside a reply frame
    reconnects: int = 0  # reconnect=True: connections replaced after the server closed them
    unsent_at_close: int = 0  # reconnect=True: requests in flight when the server closed (never answered)
    first_problem: str = ""

    def add(self, o: "Stats") -> None:
        for f in dataclasses.fields(self):
            if f.name == "first_problem":
                self.first_problem = self.first_problem or o.first_problem
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(o, f.name))

    def note(self, msg: str) -> None:
        if not self.first_problem:
            self.first_problem = msg


class _Conn:
    __slots__ = ("sock", "cid", "next_seq", "inflight", "reader", "out", "open")

    def __init__(self, sock, cid):
        self.sock, self.cid = sock, cid
        self.next_seq = 1
        self.inflight: collections.deque = collections.deque()
        self.reader = w.FrameReader()
        self.out = bytearray()
        self.open = True


def _name(cid: int, seq: int) -> str:
    return f"c{cid}-{seq}"


class LoadGen:
    def __init__(self, addr, connections: int, pipeline: int = 1, cid_base: int = 0,
                 reconnect: bool = False):
        """reconnect: a connection the server closes while sending is replaced by a new one (a
        server behind a load balancer stopping gracefully); its requests in flight are counted in
        unsent_at_close, not as lost."""
        self.addr, self.n, self.pipeline, self.cid_base = addr, connections, pipeline, cid_base
        self.reconnect = reconnect
        self.next_cid = cid_base + connections
        self.sel = selectors.DefaultSelector()
        self.conns: list[_Conn] = []
        self.stats = Stats()
        self.sending = True
        self.expect_close = False  # SIGTERM scenario: the server's close is expected

    # --- connecting, in batches so the listen backlog never overflows ---
    def connect_all(self, batch: int = 256, timeout: float = 30.0) -> None:
        for start in range(0, self.n, batch):
            pending = {}
            for cid in range(start, min(self.n, start + batch)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rc = s.connect_ex(self.addr)
                if rc not in (0, errno.EINPROGRESS):
                    self.stats.conn_errors += 1
                    self.stats.note(f"connect: {errno.errorcode.get(rc, rc)}")
                    s.close()
                    continue
                pending[s] = cid + self.cid_base
                self.sel.register(s, selectors.EVENT_WRITE, None)
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for key, _ in self.sel.select(0.5):
                    s = key.fileobj
                    if s not in pending:
                        continue
                    cid = pending.pop(s)
                    self.sel.unregister(s)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        self.stats.conn_errors += 1
                        self.stats.note(f"connect: {errno.errorcode.get(err, err)}")
                        s.close()
                        continue
                    c = _Conn(s, cid)
                    self.conns.append(c)
                    self.sel.register(s, selectors.EVENT_READ, c)
            for s in pending:
                self.sel.unregister(s)
                s.close()
                self.stats.conn_errors += 1
                self.stats.note("connect timed out")
        self.stats.connections = len(self.conns)
        self.stats.held = sum(1 for c in self.conns if c.open)

    def _fill(self, c: _Conn) -> None:
        while self.sending and len(c.inflight) < self.pipeline:
            seq = c.next_seq
            c.next_seq += 1
            c.inflight.append(seq)
            c.out += w.request(_name(c.cid, seq), seq)
        self._flush(c)

    def _flush(self, c: _Conn) -> None:
        if c.out:
            try:
                n = c.sock.send(c.out)
                del c.out[:n]
            except BlockingIOError:
                pass
            except OSError as e:
                self._end(c, f"send: {e}")
                return
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
        self.sel.modify(c.sock, ev, c)

    def _end(self, c: _Conn, why: str) -> None:
        if not c.open:
            return
        c.open = False
        self.sel.unregister(c.sock)
        c.sock.close()
        self.stats.closed_by_server += 1
        if c.reader.buf:
            self.stats.truncated += 1
            self.stats.note(f"conn {c.cid}: stream ended inside a reply frame")
        if self.reconnect and self.sending and not c.reader.buf:
            self.stats.reconnects += 1
            self.stats.unsent_at_close += len(c.inflight)
            c.inflight.clear()
            self._replace()
            return
        if not self.expect_close:
            self.stats.conn_errors += 1
            self.stats.lost += len(c.inflight)
            self.stats.note(f"conn {c.cid}: {why} with {len(c.inflight)} requests in flight")
        c.inflight.clear()

    def _replace(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10.0)
        try:
            s.connect(self.addr)
        except OSError as e:
            s.close()
            self.stats.conn_errors += 1
            self.stats.note(f"reconnect: {e}")
            return
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = _Conn(s, self.next_cid)
        self.next_cid += 1
        self.conns.append(c)
        self.sel.register(s, selectors.EVENT_READ, c)
        self._fill(c)

    def _on_read(self, c: _Conn) -> None:
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            self._end(c, f"recv: {e}")
            return
        if not data:
            self._end(c, "EOF")
            return
        try:
            frames = c.reader.feed(data)
        except w.ParseError as e:
            self.stats.wrong += 1
            self.stats.note(f"conn {c.cid}: {e}")
            self._end(c, "unparseable reply")
            return
        for f in frames:
            try:
                r = w.parse_reply(f)
            except w.ParseError as e:
                r = w.Reply(error=f"unparseable: {e}")
            if not c.inflight:
                self.stats.wrong += 1
                self.stats.note(f"conn {c.cid}: unsolicited reply {r}")
                continue
            seq = c.inflight.popleft()
            if r.seq == seq and not r.error and r.greeting == w.greeting_for(_name(c.cid, seq)):
                self.stats.ok += 1
            else:
                self.stats.wrong += 1
                self.stats.note(f"conn {c.cid}: wrong reply {r} for seq {seq}")
        self._fill(c)

    def _loop(self, until: float, stop_when_idle: bool = False) -> None:
        while time.monotonic() < until:
            if stop_when_idle and not any(c.open and (c.inflight or c.out) for c in self.conns):
                return
            if self.expect_close and not any(c.open for c in self.conns):
                return
            for key, ev in self.sel.select(0.2):
                c = key.data
                if c is None or not c.open:
                    continue
                if ev & selectors.EVENT_READ:
                    self._on_read(c)
                if c.open and ev & selectors.EVENT_WRITE:
                    self._flush(c)

    def run(self, duration: float, drain_timeout: float = 20.0, on_tick=None) -> Stats:
        """Drives every connection for `duration` s, then stops sending and waits for the replies
        still in flight; those never answered are lost."""
        for c in self.conns:
            self._fill(c)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            self._loop(min(end, time.monotonic() + 1.0))
            if on_tick:
                on_tick(self.stats)
        self.sending = False
        self._loop(time.monotonic() + drain_timeout, stop_when_idle=True)
        for c in self.conns:
            if c.open and c.inflight:
                self.stats.lost += len(c.inflight)
                self.stats.note(f"conn {c.cid}: {len(c.inflight)} replies never came")
                c.inflight.clear()
        return self.stats

    def close_all(self) -> None:
        for c in self.conns:
            if c.open:
                c.open = False
                self.sel.unregister(c.sock)
                c.sock.close()


def _worker(addr, n, pipeline, duration, cid_base, q, go):
    import harness
    harness.raise_nofile()
    g = LoadGen(addr, n, pipeline, cid_base)
    g.connect_all()
    q.put(("connected", g.stats.connections))
    go.wait()
    st = g.run(duration)
    q.put(("done", st))
    g.close_all()


def run_procs(addr, connections: int, pipeline: int, duration: float, procs: int, on_connected=None) -> Stats:
    """Splits the connections over `procs` worker processes (one Python thread cannot drive
    10,000 connections fast); returns the summed Stats."""
    if procs <= 1:
        g = LoadGen(addr, connections, pipeline)
        g.connect_all()
        if on_connected:
            on_connected(g.stats.connections)
        st = g.run(duration)
        g.close_all()
        return st
    ctx = multiprocessing.get_context("fork")
    q, go = ctx.Queue(), ctx.Event()
    per = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    ps = [ctx.Process(target=_worker, args=(addr, per[i], pipeline, duration, sum(per[:i]), q, go))
          for i in range(procs)]
    for p in ps:
        p.start()
    held = sum(q.get()[1] for _ in ps)
    if on_connected:
        on_connected(held)
    go.set()
    total = Stats()
    for _ in ps:
        total.add(q.get()[1])
    total.held = held
    for p in ps:
        p.join()
    return total
