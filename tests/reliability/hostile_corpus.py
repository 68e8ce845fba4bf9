"""Hostile-input corpus against hello_server (issue 6, item 3).

Each hostile input is sent on its own connection while a steady good client runs beside them.
Every input states its expected outcome, computed by the reference model in hello_wire.py
(protobuf 3.21 proto3 rules) and checked exactly:
  REPLY    every frame is a valid HelloRequest: exact replies, then (after our half-close) EOF.
  ERROR    replies to the valid requests before the bad frame, then exactly one
           HelloReply{error != ""}, then the server closes on its own (we never half-close).
  CLOSE    the stream ends inside a frame (we half-close): replies to the complete frames, then a
           clean close (an error reply before the close is tolerated).
  EITHER   a known field with the wrong wire type: protobuf C++ skips it as an unknown field and
           replies; a strict parser may answer with the error instead. Both are accepted.
  ABANDON  we close (FIN or RST) without reading: the server must simply survive and clean up.
Besides, the good client must lose nothing, the server must stay up, its descriptor count must
come back to the baseline, and SIGTERM must end it with exit code 0.

Run: python3 hostile_corpus.py --server build/bin/hello_server --mode proactor --dispatch pool
     python3 hostile_corpus.py --list     (prints the corpus as a Markdown table)
"""

from __future__ import annotations

import dataclasses
import random
import socket
import sys
import time

import harness
import hello_wire as w
from harness import log

MAX = w.DEFAULT_MAX_FRAME


@dataclasses.dataclass
class Case:
    name: str
    data: bytes
    why: str
    ending: str = "halfclose"  # halfclose | keep (server must close) | fin | rst (we abandon)
    trickle: bool = False  # deliver one byte at a time


def fr(payload: bytes) -> bytes:
    return w.frame(payload)


def rnd(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def random_frames(seed: int) -> bytes:
    """Correct framing around random payloads: exercises the message parser, not the framer."""
    r = random.Random(seed)
    return b"".join(fr(r.randbytes(r.randint(0, 40))) for _ in range(20))


def mutated_valid(seed: int) -> bytes:
    """20 valid pipelined requests with 3 seeded byte mutations: parse paths near valid input."""
    r = random.Random(seed)
    data = bytearray(b"".join(w.request(f"m{seed}-{i}-\u00fc", i + 1) for i in range(20)))
    for _ in range(3):
        data[r.randrange(len(data))] = r.randrange(256)
    return bytes(data)


def corpus() -> list[Case]:
    req = w.request
    grp = w.tag(20, 3) + w.tag(21, 0) + w.varint(1) + w.tag(20, 4)
    unknown = (w.ld_field(9, b"xx") + w.tag(10, 0) + w.varint(7) + w.tag(11, 1) + b"\0" * 8
               + w.tag(12, 5) + b"\0" * 4 + grp)
    big_name = "N" * (MAX - 8)
    cases = [
        Case("control_valid", req("Alice", 1), "a valid request: its reply"),
        Case("zero_length_frame", b"\x00", "empty HelloRequest is valid proto3: 'Hello, !' seq 0"),
        Case("zero_length_x100", b"\x00" * 100, "100 empty requests: 100 replies"),
        Case("zeros_4096", b"\x00" * 4096, "4096 empty requests in one write: 4096 replies"),
        Case("five_byte_zero_length", b"\x80\x80\x80\x80\x00", "non-canonical 5-byte length 0 is legal"),
        Case("max_frame_exact_valid", req(big_name, 7), f"frame of exactly {MAX} bytes: replied"),
        Case("length_max_plus_1", w.varint(MAX + 1) + b"x" * 100, "length > max frame: error at once"),
        Case("length_2gib", w.varint(0x7FFFFFFF), "length 2^31-1: error before any payload"),
        Case("length_minus1_int32", b"\xff\xff\xff\xff\x0f", "length 0xFFFFFFFF (-1 as int32): error"),
        Case("length_minus1_int64", b"\xff" * 9 + b"\x01", "10-byte varint (-1 as int64): error"),
        Case("varint_6_bytes", b"\x80\x80\x80\x80\x80\x00", "6-byte length varint: error"),
        Case("varint_5_bytes_over_32bit", b"\xff\xff\xff\xff\x7f", "5-byte varint beyond 32 bits: error"),
        Case("varint_endless", b"\x80" * 64, "64 continuation bytes: error, not a wait", ending="keep"),
        Case("truncated_prefix", b"\x80", "half a length prefix, then half-close: clean close"),
        Case("truncated_payload", req("Bob", 2)[:-3], "frame cut short, then half-close: clean close"),
        Case("valid_then_truncated", req("A", 1) + req("B", 2)[:4], "one reply, then clean close"),
        Case("truncated_then_fin", req("Carol", 3)[:5], "cut frame, then close without reading", ending="fin"),
        Case("truncated_then_rst", req("Dave", 4)[:5], "cut frame, then RST", ending="rst"),
        Case("name_as_varint", fr(w.tag(1, 0) + w.varint(5)), "known field, wrong wire type"),
        Case("seq_as_bytes", fr(w.ld_field(2, b"12345678")), "known field, wrong wire type"),
        Case("name_as_fixed32", fr(w.tag(1, 5) + b"abcd"), "known field, wrong wire type"),
        Case("wire_type_6", fr(w.tag(3, 6)), "invalid wire type 6: error"),
        Case("wire_type_7", fr(w.ld_field(1, b"ok") + w.tag(1, 7)), "invalid wire type 7: error"),
        Case("field_number_0", fr(b"\x02\x00"), "field number 0: error"),
        Case("end_group_at_top", fr(w.tag(5, 4)), "end-group tag outside a group: error"),
        Case("unterminated_group", fr(w.tag(5, 3) + w.tag(6, 0) + w.varint(1)), "open group: error"),
        Case("unknown_fields", fr(w.request_payload("Erin", 5) + unknown), "unknown fields skipped: reply"),
        Case("huge_repeated_unknown", fr(w.request_payload("Finn", 6) + (w.tag(15, 0) + b"\x01") * 30000),
             "30,000 unknown varint fields in one frame: reply"),
        Case("repeated_name_last_wins", fr(b"".join(w.ld_field(1, f"n{i}".encode()) for i in range(5000))
                                          + w.tag(2, 0) + w.varint(8)), "5,000 names: last one wins"),
        Case("repeated_name_over_max", fr(w.ld_field(1, b"y" * 1000) * 70), "70 KB frame: error"),
        Case("invalid_utf8", fr(w.ld_field(1, b"\xff\xfe") + w.tag(2, 0) + w.varint(9)), "error"),
        Case("overlong_utf8", fr(w.ld_field(1, b"\xc0\xaf")), "overlong UTF-8 encoding: error"),
        Case("utf8_surrogate", fr(w.ld_field(1, b"\xed\xa0\x80")), "UTF-16 surrogate in UTF-8: error"),
        Case("truncated_utf8", fr(w.ld_field(1, b"abc\xe4\xb8")), "UTF-8 sequence cut short: error"),
        Case("name_longer_than_frame", fr(w.tag(1, 2) + w.varint(100) + b"abc"), "field overruns: error"),
        Case("seq_varint_11_bytes", fr(w.tag(2, 0) + b"\xff" * 10 + b"\x01"), "11-byte varint: error"),
        Case("seq_max_u64", req("x", (1 << 64) - 1), "seq 2^64-1 echoed"),
        Case("valid_then_garbage", req("A", 1) + req("B", 2) + b"\xff" * 8, "two replies, then error"),
        Case("valid_then_bad_utf8", req("A", 1) + req("B", 2) + req("C", 3) + fr(w.ld_field(1, b"\x80")),
             "three replies, then error"),
        Case("pipelined_1000_then_oversize",
             b"".join(req(f"p{i}", i + 1) for i in range(1000)) + w.varint(MAX * 4),
             "1,000 replies in order, then error", ending="keep"),
        Case("trickled_valid_then_bad", req("slow", 11) + fr(w.tag(0, 2)), "byte by byte: reply, error",
             trickle=True),
        Case("http_get", b"GET / HTTP/1.1\r\nHost: nioxx\r\n\r\n", "an HTTP request: whatever the model says"),
        Case("tls_client_hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rnd(99, 300),
             "a TLS ClientHello: whatever the model says"),
        Case("max_frame_of_0xff", w.varint(MAX) + b"\xff" * MAX, "full-size frame of 0xFF: error"),
    ]
    for seed in range(1, 6):
        cases.append(Case(f"random_bytes_seed{seed}", rnd(seed, 512 * seed), "seeded random bytes: model"))
        cases.append(Case(f"random_payloads_seed{seed}", random_frames(seed), "random payloads, framed: model"))
        cases.append(Case(f"mutated_valid_seed{seed}", mutated_valid(seed), "20 requests, 3 bytes mutated: model"))
    # Error cases must be closed by the server itself: never half-close them.
    for c in cases:
        if c.ending == "halfclose" and w.model_stream(c.data).error:
            c.ending = "keep"
    return cases


def outcome_class(c: Case) -> str:
    if c.ending in ("fin", "rst"):
        return "ABANDON"
    e = w.model_stream(c.data)
    if e.lenient_from is not None:
        return "EITHER"
    if e.error:
        return "ERROR"
    return "CLOSE" if e.trailing_partial else "REPLY"


def judge(c: Case, conv: harness.Conversation) -> str | None:
    """None if the conversation matches the expected outcome, else what went wrong."""
    e = w.model_stream(c.data)
    got = conv.replies
    if conv.end in ("timeout", "garbage"):
        return f"stream ended with {conv.end} {conv.garbage} after {len(got)} replies"

    def same(a: w.Reply, b: w.Reply) -> bool:
        return a.greeting == b.greeting and a.seq == b.seq and a.error == b.error

    n = len(e.replies)
    # The acceptable reply lists: the model's, or an error at any point allowed by leniency.
    accepted: list[list] = []
    if e.error:
        accepted.append(e.replies + ["ERR"])
    else:
        accepted.append(list(e.replies))
        if e.trailing_partial:
            accepted.append(e.replies + ["ERR"])
    if e.lenient_from is not None:
        accepted += [e.replies[:i] + ["ERR"] for i in range(e.lenient_from, n + 1)]
    for acc in accepted:
        if len(acc) == len(got) and all(
                (a == "ERR" and g.error != "") or (a != "ERR" and same(a, g)) for a, g in zip(acc, got)):
            ends_with_error = bool(acc) and acc[-1] == "ERR"
            if conv.end == "eof" or (conv.end == "reset" and ends_with_error):
                return None
            return f"replies right, but the stream ended with {conv.end}"
    if conv.end == "reset" and len(got) < max(len(a) for a in accepted):
        return f"connection reset after {len(got)} of {n} expected replies (lost replies)"
    first_bad = next((i for i, g in enumerate(got) if i >= n or not same(e.replies[i], g)), len(got))
    shown = got[first_bad] if first_bad < len(got) else None
    return (f"expected {n} replies{' + error' if e.error else ''}, got {len(got)} ending {conv.end}; "
            f"first difference at #{first_bad}: {shown}")


PORT_OF_CASE: dict[int, str] = {}  # client port -> case name (names a connection the server keeps)


def run_case(addr, c: Case, timeout: float) -> str | None:
    s = harness.connect(addr, timeout)
    PORT_OF_CASE[s.getsockname()[1]] = c.name
    try:
        if c.trickle:
            for i in range(len(c.data)):
                s.send(c.data[i:i + 1])
                time.sleep(0.005)
        else:
            try:
                s.sendall(c.data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close while we still send an oversize frame: read what came
        if c.ending == "rst":
            harness.set_linger_reset(s)
            return None
        if c.ending == "fin":
            return None
        if c.ending == "halfclose":
            s.shutdown(socket.SHUT_WR)
        return judge(c, harness.Conversation(s).read_until_end(timeout))
    finally:
        s.close()


def markdown_table() -> str:
    rows = ["| # | input | bytes | expected | notes |", "|---|---|---|---|---|"]
    for i, c in enumerate(corpus(), 1):
        e = w.model_stream(c.data)
        exp = outcome_class(c)
        if exp != "ABANDON":
            exp += f": {len(e.replies)} replies" + (" + error" if e.error else "")
        rows.append(f"| {i} | `{c.name}` | {len(c.data)} | {exp} | {c.why} |")
    return "\n".join(rows)


def main() -> int:
    if "--list" in sys.argv:
        print(markdown_table())
        return 0
    p = harness.common_args(__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=20.0 if harness.sanitized() else 10.0)
    args = p.parse_args()
    harness.raise_nofile()
    chk = harness.Checker(f"hostile corpus ({args.mode} {args.dispatch or ''})")
    cases = corpus()
    with harness.Server(args) as srv:
        good = harness.GoodClient(srv.addr())
        good.start()
        # Warm up first: connections on every loop thread, so that anything a thread creates lazily
        # on its first connection is in the baseline, not counted as a leak.
        for i in range(8):
            harness.round_trip(srv.addr(), [("warm", i + 1)])
        time.sleep(0.3)
        baseline_fds = srv.fd_count()
        t0 = time.monotonic()
        for c in cases:
            start = time.monotonic()
            try:
                problem = run_case(srv.addr(), c, args.timeout)
            except OSError as e:
                problem = f"{type(e).__name__}: {e}"
            chk.check(problem is None, f"{c.name:30s} [{outcome_class(c)}] {problem or ''}"
                      f" ({(time.monotonic() - start) * 1000:.0f} ms)")
            if not srv.alive():
                chk.check(False, f"server died after {c.name} (exit {srv.proc.returncode})")
                break
        fds = srv.wait_fds_at_most(baseline_fds)
        if not chk.check(fds <= baseline_fds, f"server descriptors back to baseline ({fds} <= {baseline_fds})"):
            for local, peer, state in harness.server_sockets(srv.pid):
                log(f"  server still holds :{local} <-> :{peer} {state} "
                    f"(case {PORT_OF_CASE.get(peer, 'good client / listener')})")
            log("  server descriptors: " + " ".join(sorted(harness.os.readlink(f"/proc/{srv.pid}/fd/{fd}")
                                                           for fd in harness.os.listdir(f"/proc/{srv.pid}/fd"))))
        good.stop()
        chk.check(not good.failures and good.ok > 0,
                  f"good client beside the attack: {good.ok} replies checked, failures: {good.failures}")
        log(f"{len(cases)} hostile inputs in {time.monotonic() - t0:.1f} s")
        if srv.alive():
            rc = srv.terminate()
            chk.check(rc == 0, f"SIGTERM: server exit code {rc}")
        return chk.finish(srv)


if __name__ == "__main__":
    harness.main_wrapper(main)
