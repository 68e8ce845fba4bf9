// Framing: where a request frame ends in a byte stream, and how a reply is framed. The session
// (FramedSession) scans its input with it and hands each frame's payload to the FrameService;
// the service frames its replies through it (Replies). Three framings:
//
//   Framing::varint()             protobuf's length-delimited form: a base-128 varint32 length,
//                                 then the payload (the default; the hello protocol)
//   Framing::lengthPrefixed(n)    a big-endian length of n = 2 or 4 bytes, then the payload
//   Framing::lines(stripCr)       a payload then '\n'; with stripCr a '\r' before the '\n' is
//                                 not part of the payload (telnet, "\r\n" protocols)
//
// One limit for all: the payload of a request (for lines: the line without its end) may hold at
// most maxFrame bytes. A longer frame is an error as soon as it is knowable (a declared length
// over the limit; more than maxFrame bytes without an end of line), so the session never holds
// more than maxFrame + overhead() bytes of one frame.
//
// Fast path: a Framing is a small value (no virtual call); scan() switches on the kind once per
// call, then walks every complete frame in place (no copy, no allocation), as FrameDecoder::scan.
//
// Thread rule: immutable; any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "nioxx/core/error.h"
#include "nioxx/core/frame_codec.h"

namespace nioxx::server {

// What Framing::scan found: the bytes of the complete frames it delivered, and, for the frame
// that starts right after them, its total size if its header is in (0 if not known yet), or the
// error that makes it unacceptable.
struct FramingScan {
  std::size_t consumed = 0;
  std::size_t needed = 0;
  std::error_code error;       // Error::frame_too_large or Error::malformed_frame
  std::uint64_t declared = 0;  // frame_too_large: the declared length (lines: bytes seen)
  // Lines: bytes of the incomplete line already searched for its end. Passed back to the next
  // scan of the same line (with more bytes behind it), so a line that trickles in byte by byte
  // is searched once, not once per read (quadratic work for a slowloris client otherwise).
  std::size_t searched = 0;
};

class Framing {
 public:
  enum class Kind : std::uint8_t { varint, length_prefixed, line };

  Framing() noexcept = default;  // varint
  static Framing varint() noexcept { return {}; }
  // prefixBytes: 2 or 4 (throws std::invalid_argument otherwise).
  static Framing lengthPrefixed(std::size_t prefixBytes);
  static Framing lines(bool stripCr = true) noexcept { return Framing(Kind::line, 0, stripCr); }

  Kind kind() const noexcept { return kind_; }
  std::size_t prefixBytes() const noexcept { return prefixBytes_; }
  bool stripsCr() const noexcept { return stripCr_; }
  // "varint", "length-prefixed/2", "length-prefixed/4", "line" (logs, the listening line).
  std::string name() const;
  // Bytes a request frame may take beyond its payload (prefix, or "\r\n").
  std::size_t overhead() const noexcept;

  // Delivers each complete frame at the front of bytes to onFrame(std::span<const std::uint8_t>
  // payload), a view into bytes; onFrame returns void, or bool (false stops the scan after that
  // frame: backpressure). The caller keeps the bytes after `consumed`. searched: the previous
  // scan's FramingScan::searched when bytes start with the same incomplete frame, else 0.
  template <class OnFrame>
  FramingScan scan(std::span<const std::uint8_t> bytes, std::size_t maxFrame, OnFrame&& onFrame,
                   std::size_t searched = 0) const;

  // Appends payload as one framed reply. Throws std::length_error if the prefix cannot describe
  // its length (over 65,535 bytes with a 2-byte prefix). A line reply must not contain '\n'
  // (not checked: the peer would see two lines).
  void append(std::string_view payload, std::string& out) const;
  void append(std::span<const std::uint8_t> payload, std::string& out) const {
    append(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), out);
  }
  // Appends a reply of `size` payload bytes that fill(std::uint8_t* at) writes in place (a
  // serialiser, with no temporary string).
  template <class Fill>
  void append(std::size_t size, Fill&& fill, std::string& out) const;

  // The text of an error reply for scan.error ("frame too large: ...").
  std::string describe(const FramingScan& scan, std::size_t maxFrame) const;

 private:
  Framing(Kind kind, std::uint8_t prefixBytes, bool stripCr) noexcept
      : kind_(kind), prefixBytes_(prefixBytes), stripCr_(stripCr) {}
  // Writes the prefix for a payload of size bytes at `at` (room for kMaxVarint32Bytes); returns
  // its length. Throws std::length_error if size does not fit the prefix.
  std::size_t writePrefix(std::size_t size, std::uint8_t* at) const;

  template <class OnFrame>
  FramingScan scanVarint(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                         OnFrame& onFrame) const;
  template <class OnFrame>
  FramingScan scanPrefixed(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                           OnFrame& onFrame) const;
  template <class OnFrame>
  FramingScan scanLines(std::span<const std::uint8_t> bytes, std::size_t maxFrame, OnFrame& onFrame,
                        std::size_t searched) const;

  Kind kind_ = Kind::varint;
  std::uint8_t prefixBytes_ = 0;
  bool stripCr_ = false;
};

// What a FrameService appends its replies to: the connection's output and its framing.
//
// Thread rule: as the FrameService call it is passed to.
class Replies {
 public:
  Replies(const Framing& framing, std::string& bytes) noexcept
      : framing_(&framing), bytes_(&bytes) {}

  // One framed reply.
  void append(std::string_view payload) { framing_->append(payload, *bytes_); }
  void append(std::span<const std::uint8_t> payload) { framing_->append(payload, *bytes_); }
  // One framed reply of `size` bytes written in place by fill(std::uint8_t* at).
  template <class Fill>
  void append(std::size_t size, Fill&& fill) {
    framing_->append(size, std::forward<Fill>(fill), *bytes_);
  }
  // Bytes already in the wire format (a service that frames its replies itself).
  void appendRaw(std::string_view framed) { bytes_->append(framed); }

  // Close the connection once the replies so far are written (a "QUIT" command): no further
  // request of this connection is looked at. Not an error (see FrameService::onFrame).
  void closeAfter() noexcept { close_ = true; }
  bool closeRequested() const noexcept { return close_; }

  const Framing& framing() const noexcept { return *framing_; }

 private:
  const Framing* framing_;
  std::string* bytes_;
  bool close_ = false;
};

// ---- templates ----

template <class OnFrame>
FramingScan Framing::scan(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                          OnFrame&& onFrame, std::size_t searched) const {
  switch (kind_) {
    case Kind::length_prefixed:
      return scanPrefixed(bytes, maxFrame, onFrame);
    case Kind::line:
      return scanLines(bytes, maxFrame, onFrame, searched);
    case Kind::varint:
      break;
  }
  return scanVarint(bytes, maxFrame, onFrame);
}

template <class OnFrame>
FramingScan Framing::scanVarint(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                                OnFrame& onFrame) const {
  // FrameDecoder::scan is the reference implementation (and its one-byte-prefix fast path).
  const FrameScan scan = FrameDecoder(maxFrame).scan(bytes, onFrame);
  FramingScan result;
  result.consumed = scan.consumed;
  result.error = scan.error;
  // Only for what is left: the frame the next read continues, or the error's declared length.
  if (scan.consumed < bytes.size()) {
    const VarintResult prefix = decodeVarint32(bytes.subspan(scan.consumed));
    result.declared = prefix.value;
    if (prefix.status == VarintStatus::ok && !scan.error) {
      result.needed = prefix.length + prefix.value;
    }
  }
  return result;
}

template <class OnFrame>
FramingScan Framing::scanPrefixed(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                                  OnFrame& onFrame) const {
  FramingScan result;
  const std::size_t header = prefixBytes_;
  while (bytes.size() - result.consumed >= header) {
    const std::uint8_t* at = bytes.data() + result.consumed;
    std::uint32_t length = 0;
    for (std::size_t i = 0; i < header; ++i)
      length = (length << 8) | at[i];
    if (length > maxFrame) {
      result.error = make_error_code(Error::frame_too_large);
      result.declared = length;
      return result;
    }
    if (bytes.size() - result.consumed - header < length) {
      result.needed = header + length;  // incomplete: the caller keeps it
      return result;
    }
    result.consumed += header + length;
    if (!deliverFrame(onFrame, {at + header, length})) return result;
  }
  return result;
}

template <class OnFrame>
FramingScan Framing::scanLines(std::span<const std::uint8_t> bytes, std::size_t maxFrame,
                               OnFrame& onFrame, std::size_t searched) const {
  FramingScan result;
  const std::size_t cr = stripCr_ ? 1 : 0;
  while (result.consumed < bytes.size()) {
    const std::uint8_t* start = bytes.data() + result.consumed;
    const std::size_t left = bytes.size() - result.consumed;
    // The end of an acceptable line lies within maxFrame (+ '\r') bytes: look no further.
    const std::size_t window = std::min(left, maxFrame + cr + 1);
    const std::size_t skip = std::min(searched, window);  // known to hold no '\n'
    searched = 0;                                         // only the first line was searched
    const auto* newline =
        static_cast<const std::uint8_t*>(std::memchr(start + skip, '\n', window - skip));
    if (newline == nullptr) {
      if (left > maxFrame + cr) {
        result.error = make_error_code(Error::frame_too_large);
        result.declared = left;
      } else {
        result.searched = left;
      }
      return result;  // an incomplete line: the caller keeps it
    }
    const auto length = static_cast<std::size_t>(newline - start);
    const std::size_t payload = length - (cr != 0 && length > 0 && start[length - 1] == '\r');
    if (payload > maxFrame) {
      result.error = make_error_code(Error::frame_too_large);
      result.declared = payload;
      return result;
    }
    result.consumed += length + 1;
    if (!deliverFrame(onFrame, {start, payload})) return result;
  }
  return result;
}

template <class Fill>
void Framing::append(std::size_t size, Fill&& fill, std::string& out) const {
  // Small replies (the common case) are framed on the stack and appended in one copy: growing the
  // string first would zero-fill the bytes that fill() then overwrites (no resize_and_overwrite
  // before C++23). A one-byte varint prefix needs no call (issue 17: instructions per request).
  constexpr std::size_t kStackReply = 256;
  std::uint8_t small[kStackReply];
  if (kind_ == Kind::varint && size < 0x80) [[likely]] {
    small[0] = static_cast<std::uint8_t>(size);
    fill(small + 1);
    out.append(reinterpret_cast<const char*>(small), size + 1);
    return;
  }
  const std::size_t prefixLength = writePrefix(size, small);
  const std::size_t trailer = kind_ == Kind::line ? 1 : 0;
  const std::size_t total = prefixLength + size + trailer;
  if (total <= kStackReply) {
    fill(small + prefixLength);
    if (trailer != 0) small[prefixLength + size] = '\n';
    out.append(reinterpret_cast<const char*>(small), total);
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + total);
  auto* dst = reinterpret_cast<std::uint8_t*>(out.data()) + at;
  std::memcpy(dst, small, prefixLength);
  fill(dst + prefixLength);
  if (trailer != 0) dst[prefixLength + size] = '\n';
}

}  // namespace nioxx::server
