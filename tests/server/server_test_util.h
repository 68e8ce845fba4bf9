// Helpers for the server layer's tests: the framings under test, byte views, and a session fed the
// way the glues feed it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nioxx/server/framed_session.h"
#include "nioxx/server/framing.h"

namespace nioxx::server::testing {

inline std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct NamedFraming {
  std::string name;  // a GoogleTest parameter name
  Framing framing;
};

inline std::vector<NamedFraming> framings() {
  return {{"varint", Framing::varint()},
          {"length_prefixed_2", Framing::lengthPrefixed(2)},
          {"length_prefixed_4", Framing::lengthPrefixed(4)},
          {"lines_crlf", Framing::lines(true)},
          {"lines_lf", Framing::lines(false)}};
}

// How the glue hands input to the session: into the session's buffer (readSpace/commitRead), or
// from a buffer of the glue's (feed(), whenever the session holds no input).
enum class InputPath { session_buffer, fed };

// Reads bytes into the session in pieces of at most step bytes; returns how many it accepted
// before it stopped wanting input.
inline std::size_t feed(FramedSession& s, std::string_view bytes, std::size_t step,
                        InputPath path) {
  std::size_t done = 0;
  while (done < bytes.size() && s.wantsRead()) {
    if (path == InputPath::fed && s.inputEmpty()) {
      const std::size_t n = std::min({FramedSession::kReadChunk, step, bytes.size() - done});
      std::vector<std::uint8_t> scratch(bytes.begin() + done, bytes.begin() + done + n);
      s.feed(scratch);
      std::fill(scratch.begin(), scratch.end(), 0xEE);  // the session must not keep a view of it
      done += n;
      continue;
    }
    auto space = s.readSpace();
    const std::size_t n = std::min({space.size(), step, bytes.size() - done});
    std::memcpy(space.data(), bytes.data() + done, n);
    s.commitRead(n);
    done += n;
  }
  return done;
}

// Takes every pending output byte, as a writer that always keeps up would.
inline std::string drain(FramedSession& s) {
  std::string all;
  while (s.hasOutput()) {
    auto next = s.nextOutput();
    all.append(reinterpret_cast<const char*>(next.data()), next.size());
    s.consumeOutput(next.size());
  }
  return all;
}

}  // namespace nioxx::server::testing
