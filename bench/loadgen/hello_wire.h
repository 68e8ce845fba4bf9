// Hand-rolled hello wire format for the load generator: encoding a request and decoding a reply
// without protobuf's message objects keeps the client cheap, so on 2 cores it leaves more CPU to
// the server under test. selfCheck() proves it byte-identical to protobuf's generated code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hello.pb.h"

namespace nioxx::bench {

inline void appendVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline std::size_t varintSize(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Field 1 (name) and the tag of field 2 (seq); the seq varint follows per request.
inline std::string requestPrefix(std::string_view name) {
  std::string p;
  p.push_back(0x0A);
  appendVarint(p, name.size());
  p.append(name);
  p.push_back(0x10);
  return p;
}

// Appends one framed HelloRequest{name, seq} (seq > 0; proto3 omits a zero seq).
inline void appendRequest(std::string& out, const std::string& prefix, std::uint64_t seq) {
  appendVarint(out, prefix.size() + varintSize(seq));
  out.append(prefix);
  appendVarint(out, seq);
}

struct ReplyView {
  std::string_view greeting;
  std::string_view error;
  std::uint64_t seq = 0;
  bool valid = false;
};

inline constexpr std::size_t kBadFrame = static_cast<std::size_t>(-1);

// Reads a varint at p (< end); returns bytes used, 0 if incomplete, kBadFrame if over 10 bytes.
inline std::size_t readVarint(const std::uint8_t* p, const std::uint8_t* end, std::uint64_t& v) {
  v = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (p + i == end) return 0;
    v |= static_cast<std::uint64_t>(p[i] & 0x7F) << (7 * i);
    if ((p[i] & 0x80) == 0) return i + 1;
  }
  return kBadFrame;
}

// Decodes one framed HelloReply at data: returns the frame's total size, 0 if incomplete, or
// kBadFrame. reply.valid is false when the payload is not a well-formed HelloReply.
inline std::size_t decodeReply(const std::uint8_t* data, std::size_t size, ReplyView& reply) {
  const std::uint8_t* end = data + size;
  std::uint64_t len = 0;
  std::size_t h = readVarint(data, end, len);
  if (h == 0) return 0;
  if (h == kBadFrame || h > 5 || len > (1u << 26)) return kBadFrame;
  if (size - h < len) return 0;
  const std::uint8_t* p = data + h;
  const std::uint8_t* stop = p + len;
  reply = ReplyView{};
  while (p < stop) {
    std::uint64_t v = 0;
    std::size_t n = readVarint(p, stop, v);
    if (n == 0 || n == kBadFrame) return h + len;  // invalid
    p += n;
    const std::uint64_t tag = v;
    if (tag == 0x10) {  // seq
      n = readVarint(p, stop, reply.seq);
      if (n == 0 || n == kBadFrame) return h + len;
      p += n;
    } else if (tag == 0x0A || tag == 0x1A) {  // greeting, error
      n = readVarint(p, stop, v);
      if (n == 0 || n == kBadFrame || v > static_cast<std::uint64_t>(stop - p - n)) return h + len;
      std::string_view s(reinterpret_cast<const char*>(p + n), v);
      (tag == 0x0A ? reply.greeting : reply.error) = s;
      p += n + v;
    } else {
      return h + len;  // unknown field: not what the server should send
    }
  }
  reply.valid = true;
  return h + len;
}

// Cross-checks the hand-rolled encoder/decoder against protobuf's generated classes.
inline bool selfCheck() {
  for (std::uint64_t seq : {1ull, 127ull, 128ull, 300ull, 1ull << 40}) {
    hello::HelloRequest req;
    req.set_name("bench-42");
    req.set_seq(seq);
    std::string body = req.SerializeAsString();
    std::string expected;
    appendVarint(expected, body.size());
    expected += body;
    std::string mine;
    appendRequest(mine, requestPrefix("bench-42"), seq);
    if (mine != expected) return false;

    hello::HelloReply rep;
    rep.set_greeting("Hello, bench-42!");
    rep.set_seq(seq);
    std::string framed;
    body = rep.SerializeAsString();
    appendVarint(framed, body.size());
    framed += body;
    ReplyView view;
    auto* bytes = reinterpret_cast<const std::uint8_t*>(framed.data());
    if (decodeReply(bytes, framed.size(), view) != framed.size() || !view.valid ||
        view.greeting != rep.greeting() || view.seq != seq || !view.error.empty() ||
        decodeReply(bytes, framed.size() - 1, view) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace nioxx::bench
