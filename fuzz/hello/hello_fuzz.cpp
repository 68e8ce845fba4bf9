// libFuzzer target for the hello server's request-to-reply path: the bytes a client sends, fed
// through FramedSession + HelloService exactly as the reactive and proactive glue do (reads of
// pseudo-random sizes, output written back in pseudo-random pieces, the output cap pausing the
// input), then end of input.
//
// Oracle (independent of FramedSession's decoding):
//  - never crashes, leaks or trips ASan/UBSan;
//  - the replies are exactly one HelloReply{greeting = "Hello, " + name + "!", seq} per valid
//    request, in order, where the valid requests are found by a separate varint loop and
//    protobuf's own HelloRequest parser;
//  - at most one error reply, only if the stream does not end cleanly on a valid frame
//    (bad frame, over-long prefix, frame over the limit, truncated frame at EOF), and it is last;
//  - no stray bytes after the last reply; the session ends closed, never stalled.
//
// Input layout: byte 0 picks maxFrame (bits 0-1) and outputCap (bits 2-3); byte 1 seeds the read
// and write sizes; the rest is the client's byte stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "hello.pb.h"
#include "hello/hello_service.h"
#include "nioxx/server/framed_session.h"

namespace {

using nioxx::demo::HelloService;
using nioxx::server::FramedSession;
using nioxx::server::SessionLimits;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "hello_fuzz oracle: %s\n", what);
  std::abort();
}

struct Rng {  // xorshift32: deterministic read/write sizes from one input byte
  std::uint32_t s;
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  std::size_t upTo(std::size_t n) { return n ? next() % (n + 1) : 0; }
};

struct Expected {
  std::vector<std::pair<std::string, std::uint64_t>> replies;  // greeting, seq
  bool error = false;
};

// Varint32 as protobuf's delimited form defines it: at most 5 bytes, the 5th at most 0x0F.
// Returns 0 if incomplete, -1 if malformed, else the prefix length.
int readPrefix(const std::uint8_t* p, std::size_t n, std::uint64_t& value) {
  value = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    if (i == n) return 0;
    if (i == 4 && p[i] > 0x0F) return -1;
    value |= static_cast<std::uint64_t>(p[i] & 0x7F) << (7 * i);
    if (!(p[i] & 0x80)) return static_cast<int>(i + 1);
  }
  return -1;
}

Expected model(std::span<const std::uint8_t> in, std::size_t maxFrame) {
  Expected e;
  std::size_t pos = 0;
  hello::HelloRequest req;
  while (pos < in.size()) {
    std::uint64_t len = 0;
    const int h = readPrefix(in.data() + pos, in.size() - pos, len);
    if (h <= 0 || len > maxFrame || len > in.size() - pos - h) {  // bad, too large or truncated
      e.error = true;
      return e;
    }
    if (!req.ParseFromArray(in.data() + pos + h, static_cast<int>(len))) {
      e.error = true;
      return e;
    }
    e.replies.emplace_back("Hello, " + req.name() + "!", req.seq());
    pos += h + len;
  }
  return e;
}

void checkOutput(const std::string& out, const Expected& e) {
  std::size_t pos = 0;
  std::size_t index = 0;
  bool sawError = false;
  hello::HelloReply reply;
  while (pos < out.size()) {
    std::uint64_t len = 0;
    std::uint64_t value = 0;
    // Replies may exceed maxFrame (the greeting adds 8 bytes); read the prefix without a limit.
    int h = 0;
    for (int shift = 0; h < 10; shift += 7) {
      if (pos + h >= out.size()) fail("reply prefix cut short");
      const std::uint8_t b = static_cast<std::uint8_t>(out[pos + h++]);
      value |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    len = value;
    if (len > out.size() - pos - h) fail("reply frame cut short");
    if (!reply.ParseFromArray(out.data() + pos + h, static_cast<int>(len)))
      fail("unparseable reply");
    pos += h + len;
    if (sawError) fail("a reply after the error reply");
    if (!reply.error().empty()) {
      if (!e.error) fail("error reply for a stream of valid requests");
      if (index != e.replies.size()) fail("error reply before the replies to earlier requests");
      if (!reply.greeting().empty() || reply.seq() != 0) fail("error reply carries a greeting");
      sawError = true;
      continue;
    }
    if (index >= e.replies.size()) fail("more replies than valid requests");
    if (reply.greeting() != e.replies[index].first) fail("wrong greeting");
    if (reply.seq() != e.replies[index].second) fail("wrong seq");
    ++index;
  }
  if (index != e.replies.size()) fail("lost replies");
  if (e.error && !sawError) fail("bad input without an error reply");
}

}  // namespace

// protobuf prints a line for every string field with invalid UTF-8; on stderr that would be most
// of the fuzzer's time. The server routes them to its debug log (HelloService::routeProtobufLogs).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::size_t kFrames[] = {16, 64, 300, 65536};
  static constexpr std::size_t kCaps[] = {1, 64, 1024, 256 * 1024};
  SessionLimits limits;
  limits.maxFrame = kFrames[data[0] & 3];
  limits.outputCap = kCaps[(data[0] >> 2) & 3];
  Rng rng{0x9E3779B9u ^ (static_cast<std::uint32_t>(data[1]) * 0x01000193u) ^ (data[0] >> 4)};
  const std::span<const std::uint8_t> in(data + 2, size - 2);

  FramedSession session(HelloService::create(), limits, nullptr);
  std::string written;
  auto writeSome = [&](std::size_t most) {
    const auto next = session.nextOutput();
    const std::size_t n = std::min(next.size(), most);
    written.append(reinterpret_cast<const char*>(next.data()), n);
    session.consumeOutput(n);
  };

  std::size_t pos = 0;
  int stalls = 0;
  while (pos < in.size() && !session.closing()) {
    if (!session.wantsRead()) {
      // Paused by the output cap: the peer reads some replies.
      if (!session.hasOutput()) fail("stalled: no read wanted, nothing to write, not closing");
      writeSome(1 + rng.upTo(2048));
      if (++stalls > 1'000'000) fail("no progress");
      continue;
    }
    const auto space = session.readSpace();
    if (space.size() < FramedSession::kReadChunk) fail("readSpace smaller than one chunk");
    const std::size_t n = std::min({space.size(), in.size() - pos, 1 + rng.upTo(300)});
    std::memcpy(space.data(), in.data() + pos, n);
    pos += n;
    session.commitRead(n);
    if (session.hasOutput() && (rng.next() & 1)) writeSome(rng.upTo(512));
  }
  if (!session.closing()) session.endOfInput(true);
  for (int i = 0; session.hasOutput(); ++i) {
    if (i > 10'000'000) fail("output never drains");
    writeSome(1 + rng.upTo(4096));
  }
  if (!session.shouldClose()) fail("all output written but the session is not closing");

  const Expected e = model(in, limits.maxFrame);
  if (session.requests() != e.replies.size()) fail("requests() differs from the valid requests");
  if (session.failed() != e.error) fail("failed() differs from the model");
  checkOutput(written, e);
  return 0;
}
