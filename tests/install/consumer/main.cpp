// A downstream program built against the installed nioxx: encodes and decodes one frame.
#include <nioxx/core/frame_codec.h>

#include <cstdio>
#include <string>

int main() {
  std::string wire;
  nioxx::FrameEncoder::encode("hello", wire);
  nioxx::FrameDecoder decoder;
  std::string got;
  auto ec = decoder.feed(wire, [&](std::span<const std::uint8_t> frame) {
    got.assign(reinterpret_cast<const char*>(frame.data()), frame.size());
  });
  if (ec || got != "hello") {
    std::fprintf(stderr, "round trip failed: %s\n", ec.message().c_str());
    return 1;
  }
  std::puts("nioxx consumer: ok");
  return 0;
}
