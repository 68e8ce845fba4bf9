#!/usr/bin/env python3
"""End-to-end tests of http_server in one mode with real clients: curl (keep-alive, HEAD, Range,
conditional GET), Python's http.client, and raw sockets for pipelining, every error status and the
path-traversal cases. Usage: http_e2e.py --server PATH --mode reactor|proactor [--server-arg=X]"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
import traceback

from http_support import Reader, Server, Tree, connect, log, need_tool

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def request(path: str, method: str = "GET", version: str = "1.1", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode()


def expect_error(port: int, raw: bytes, status: int, *, closes: bool = True, wait: float = 0):
    """Sends raw bytes, expects one complete response with `status`, then (closes) EOF."""
    with connect(port) as s:
        s.sendall(raw)
        r = Reader(s)
        got, headers, body = r.response()
        assert got == status, f"{raw[:80]!r}: expected {status}, got {got}"
        assert len(body) == int(headers["content-length"]), "incomplete error response"
        if closes:
            assert headers.get("connection") == "close", f"{status} without Connection: close"
            assert r.closed(), f"connection not closed after {status}"
        return headers, body


# ---- curl ----

@test
def curl_keepalive_head_range_conditional(ctx):
    curl = need_tool("curl")
    base = f"http://127.0.0.1:{ctx.port}"
    # Two requests on one connection: curl says it reused it.
    p = subprocess.run([curl, "-sv", f"{base}/small.txt", f"{base}/index.html"], capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ctx.tree.files["small.txt"] + ctx.tree.files["index.html"]
    assert b"Re-using existing connection" in p.stderr or b"Reusing existing connection" in p.stderr, \
        p.stderr.decode()
    # HEAD: headers only, with the length of the GET.
    p = subprocess.run([curl, "-sI", f"{base}/big.bin"], capture_output=True, timeout=60, text=True)
    assert "HTTP/1.1 200" in p.stdout and f"Content-Length: {len(ctx.tree.files['big.bin'])}" in p.stdout, \
        p.stdout
    # Range.
    p = subprocess.run([curl, "-s", "-r", "100-1099", "-w", "%{http_code}", f"{base}/big.bin"],
                       capture_output=True, timeout=60)
    assert p.stdout[-3:] == b"206" and p.stdout[:-3] == ctx.tree.files["big.bin"][100:1100]
    # A range above the proactive glues' small-file limit (--inline-max, 16 KiB) from a nonzero
    # offset: the corked head, then transmitFile from the offset (the one above is inlined).
    p = subprocess.run([curl, "-s", "-r", "70000-1170000", "-w", "%{http_code}", f"{base}/big.bin"],
                       capture_output=True, timeout=60)
    assert p.stdout[-3:] == b"206" and p.stdout[:-3] == ctx.tree.files["big.bin"][70000:1170001]
    # Conditional GET: -z sends If-Modified-Since with the file's own time.
    path = os.path.join(ctx.tree.root, "small.txt")
    p = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-z", path,
                        f"{base}/small.txt"], capture_output=True, timeout=60, text=True)
    assert p.stdout == "304", p.stdout
    # Whole large file through curl.
    p = subprocess.run([curl, "-s", f"{base}/big.bin"], capture_output=True, timeout=120)
    assert p.stdout == ctx.tree.files["big.bin"]


# ---- http.client ----

@test
def httpclient_persistent(ctx):
    c = http.client.HTTPConnection("127.0.0.1", ctx.port, timeout=60)
    for name in ("index.html", "style.css", "image.png", "big.bin", "empty.txt", "small.txt"):
        c.request("GET", "/" + name)
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and body == ctx.tree.files[name], name
        assert int(r.getheader("Content-Length")) == len(body)
        assert r.getheader("Date") and r.getheader("Last-Modified")
    c.request("GET", "/style.css")
    r = c.getresponse()
    assert r.getheader("Content-Type").startswith("text/css")
    last_modified = r.getheader("Last-Modified")
    r.read()
    c.request("GET", "/image.png")
    r = c.getresponse()
    assert r.getheader("Content-Type") == "image/png"
    r.read()
    c.request("HEAD", "/big.bin")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    c.request("GET", "/style.css", headers={"If-Modified-Since": last_modified})
    r = c.getresponse()
    assert r.status == 304 and r.read() == b""
    c.request("GET", "/style.css", headers={"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
    r = c.getresponse()
    assert r.status == 200 and r.read() == ctx.tree.files["style.css"]
    c.request("GET", "/big.bin", headers={"Range": "bytes=-10"})
    r = c.getresponse()
    big = ctx.tree.files["big.bin"]
    assert r.status == 206 and r.read() == big[-10:]
    assert r.getheader("Content-Range") == f"bytes {len(big) - 10}-{len(big) - 1}/{len(big)}"
    c.request("GET", "/big.bin", headers={"Range": f"bytes={len(big)}-"})
    r = c.getresponse()
    assert r.status == 416 and r.getheader("Content-Range") == f"bytes */{len(big)}"
    r.read()
    c.request("GET", "/small.txt", headers={"Range": "bytes=0-1,5-6"})  # several ranges: whole file
    r = c.getresponse()
    assert r.status == 200 and r.read() == ctx.tree.files["small.txt"]
    small = ctx.tree.files["small.txt"]
    for header, status, body in (("bytes=-0", 416, None), ("bytes=5-2", 200, small),
                                 ("items=0-1", 200, small), ("bytes=3-", 206, small[3:]),
                                 ("bytes=0-99999", 206, small), ("bytes=abc", 200, small)):
        c.request("GET", "/small.txt", headers={"Range": header})
        r = c.getresponse()
        got = r.read()
        assert r.status == status and (body is None or got == body), (header, r.status)
    # If-Range: the range applies only if the client's copy is the current one.
    c.request("HEAD", "/small.txt")
    r = c.getresponse()
    r.read()
    small_modified = r.getheader("Last-Modified")
    for if_range, status, body in ((small_modified, 206, small[:2]),
                                   ("Mon, 01 Jan 1990 00:00:00 GMT", 200, small)):
        c.request("GET", "/small.txt", headers={"Range": "bytes=0-1", "If-Range": if_range})
        r = c.getresponse()
        assert r.status == status and r.read() == body, (if_range, r.status)
    c.request("GET", "/missing.html")
    r = c.getresponse()
    assert r.status == 404
    r.read()
    c.request("GET", "/small.txt")  # still usable after the 404
    r = c.getresponse()
    assert r.status == 200 and r.read() == ctx.tree.files["small.txt"]
    c.close()


@test
def connection_close_and_http10(ctx):
    with connect(ctx.port) as s:  # Connection: close is honoured
        s.sendall(request("/small.txt", extra="Connection: close\r\n"))
        r = Reader(s)
        status, headers, body = r.response()
        assert status == 200 and body == ctx.tree.files["small.txt"]
        assert headers.get("connection") == "close" and r.closed()
    with connect(ctx.port) as s:  # HTTP/1.0: one response, then close
        s.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        r = Reader(s)
        status, headers, body = r.response()
        assert status == 200 and body == ctx.tree.files["small.txt"] and r.closed()
    with connect(ctx.port) as s:  # HTTP/1.0 keep-alive
        r = Reader(s)
        for path, want in (("/small.txt", 200), ("/missing", 404), ("/small.txt", 200)):
            s.sendall(f"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
            status, headers, body = r.response()
            assert status == want and headers.get("connection") == "keep-alive", (path, headers)


# ---- raw sockets: pipelining ----

@test
def pipelining_in_order(ctx):
    names = ["small.txt", "index.html", "big.bin", "missing", "style.css", "image.png"] * 5
    with connect(ctx.port) as s:
        s.sendall(b"".join(request("/" + n) for n in names) + request("/small.txt", "HEAD"))
        r = Reader(s)
        for n in names:
            status, _, body = r.response()
            if n == "missing":
                assert status == 404
            else:
                assert status == 200 and body == ctx.tree.files[n], n
        status, headers, body = r.response(head_request=True)
        assert status == 200 and body == b"" and int(headers["content-length"]) == 37
    # Far more pipelined requests than --max-pipelined (16): reading pauses and resumes.
    with connect(ctx.port) as s:
        s.sendall(request("/small.txt") * 500 + request("/index.html", extra="Connection: close\r\n"))
        r = Reader(s)
        for _ in range(500):
            assert r.response()[2] == ctx.tree.files["small.txt"]
        assert r.response()[2] == ctx.tree.files["index.html"] and r.closed()
    # Requests split at every byte boundary still parse.
    with connect(ctx.port) as s:
        raw = request("/small.txt") * 2
        for i in range(len(raw)):
            s.sendall(raw[i:i + 1])
        r = Reader(s)
        for _ in range(2):
            assert r.response()[2] == ctx.tree.files["small.txt"]


@test
def large_file_beyond_the_socket_buffers(ctx):
    """8 MiB, far beyond the socket buffers, to a client that starts reading late: the server's
    transmission (transmitFile in the proactive modes, sendfile in the reactor) fills the buffers,
    waits for writability many times, and every byte arrives in order; then a range from the
    middle and a small file pipelined behind it on the same connection."""
    huge = ctx.tree.files["huge.bin"]
    first, last = 3 * 1024 * 1024 + 5, 5 * 1024 * 1024 + 11
    with connect(ctx.port) as s:
        s.sendall(request("/huge.bin") + request("/huge.bin", extra=f"Range: bytes={first}-{last}\r\n")
                  + request("/small.txt"))
        time.sleep(0.3)  # the server meets full buffers before anything is read
        r = Reader(s)
        status, headers, body = r.response()
        assert status == 200 and int(headers["content-length"]) == len(huge)
        assert body == huge, "8 MiB body differs"
        status, headers, body = r.response()
        assert status == 206 and body == huge[first:last + 1], "range body differs"
        assert headers["content-range"] == f"bytes {first}-{last}/{len(huge)}"
        assert r.response()[2] == ctx.tree.files["small.txt"]


# ---- raw sockets: every error ----

@test
def errors(ctx):
    p = ctx.port
    expect_error(p, b"GET /small.txt HTTX/1.1\r\nHost: t\r\n\r\n", 400)         # request line
    expect_error(p, b"GET /small.txt HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 400)  # header
    expect_error(p, b"GET /small.txt HTTP/1.1\r\n\r\n", 400)                    # no Host
    expect_error(p, b"GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)  # two Hosts
    expect_error(p, request("/small.txt", extra="Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"),
                 400)                                                          # smuggling shape
    expect_error(p, b"GET small.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400, closes=False)  # not origin-form
    expect_error(p, b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, closes=False)  # bad escape
    headers, _ = expect_error(p, request("/small.txt", "POST"), 405, closes=False)
    assert headers["allow"] == "GET, HEAD"
    expect_error(p, request("/small.txt", "DELETE"), 405, closes=False)
    expect_error(p, request("/x", "POST", extra="Content-Length: 5\r\n") + b"hello", 405)
    expect_error(p, request("/small.txt", extra="Content-Length: 5\r\n") + b"hello", 413)
    expect_error(p, request("/small.txt", extra="Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n", 413)
    expect_error(p, request("/" + "a" * 9000), 414)
    expect_error(p, request("/small.txt", extra="X-Big: " + "b" * (17 * 1024) + "\r\n"), 431)
    expect_error(p, request("/small.txt", extra="Transfer-Encoding: gzip\r\n"), 501)
    expect_error(p, b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501)
    expect_error(p, b"GET /small.txt HTTP/2.0\r\nHost: t\r\n\r\n", 505)
    expect_error(p, b"GET /small.txt HTTP/0.9\r\nHost: t\r\n\r\n", 505)
    # 404 keeps the connection (checked in httpclient_persistent); 408 below.
    with connect(p) as s:  # headers that never finish: 408 after --header-timeout (1 s here)
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: t\r\n")
        r = Reader(s)
        status, headers, _ = r.response()
        assert status == 408 and headers.get("connection") == "close" and r.closed()
    with connect(p) as s:  # an idle keep-alive connection is not a 408: it is just kept
        s.sendall(request("/small.txt"))
        r = Reader(s)
        assert r.response()[0] == 200
        time.sleep(1.5)
        s.sendall(request("/small.txt"))
        assert r.response()[0] == 200


# ---- path security ----

@test
def traversal_refused(ctx):
    secret = ctx.tree.secret
    refused = [
        "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/.%2e/secret.txt", "/sub%2f..%2f..%2fsecret.txt",
        "/..%2fsecret.txt", "/..%5csecret.txt", "/sub\\..\\..\\secret.txt", "/small.txt%00.html",
        "/leak.txt", "/outdir/secret.txt", "/sub/up/../secret.txt", "/sub/up/sub/up/secret.txt",
        "/%252e%252e/secret.txt", "/./small.txt", "/empty/", "/fifo", "/nothing/here",
    ]
    for path in refused:
        with connect(ctx.port) as s:
            s.sendall(request(path))
            status, _, body = Reader(s).response()
            assert status in (400, 404), f"{path}: {status}"
            assert secret not in body
    # Links inside the root are followed; directories get their index, never a listing.
    c = http.client.HTTPConnection("127.0.0.1", ctx.port, timeout=60)
    for path, want in (("/alias.txt", ctx.tree.files["small.txt"]),
                       ("/sub/up/small.txt", ctx.tree.files["small.txt"]),
                       ("/", ctx.tree.files["index.html"]), ("/sub/", ctx.tree.files["sub/index.html"]),
                       ("/small.txt?x=1", ctx.tree.files["small.txt"]),
                       ("/%73mall.txt", ctx.tree.files["small.txt"])):
        c.request("GET", path)
        r = c.getresponse()
        assert r.status == 200 and r.read() == want, path
    c.request("GET", "/sub?q=1")
    r = c.getresponse()
    assert r.status == 301 and r.getheader("Location") == "/sub/?q=1"
    r.read()
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True, choices=["reactor", "proactor", "coroutine"])
    ap.add_argument("--server-arg", action="append", default=[])
    args = ap.parse_args()
    tree = Tree()
    server = Server(args.server, args.mode, tree.root, ["--header-timeout", "1"] + args.server_arg)

    class Ctx:
        pass
    ctx = Ctx()
    ctx.port, ctx.tree = server.port, tree
    failures = 0
    try:
        for t in TESTS:
            start = time.monotonic()
            try:
                t(ctx)
                log(f"PASS {t.__name__} ({time.monotonic() - start:.1f} s)")
            except SystemExit:
                raise
            except Exception:  # noqa: BLE001 - report every failing test, then fail
                failures += 1
                log(f"FAIL {t.__name__}")
                traceback.print_exc()
        # --max-connections: the connection over the limit gets a complete 503, then the close.
        limited = Server(args.server, args.mode, tree.root, ["--max-connections", "1"] + args.server_arg)
        try:
            with connect(limited.port) as first:
                first.sendall(request("/small.txt"))
                assert Reader(first).response()[0] == 200  # the first is in and served
                with connect(limited.port) as second:
                    second.sendall(request("/small.txt"))
                    r = Reader(second)
                    status, headers, _ = r.response()
                    if status != 503 or headers.get("connection") != "close" or not r.closed():
                        failures += 1
                        log(f"FAIL max-connections: {status} {headers}")
        finally:
            limited.stop()
        # SIGTERM drains: requests received are answered in full, even one whose response is
        # being written when the signal comes (4 x 3 MiB, unread until after the signal: more
        # than the loopback buffers hold), then the server exits 0.
        with connect(server.port) as s:
            s.sendall(request("/big.bin") * 4)
            time.sleep(0.5)
            server.proc.send_signal(15)
            r = Reader(s)
            for i in range(4):
                status, _, body = r.response()
                if status != 200 or body != tree.files["big.bin"]:
                    failures += 1
                    log(f"FAIL drain: response {i} cut by SIGTERM")
                    break
        code = server.stop()
        if code != 0:
            failures += 1
            log(f"FAIL server exit code {code}")
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        print("".join(server.output), end="")
        tree.cleanup()
    log(f"{len(TESTS) - failures if failures <= len(TESTS) else 0} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
