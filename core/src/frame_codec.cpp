#include "nioxx/core/frame_codec.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace nioxx {
namespace {

// A split frame's buffer larger than this is freed once the frame is delivered, so an idle
// connection does not pin a maximum-size buffer.
constexpr std::size_t kRetainedCapacity = 4096;
// The fifth varint32 byte carries bits 28..31; anything above (including the continuation bit)
// would describe a value wider than 32 bits.
constexpr std::uint8_t kMaxFifthByte = 0x0F;

}  // namespace

std::size_t varint32Size(std::uint32_t value) noexcept {
  if (value < (1u << 7)) return 1;
  if (value < (1u << 14)) return 2;
  if (value < (1u << 21)) return 3;
  if (value < (1u << 28)) return 4;
  return 5;
}

std::size_t encodeVarint32(std::uint32_t value, std::uint8_t* out) noexcept {
  std::size_t n = 0;
  while (value >= 0x80) {
    out[n++] = static_cast<std::uint8_t>(value | 0x80);
    value >>= 7;
  }
  out[n++] = static_cast<std::uint8_t>(value);
  return n;
}

VarintResult decodeVarint32(std::span<const std::uint8_t> bytes) noexcept {
  std::uint32_t value = 0;
  const std::size_t n = std::min(bytes.size(), kMaxVarint32Bytes);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t byte = bytes[i];
    if (i == kMaxVarint32Bytes - 1 && byte > kMaxFifthByte) {
      return {VarintStatus::malformed, 0, 0};
    }
    value |= static_cast<std::uint32_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) return {VarintStatus::ok, value, i + 1};
  }
  return {VarintStatus::incomplete, 0, 0};
}

std::size_t FrameEncoder::encodedSize(std::size_t payloadSize) {
  if (payloadSize > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("FrameEncoder: payload of " + std::to_string(payloadSize) +
                            " bytes exceeds the varint32 maximum (2^32-1); split it");
  }
  return varint32Size(static_cast<std::uint32_t>(payloadSize)) + payloadSize;
}

void FrameEncoder::encode(std::string_view payload, std::string& out) {
  const std::size_t total = encodedSize(payload.size());
  std::uint8_t prefix[kMaxVarint32Bytes];
  const std::size_t n = encodeVarint32(static_cast<std::uint32_t>(payload.size()), prefix);
  out.reserve(out.size() + total);
  out.append(reinterpret_cast<const char*>(prefix), n);
  out.append(payload);
}

void FrameEncoder::encode(std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out) {
  const std::size_t total = encodedSize(payload.size());
  std::uint8_t prefix[kMaxVarint32Bytes];
  const std::size_t n = encodeVarint32(static_cast<std::uint32_t>(payload.size()), prefix);
  out.reserve(out.size() + total);
  out.insert(out.end(), prefix, prefix + n);
  out.insert(out.end(), payload.begin(), payload.end());
}

void FrameEncoder::encode(std::span<const std::uint8_t> payload, ByteBuffer& out) {
  const std::size_t total = encodedSize(payload.size());
  if (total > out.remaining()) {
    throw BufferOverflowException("FrameEncoder::encode: the frame needs " + std::to_string(total) +
                                  " bytes but the buffer has " + std::to_string(out.remaining()) +
                                  " remaining; flush or compact it first (nothing was written)");
  }
  std::uint8_t prefix[kMaxVarint32Bytes];
  const std::size_t n = encodeVarint32(static_cast<std::uint32_t>(payload.size()), prefix);
  out.put(std::span<const std::uint8_t>(prefix, n));
  out.put(payload);
}

FrameDecoder::Prefix FrameDecoder::readPrefix(std::span<const std::uint8_t> bytes) const noexcept {
  // Byte by byte, so the verdict depends only on the stream, never on how it was split: each
  // byte's checks run the moment that byte is seen. The bits gathered so far are a lower bound
  // of the length (later bytes add only higher bits), so "too large" is known early.
  std::uint64_t value = 0;
  const std::size_t n = std::min(bytes.size(), kMaxVarint32Bytes);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t byte = bytes[i];
    if (i == kMaxVarint32Bytes - 1 && byte > kMaxFifthByte) {
      return {VarintStatus::malformed, 0, 0, make_error_code(Error::malformed_frame)};
    }
    value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
    if (value > maxFrameSize_) {
      return {VarintStatus::malformed, 0, 0, make_error_code(Error::frame_too_large)};
    }
    if ((byte & 0x80) == 0) return {VarintStatus::ok, i + 1, static_cast<std::size_t>(value), {}};
  }
  return {VarintStatus::incomplete, 0, 0, {}};
}

std::size_t FrameDecoder::fillPartial(std::span<const std::uint8_t> bytes, bool& complete,
                                      std::span<const std::uint8_t>& frame) {
  std::size_t used = 0;
  for (;;) {
    const auto pending = std::span<const std::uint8_t>(partial_).subspan(partialHead_);
    const Prefix prefix = readPrefix(pending);
    if (prefix.error) {
      error_ = prefix.error;
      std::vector<std::uint8_t>().swap(partial_);  // a failed decoder holds nothing
      partialHead_ = 0;
      return used;
    }
    if (prefix.status == VarintStatus::ok) {
      const std::size_t total = prefix.header + prefix.payload;
      if (pending.size() < total) {
        if (partialHead_ != 0) {  // drop delivered frames before growing
          partial_.erase(partial_.begin(), partial_.begin() + static_cast<long>(partialHead_));
          partialHead_ = 0;
        }
        // No reserve(total): memory follows the bytes that arrived, not what a peer declares.
        const std::size_t take = std::min(total - partial_.size(), bytes.size() - used);
        partial_.insert(partial_.end(), bytes.begin() + static_cast<long>(used),
                        bytes.begin() + static_cast<long>(used + take));
        used += take;
        if (partial_.size() < total) return used;
      }
      frame = std::span<const std::uint8_t>(partial_).subspan(partialHead_ + prefix.header,
                                                              prefix.payload);
      partialHead_ += total;
      complete = true;
      return used;
    }
    if (used == bytes.size()) return used;
    partial_.push_back(bytes[used++]);  // one more prefix byte
  }
}

void FrameDecoder::keep(std::span<const std::uint8_t> bytes) {
  if (partialHead_ == partial_.size()) {
    partialHead_ = 0;
    if (partial_.capacity() > kRetainedCapacity) {
      std::vector<std::uint8_t>().swap(partial_);
    } else {
      partial_.clear();
    }
  }
  partial_.insert(partial_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::reset() noexcept {
  std::vector<std::uint8_t>().swap(partial_);
  partialHead_ = 0;
  error_.clear();
}

}  // namespace nioxx
