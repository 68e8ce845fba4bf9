#include "upper/upper_service.h"

#include <string>

namespace nioxx::demo {

bool UpperService::onFrame(std::span<const std::uint8_t> payload, server::Replies& out) {
  out.append(payload.size(), [payload](std::uint8_t* at) {
    for (std::uint8_t c : payload)
      *at++ = c >= 'a' && c <= 'z' ? static_cast<std::uint8_t>(c - 'a' + 'A') : c;
  });
  return true;  // any bytes are acceptable text here; return false to reject a request
}

void UpperService::appendError(std::string_view reason, server::Replies& out) {
  out.append("ERROR: " + std::string(reason));
}

}  // namespace nioxx::demo
