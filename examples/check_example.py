#!/usr/bin/env python3
"""Runs one example server as a client would meet it, for CI (tests/install):

  check_example.py NAME BINARY

starts BINARY (port 0), reads its "listening on HOST:PORT" line, and holds the example's
conversations, one connection each: sends the request, reads until the expected answer (and, for
the line servers, the server's close after QUIT or an over-long line: a clean end of stream, not a
reset), then stops the server with SIGTERM and requires a clean exit (status 0) within the time
limit.
Exit status 0 = pass; anything unexpected prints what was seen and fails.
"""
import re
import signal
import socket
import subprocess
import sys

TIMEOUT = 20.0  # seconds, per step: generous for a loaded 2-core CI machine

# Conversations: (request, expected reply, expect the server to close after it).
ECHO = [(b"hello, nioxx\n" * 100, b"hello, nioxx\n" * 100, False)]
KV = (b"SET greeting hello world\r\nGET greeting\nGET nothing\nBOGUS\nQUIT\nGET greeting\n",
      b"OK\nVALUE hello world\nNOT_FOUND\nERR unknown command\nBYE\n", True)
CASES = {
    "reactive_echo": ECHO,
    "proactive_echo": ECHO,
    "coroutine_echo": ECHO,
    "line_kv": [KV],
    # The server layer's line framing: the default limit (--max-frame 65536) holds for a line.
    "line_server": [KV, (b"SET big " + b"x" * 70000 + b"\nGET greeting\n",
                         b"ERR line too long: more than 65536 bytes without an end of line\n", True)],
}


def fail(message, server=None):
    if server is not None and server.poll() is None:
        server.kill()
    sys.exit(f"FAIL: {message}")


def converse(address, request, expected, closes, server):
    with socket.create_connection(address, timeout=TIMEOUT) as client:
        client.sendall(request)
        got = b""
        while len(got) < len(expected):
            chunk = client.recv(65536)
            if not chunk:
                break
            got += chunk
        if got != expected:
            fail(f"expected {expected!r}, got {got!r}", server)
        if closes:
            try:
                rest = client.recv(65536)
            except ConnectionResetError:
                fail("the server reset the connection instead of closing it", server)
            if rest:
                fail(f"expected end of stream after the reply, got {rest!r}", server)


def main():
    name, binary = sys.argv[1], sys.argv[2]
    server = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.match(r"listening on ([\d.]+):(\d+)", line)
    if not match:
        fail(f"expected a 'listening on HOST:PORT' line, got {line!r}", server)
    answered = 0
    for request, expected, closes in CASES[name]:
        converse((match[1], int(match[2])), request, expected, closes, server)
        answered += len(expected)
    server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        fail("the server did not stop within the limit after SIGTERM", server)
    tail = server.stdout.read()
    if status != 0:
        fail(f"the server exited with status {status}; output: {tail!r}")
    print(f"{name}: ok ({answered} bytes answered, clean stop)")


if __name__ == "__main__":
    main()
