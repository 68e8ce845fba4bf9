#include "nioxx/server/framing.h"

#include <stdexcept>

namespace nioxx::server {

Framing Framing::lengthPrefixed(std::size_t prefixBytes) {
  if (prefixBytes != 2 && prefixBytes != 4) {
    throw std::invalid_argument("length-prefixed framing: the prefix is 2 or 4 bytes, not " +
                                std::to_string(prefixBytes));
  }
  return Framing(Kind::length_prefixed, static_cast<std::uint8_t>(prefixBytes), false);
}

std::string Framing::name() const {
  switch (kind_) {
    case Kind::length_prefixed:
      return "length-prefixed/" + std::to_string(prefixBytes_);
    case Kind::line:
      return "line";
    case Kind::varint:
      break;
  }
  return "varint";
}

std::size_t Framing::overhead() const noexcept {
  switch (kind_) {
    case Kind::length_prefixed:
      return prefixBytes_;
    case Kind::line:
      return stripCr_ ? 2 : 1;
    case Kind::varint:
      break;
  }
  return kMaxVarint32Bytes;
}

std::size_t Framing::writePrefix(std::size_t size, std::uint8_t* at) const {
  switch (kind_) {
    case Kind::line:
      return 0;
    case Kind::length_prefixed: {
      const std::size_t max = prefixBytes_ == 2 ? 0xFFFF : 0xFFFFFFFF;
      if (size > max) {
        throw std::length_error("a reply of " + std::to_string(size) + " bytes does not fit a " +
                                std::to_string(prefixBytes_) + "-byte length prefix");
      }
      for (std::size_t i = 0; i < prefixBytes_; ++i)
        at[i] = static_cast<std::uint8_t>(size >> (8 * (prefixBytes_ - 1 - i)));
      return prefixBytes_;
    }
    case Kind::varint:
      break;
  }
  if (size > 0xFFFFFFFF) {
    throw std::length_error("a reply of " + std::to_string(size) +
                            " bytes does not fit a varint32 length prefix");
  }
  return encodeVarint32(static_cast<std::uint32_t>(size), at);
}

void Framing::append(std::string_view payload, std::string& out) const {
  append(
      payload.size(),
      [&](std::uint8_t* at) {
        if (!payload.empty()) std::memcpy(at, payload.data(), payload.size());
      },
      out);
}

std::string Framing::describe(const FramingScan& scan, std::size_t maxFrame) const {
  if (scan.error == Error::malformed_frame) {
    return "malformed frame: the length prefix is not a valid varint32 (longer than 5 bytes)";
  }
  if (kind_ == Kind::line) {
    return "line too long: more than " + std::to_string(maxFrame) + " bytes without an end of line";
  }
  return "frame too large: declared length " + std::to_string(scan.declared) +
         " exceeds the limit of " + std::to_string(maxFrame) + " bytes";
}

}  // namespace nioxx::server
