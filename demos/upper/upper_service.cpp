#include "upper/upper_service.h"

#include "nioxx/core/frame_codec.h"

namespace nioxx::demo {

bool UpperService::onFrame(std::span<const std::uint8_t> payload, std::string& out) {
  std::uint8_t prefix[kMaxVarint32Bytes];
  out.append(reinterpret_cast<const char*>(prefix),
             encodeVarint32(static_cast<std::uint32_t>(payload.size()), prefix));
  for (std::uint8_t c : payload) {
    out.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  }
  return true;  // any bytes are acceptable text here; return false to reject a request
}

void UpperService::appendError(std::string_view reason, std::string& out) {
  FrameEncoder::encode("ERROR: " + std::string(reason), out);
}

}  // namespace nioxx::demo
