"""The hello protocol on the wire, by hand (no protobuf package needed).

hello.proto (pinned by issue 5):
  message HelloRequest { string name = 1; uint64 seq = 2; }
  message HelloReply   { string greeting = 1; uint64 seq = 2; string error = 3; }
Every message is framed as a varint32 length followed by the bytes.

Also holds a small *reference model* of what a correct server does with a byte stream
(`model_stream`), used by the hostile corpus to state each input's expected outcome.
The model mirrors protobuf 3.21 C++ parsing rules for proto3 (the Debian library the server uses).
"""

from __future__ import annotations

import dataclasses

DEFAULT_MAX_FRAME = 65536
MAX_VARINT32_BYTES = 5


class ParseError(Exception):
    pass


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer (any size; 10 bytes for 64-bit values)."""
    if value < 0:
        value &= (1 << 64) - 1  # protobuf encodes negative int64 as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def ld_field(field: int, data: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return tag(field, 2) + varint(len(data)) + data


def frame(payload: bytes) -> bytes:
    return varint(len(payload)) + payload


def request_payload(name: str | bytes, seq: int) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    out = b""
    if raw:
        out += ld_field(1, raw)
    if seq:
        out += tag(2, 0) + varint(seq)
    return out


def request(name: str | bytes, seq: int) -> bytes:
    """One framed HelloRequest."""
    return frame(request_payload(name, seq))


def greeting_for(name: str) -> str:
    return "Hello, " + name + "!"


@dataclasses.dataclass
class Reply:
    greeting: str = ""
    seq: int = 0
    error: str = ""


# --- decoding --------------------------------------------------------------------------------------


def read_varint(buf: bytes, pos: int, max_bytes: int = 10) -> tuple[int, int] | None:
    """Returns (value, new_pos), None if incomplete; raises ParseError if longer than max_bytes."""
    value = 0
    shift = 0
    for i in range(max_bytes):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos + i + 1
    raise ParseError(f"varint longer than {max_bytes} bytes")


def _skip_field(buf: bytes, pos: int, field: int, wire_type: int, depth: int) -> int:
    end = len(buf)
    if wire_type == 0:
        r = read_varint(buf, pos)
        if r is None:
            raise ParseError("truncated varint")
        return r[1]
    if wire_type == 1:
        if pos + 8 > end:
            raise ParseError("truncated fixed64")
        return pos + 8
    if wire_type == 5:
        if pos + 4 > end:
            raise ParseError("truncated fixed32")
        return pos + 4
    if wire_type == 2:
        r = read_varint(buf, pos, 5)
        if r is None:
            raise ParseError("truncated length")
        length, pos = r
        if length > 0x7FFFFFFF or pos + length > end:
            raise ParseError("truncated length-delimited field")
        return pos + length
    if wire_type == 3:  # group: fields until the matching end-group tag
        if depth > 100:
            raise ParseError("recursion limit")
        while True:
            r = read_varint(buf, pos, 5)
            if r is None:
                raise ParseError("unterminated group")
            t, pos = r
            f, wt = t >> 3, t & 7
            if wt == 4:
                if f != field:
                    raise ParseError("mismatched end group")
                return pos
            if f == 0 or wt > 5:
                raise ParseError("bad tag in group")
            pos = _skip_field(buf, pos, f, wt, depth + 1)
    raise ParseError(f"invalid wire type {wire_type}")


@dataclasses.dataclass
class Parsed:
    name: str = ""
    seq: int = 0
    # True when a known field came with the wrong wire type: protobuf C++ keeps it as an unknown
    # field (the parse succeeds), a hand-written parser may reject it. Both are acceptable.
    ambiguous: bool = False


def parse_message(buf: bytes, fields: dict[int, str]) -> dict:
    """Parses a proto3 message with string/uint64 fields; unknown fields are skipped."""
    out: dict = {"_ambiguous": False}
    pos = 0
    while pos < len(buf):
        r = read_varint(buf, pos, 5)
        if r is None:
            raise ParseError("truncated tag")
        t, pos = r
        field, wt = t >> 3, t & 7
        if field == 0:
            raise ParseError("field number 0")
        if wt == 4:
            raise ParseError("end group at top level")
        if wt > 5:
            raise ParseError(f"invalid wire type {wt}")
        kind = fields.get(field)
        if kind == "string" and wt == 2:
            r = read_varint(buf, pos, 5)
            if r is None:
                raise ParseError("truncated length")
            length, pos = r
            if pos + length > len(buf):
                raise ParseError("truncated string")
            try:
                out[field] = buf[pos : pos + length].decode("utf-8")
            except UnicodeDecodeError as e:
                raise ParseError("invalid UTF-8") from e
            pos += length
        elif kind == "uint64" and wt == 0:
            r = read_varint(buf, pos)
            if r is None:
                raise ParseError("truncated varint")
            out[field] = r[0] & ((1 << 64) - 1)
            pos = r[1]
        else:
            if kind is not None:
                out["_ambiguous"] = True
            pos = _skip_field(buf, pos, field, wt, 0)
    return out


def parse_request(payload: bytes) -> Parsed:
    m = parse_message(payload, {1: "string", 2: "uint64"})
    return Parsed(m.get(1, ""), m.get(2, 0), m["_ambiguous"])


def parse_reply(payload: bytes) -> Reply:
    m = parse_message(payload, {1: "string", 2: "uint64", 3: "string"})
    return Reply(m.get(1, ""), m.get(2, 0), m.get(3, ""))


class FrameReader:
    """Streaming varint32 frame decoder for replies (the client side)."""

    def __init__(self, max_frame: int = 1 << 24):
        self.buf = bytearray()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        frames = []
        pos = 0
        while True:
            r = read_varint(self.buf, pos, MAX_VARINT32_BYTES)
            if r is None:
                break
            length, start = r
            if length > self.max_frame:
                raise ParseError(f"reply frame of {length} bytes")
            if start + length > len(self.buf):
                break
            frames.append(bytes(self.buf[start : start + length]))
            pos = start + length
        del self.buf[:pos]
        return frames


# --- the reference model -----------------------------------------------------------------------------


@dataclasses.dataclass
class Expected:
    """What a correct server answers to a whole client byte stream (sent, then half-closed)."""

    replies: list  # expected Reply objects for the valid requests, in order
    error: bool  # True: one error reply follows the replies, then the server closes
    # Index in `replies` from which the server may instead answer with the error (known field with
    # a wrong wire type: accepted by protobuf C++, rejected by strict parsers). None = exact.
    lenient_from: int | None = None
    trailing_partial: bool = False  # stream ends inside a frame (truncated): clean close expected


def model_stream(data: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> Expected:
    replies: list = []
    lenient_from = None
    pos = 0
    while pos < len(data):
        try:
            r = read_varint(data, pos, MAX_VARINT32_BYTES)
        except ParseError:
            return Expected(replies, True, lenient_from)
        if r is None:
            return Expected(replies, False, lenient_from, trailing_partial=True)
        length, start = r
        if length > max_frame:
            return Expected(replies, True, lenient_from)
        if start + length > len(data):
            return Expected(replies, False, lenient_from, trailing_partial=True)
        try:
            p = parse_request(bytes(data[start : start + length]))
        except ParseError:
            return Expected(replies, True, lenient_from)
        if p.ambiguous and lenient_from is None:
            lenient_from = len(replies)
        replies.append(Reply(greeting_for(p.name), p.seq, ""))
        pos = start + length
    return Expected(replies, False, lenient_from)
