"""A stand-in hello_server in Python, for self-testing the reliability drivers only.

It follows the CLI and wire contract of demos/hello's hello_server (issue 5) closely enough for the
drivers to be developed and checked before (or without) the real server: same flags, same
`listening on HOST:PORT ...` line, error reply then close on bad input, max connections, a
progress timeout, an output cap with read back-pressure, the EMFILE reserve-descriptor trick and
a graceful SIGTERM. It is single-threaded and slow; --mode/--threads/--dispatch are accepted and
ignored. Never use it to judge nioxx.
"""

import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time

import hello_wire as wire


def encode_reply(greeting: str = "", seq: int = 0, error: str = "") -> bytes:
    out = b""
    if greeting:
        out += wire.ld_field(1, greeting.encode())
    if seq:
        out += wire.tag(2, 0) + wire.varint(seq)
    if error:
        out += wire.ld_field(3, error.encode())
    return wire.frame(out)


class Conn:
    def __init__(self, sock, now):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.last_progress = now
        self.closing = False  # error sent or EOF seen: close once flushed
        self.reading = True


class StandIn:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((a.host, a.port))
        self.lsock.listen(1024)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.reserve = os.open("/dev/null", os.O_RDONLY)
        self.conns: dict[int, Conn] = {}
        self.stats = dict(connections=0, requests=0, errors=0, bytes_in=0, bytes_out=0)
        self.stopping = False

    def close(self, c: Conn):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        self.conns.pop(c.sock.fileno(), None)
        c.sock.close()

    def accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    # Shed one pending connection through the reserve descriptor, then re-arm it.
                    # Linux reports EMFILE before looking at the backlog, so an empty backlog shows
                    # up only as EAGAIN on this second accept: stop there, or this loop spins.
                    os.close(self.reserve)
                    drained = False
                    try:
                        s, _ = self.lsock.accept()
                        s.close()
                    except BlockingIOError:
                        drained = True
                    except OSError:
                        pass
                    self.reserve = os.open("/dev/null", os.O_RDONLY)
                    if drained:
                        return
                    continue
                raise
            if len(self.conns) >= self.a.max_connections:
                try:
                    s.send(encode_reply(error="too many connections"))
                except OSError:
                    pass
                s.close()
                continue
            s.setblocking(False)
            c = Conn(s, time.monotonic())
            self.conns[s.fileno()] = c
            self.stats["connections"] += 1
            self.sel.register(s, selectors.EVENT_READ, c)

    def process(self, c: Conn):
        pos = 0
        buf = c.inbuf
        while pos < len(buf) and not c.closing:
            try:
                r = wire.read_varint(buf, pos, wire.MAX_VARINT32_BYTES)
            except wire.ParseError:
                self.fail(c, "frame length varint longer than 5 bytes")
                break
            if r is None:
                break
            length, start = r
            if length > self.a.max_frame:
                self.fail(c, f"frame of {length} bytes exceeds the {self.a.max_frame}-byte limit")
                break
            if start + length > len(buf):
                break
            try:
                p = wire.parse_request(bytes(buf[start:start + length]))
            except wire.ParseError as e:
                self.fail(c, f"bad HelloRequest: {e}")
                break
            c.outbuf += encode_reply(wire.greeting_for(p.name), p.seq)
            self.stats["requests"] += 1
            c.last_progress = time.monotonic()
            pos = start + length
        del buf[:pos]
        if len(c.outbuf) > self.a.output_cap:
            c.reading = False

    def fail(self, c: Conn, why: str):
        c.outbuf += encode_reply(error=why)
        self.stats["errors"] += 1
        c.closing = True

    def on_read(self, c: Conn):
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.close(c)
            return
        if not data:
            c.closing = True
        else:
            self.stats["bytes_in"] += len(data)
            c.inbuf += data
            self.process(c)
        self.flush(c)

    def flush(self, c: Conn):
        while c.outbuf:
            try:
                n = c.sock.send(c.outbuf)
            except BlockingIOError:
                break
            except OSError:
                self.close(c)
                return
            self.stats["bytes_out"] += n
            del c.outbuf[:n]
        if not c.outbuf and c.closing:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.close(c)
            return
        if not c.reading and len(c.outbuf) <= self.a.output_cap // 2:
            c.reading = True
            self.process(c)
        ev = (selectors.EVENT_READ if c.reading and not c.closing else 0) | (
            selectors.EVENT_WRITE if c.outbuf else 0)
        try:
            if ev:
                self.sel.modify(c.sock, ev, c)
            else:
                self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            if ev:
                self.sel.register(c.sock, ev, c)

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        print(f"listening on {self.a.host}:{self.lsock.getsockname()[1]} mode={self.a.mode} "
              f"threads={self.a.threads}", flush=True)
        last_sweep = time.monotonic()
        while not self.stopping:
            for key, ev in self.sel.select(0.1):
                if key.data is None:
                    self.accept()
                    continue
                c = key.data
                if c.sock.fileno() < 0:
                    continue
                if ev & selectors.EVENT_READ and c.reading and not c.closing:
                    self.on_read(c)
                elif ev & selectors.EVENT_WRITE:
                    self.flush(c)
            now = time.monotonic()
            if now - last_sweep > 0.1:
                last_sweep = now
                for c in list(self.conns.values()):
                    if not c.outbuf and now - c.last_progress > self.a.idle_timeout:
                        self.close(c)
        # Graceful stop: no new connections; answer what was received, flush, close.
        self.sel.unregister(self.lsock)
        self.lsock.close()
        deadline = time.monotonic() + 5
        for c in list(self.conns.values()):
            c.closing = True
            self.process(c)
            c.sock.setblocking(True)
            c.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                c.sock.sendall(c.outbuf)
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.close(c)
        s = self.stats
        print(f"summary: connections={s['connections']} requests={s['requests']} errors={s['errors']} "
              f"bytes_in={s['bytes_in']} bytes_out={s['bytes_out']}", flush=True)
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", default="reactor")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7070)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dispatch", default="post-reactive")
    p.add_argument("--max-frame", type=int, default=65536)
    p.add_argument("--max-connections", type=int, default=10000)
    p.add_argument("--idle-timeout", type=float, default=60.0, help="seconds")
    p.add_argument("--output-cap", type=int, default=1 << 20, help="bytes")
    p.add_argument("--log-level", default="info")
    sys.exit(StandIn(p.parse_args()).run())


if __name__ == "__main__":
    main()
