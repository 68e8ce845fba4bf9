// Template members of FrameDecoder; included at the end of frame_codec.h, do not include directly.
#pragma once

#include <span>
#include <system_error>
#include <type_traits>

namespace nioxx {

// Hands one frame to a callback that returns void (take every frame) or bool (false: stop after
// this one, backpressure). Shared by every framing (nioxx::server's too).
template <class OnFrame>
bool deliverFrame(OnFrame& onFrame, std::span<const std::uint8_t> frame) {
  using Result = std::invoke_result_t<OnFrame&, std::span<const std::uint8_t>>;
  static_assert(std::is_void_v<Result> || std::is_same_v<Result, bool>,
                "onFrame must return void, or bool (false stops delivery: backpressure)");
  if constexpr (std::is_same_v<Result, bool>) {
    return onFrame(frame);
  } else {
    onFrame(frame);
    return true;
  }
}

template <class OnFrame>
FrameScan FrameDecoder::scan(std::span<const std::uint8_t> bytes, OnFrame&& onFrame) const {
  FrameScan result;
  while (result.consumed < bytes.size()) {
    const auto rest = bytes.subspan(result.consumed);
    std::size_t header = 1;
    std::size_t payload = rest[0];
    // Fast path for the common one-byte prefix (frames under 128 bytes) within the limit; every
    // other prefix takes the byte-by-byte checks.
    if (rest[0] >= 0x80 || payload > maxFrameSize_) {
      const Prefix prefix = readPrefix(rest);
      if (prefix.error) {
        result.error = prefix.error;
        return result;
      }
      if (prefix.status != VarintStatus::ok) return result;  // incomplete prefix: caller keeps it
      header = prefix.header;
      payload = prefix.payload;
    }
    if (rest.size() - header < payload) return result;  // incomplete frame: the caller keeps rest
    result.consumed += header + payload;
    if (!deliverFrame(onFrame, rest.subspan(header, payload))) return result;
  }
  return result;
}

template <class OnFrame>
std::error_code FrameDecoder::feed(std::span<const std::uint8_t> bytes, OnFrame&& onFrame) {
  if (error_) return error_;
  // 1. Whatever is buffered (a split frame, or a tail held back by backpressure) comes first;
  //    only as many input bytes as complete its first frame are copied.
  while (partialHead_ < partial_.size()) {
    bool complete = false;
    std::span<const std::uint8_t> frame;
    bytes = bytes.subspan(fillPartial(bytes, complete, frame));
    if (error_) return error_;
    if (!complete) return {};  // every input byte is buffered; waiting for more
    const bool more = deliverFrame(onFrame, frame);
    if (partialHead_ == partial_.size()) keep({});  // releases the buffer, frame is delivered
    if (!more) {
      keep(bytes);
      return {};
    }
  }
  // 2. Frames wholly inside bytes are delivered in place (zero copy); the tail is kept.
  const FrameScan result = scan(bytes, onFrame);
  if (result.error) {
    error_ = result.error;
    keep({});
    return error_;
  }
  keep(bytes.subspan(result.consumed));
  return {};
}

}  // namespace nioxx
