// UpperService: the smallest useful FrameService, meant to be copied. Each request frame holds
// text; the reply frame holds the same text with ASCII letters uppercased. Errors (framing,
// limits) are a reply frame starting with "ERROR: ". No protobuf: the framing is the same
// varint32 length prefix as the hello protocol.
//
// Thread rule: one instance per connection, one thread at a time (see FrameService).
#pragma once

#include <memory>

#include "common/frame_service.h"

namespace nioxx::demo {

class UpperService final : public FrameService {
 public:
  static std::unique_ptr<FrameService> create() { return std::make_unique<UpperService>(); }

  bool onFrame(std::span<const std::uint8_t> payload, std::string& out) override;
  void appendError(std::string_view reason, std::string& out) override;
};

}  // namespace nioxx::demo
