// Protobuf's standard length-delimited framing: a base-128 varint32 length, then that many bytes
// (Java writeDelimitedTo/parseDelimitedFrom, Netty ProtobufVarint32FrameDecoder).
//
// Errors are reported the moment they are knowable, byte by byte through the prefix:
// Error::frame_too_large as soon as the prefix bytes seen so far already encode more than the
// limit (later bytes only add higher bits), so always before the payload arrives;
// Error::malformed_frame when the fifth prefix byte has its continuation bit set (a sixth byte
// would be needed) or carries bits above 0x0F (a value wider than 32 bits). The limit applies to
// the payload length, not counting the prefix. A zero-length frame is valid.
//
// Thread rule: FrameEncoder is stateless; a FrameDecoder is not synchronised (one thread at a
// time, like the channel it decodes). onFrame runs synchronously inside scan()/feed(), on the
// caller's thread; it must not call feed()/reset() on the same decoder. The span it receives is
// valid only during the call. If onFrame throws, the exception propagates; call reset() before
// using the decoder again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "nioxx/core/byte_buffer.h"
#include "nioxx/core/error.h"

namespace nioxx {

inline constexpr std::size_t kDefaultMaxFrameSize = 65536;
inline constexpr std::size_t kMaxVarint32Bytes = 5;

std::size_t varint32Size(std::uint32_t value) noexcept;
// Writes value to out (room for kMaxVarint32Bytes); returns the bytes written.
std::size_t encodeVarint32(std::uint32_t value, std::uint8_t* out) noexcept;

enum class VarintStatus { ok, incomplete, malformed };
struct VarintResult {
  VarintStatus status;
  std::uint32_t value;  // valid when ok
  std::size_t length;   // prefix bytes when ok
};
VarintResult decodeVarint32(std::span<const std::uint8_t> bytes) noexcept;

struct FrameEncoder {
  // Prefix plus payload bytes for a payload of payloadSize bytes.
  static std::size_t encodedSize(std::size_t payloadSize);
  // Appends the prefix and payload to out. Throws std::length_error if the payload is longer
  // than 2^32-1 bytes (a varint32 cannot describe it).
  static void encode(std::string_view payload, std::string& out);
  static void encode(std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out);
  // Puts the prefix and payload at out's position: all or nothing, as ByteBuffer::put (throws
  // BufferOverflowException, writing nothing, if encodedSize() exceeds out.remaining()).
  static void encode(std::span<const std::uint8_t> payload, ByteBuffer& out);
};

// Result of FrameDecoder::scan: bytes consumed by complete frames, and the error (if any) of the
// frame that starts right after them.
struct FrameScan {
  std::size_t consumed = 0;
  std::error_code error;
};

// OnFrame is void(std::span<const std::uint8_t>) or bool(std::span<const std::uint8_t>);
// returning false stops the scan after that frame (backpressure).
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t maxFrameSize = kDefaultMaxFrameSize) noexcept
      : maxFrameSize_(maxFrameSize) {}

  std::size_t maxFrameSize() const noexcept { return maxFrameSize_; }

  // Stateless: delivers each complete frame at the front of bytes as a view into bytes (no copy)
  // and reports how much was consumed. The caller keeps the rest (e.g. ByteBuffer::compact()).
  template <class OnFrame>
  FrameScan scan(std::span<const std::uint8_t> bytes, OnFrame&& onFrame) const;

  // Streaming: accepts bytes in arbitrary pieces (one at a time works). Frames wholly inside
  // bytes are delivered as views; only a frame split across calls is copied into an internal
  // buffer. After an error the decoder stays failed and returns that error until reset().
  template <class OnFrame>
  std::error_code feed(std::span<const std::uint8_t> bytes, OnFrame&& onFrame);
  template <class OnFrame>
  std::error_code feed(std::string_view bytes, OnFrame&& onFrame) {
    return feed(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                std::forward<OnFrame>(onFrame));
  }

  // Bytes held inside the decoder: a split frame's beginning, plus (after onFrame returned
  // false) the rest of that feed() call, which the next feed() delivers first, even an empty one.
  std::size_t buffered() const noexcept { return partial_.size() - partialHead_; }
  bool failed() const noexcept { return static_cast<bool>(error_); }
  std::error_code error() const noexcept { return error_; }
  // Forgets buffered bytes and any error: the decoder is as new (same maxFrameSize).
  void reset() noexcept;

 private:
  // Checks one prefix: ok with the frame's total size, incomplete, or an error.
  struct Prefix {
    VarintStatus status;
    std::size_t header;
    std::size_t payload;
    std::error_code error;
  };
  Prefix readPrefix(std::span<const std::uint8_t> bytes) const noexcept;
  // Moves bytes into partial_ until its first frame is complete (sets complete; frame is then
  // that frame's payload) or bytes run out; sets error_ on a bad prefix. Returns bytes used.
  std::size_t fillPartial(std::span<const std::uint8_t> bytes, bool& complete,
                          std::span<const std::uint8_t>& frame);
  // Keeps bytes (a feed() call's undelivered tail) for the next feed().
  void keep(std::span<const std::uint8_t> bytes);

  std::size_t maxFrameSize_;
  std::vector<std::uint8_t> partial_;  // [partialHead_, size) is undelivered; empty when none
  std::size_t partialHead_ = 0;
  std::error_code error_;
};

}  // namespace nioxx

#include "nioxx/core/frame_codec_inl.h"
