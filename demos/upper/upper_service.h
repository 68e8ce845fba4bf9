// UpperService: the smallest useful FrameService, meant to be copied. Each request frame holds
// text; the reply frame holds the same text with ASCII letters uppercased. Errors (framing,
// limits) are a reply frame starting with "ERROR: ". No protobuf, and no framing of its own: the
// replies are framed as the program's Framing says (upper_server: varint32 length prefixes, as
// the hello protocol).
//
// Thread rule: one instance per connection, one thread at a time (see FrameService).
#pragma once

#include <memory>

#include "nioxx/server/frame_service.h"

namespace nioxx::demo {

class UpperService final : public server::FrameService {
 public:
  static std::unique_ptr<server::FrameService> create() { return std::make_unique<UpperService>(); }

  bool onFrame(std::span<const std::uint8_t> payload, server::Replies& out) override;
  void appendError(std::string_view reason, server::Replies& out) override;
};

}  // namespace nioxx::demo
