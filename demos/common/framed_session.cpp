#include "common/framed_session.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace nioxx::demo {

namespace {
// An idle connection keeps at most this much input buffer after a large frame went through.
constexpr std::size_t kKeepInputCapacity = 64 * 1024;
}  // namespace

FramedSession::FramedSession(std::unique_ptr<FrameService> service, SessionLimits limits,
                             ServerStats* stats)
    : service_(std::move(service)), limits_(limits), stats_(stats), decoder_(limits.maxFrame) {}

bool FramedSession::wantsRead() const noexcept {
  return !closing_ && !eof_ && !blocked_;
}

std::span<std::uint8_t> FramedSession::readSpace() {
  // Offer room for the rest of the current frame (its size is known once the prefix is in), and
  // never less than one chunk: frames behind it may come in the same read.
  const std::size_t missing = needed_ > buffered() ? needed_ - buffered() : 0;
  const std::size_t want = std::max(kReadChunk, missing);
  if (in_.size() - inEnd_ < want && inStart_ > 0) {
    std::memmove(in_.data(), in_.data() + inStart_, buffered());
    inEnd_ -= inStart_;
    inStart_ = 0;
  }
  if (in_.size() - inEnd_ < want) in_.resize(inEnd_ + want);
  return {in_.data() + inEnd_, in_.size() - inEnd_};
}

void FramedSession::commitRead(std::size_t n) {
  inEnd_ += n;
  if (stats_) ServerStats::add(stats_->bytesIn, n);
  process();
}

void FramedSession::endOfInput(bool truncatedIsError) {
  if (eof_) return;
  eof_ = true;
  truncatedIsError_ = truncatedIsError;
  process();
}

void FramedSession::consumeOutput(std::size_t n) {
  out_.consume(n);
  if (stats_) ServerStats::add(stats_->bytesOut, n);
  // Hysteresis: resume only well under the cap, so a slow reader does not toggle per reply.
  if (blocked_ && out_.pending() <= limits_.outputCap / 2) process();
}

void FramedSession::reject(std::string_view reason) {
  if (closing_) return;
  service_->appendError(reason, out_.back());
  closing_ = true;
  inStart_ = inEnd_ = 0;
}

void FramedSession::fail(std::string reason) {
  service_->appendError(reason, out_.back());
  failed_ = true;
  closing_ = true;
  inStart_ = inEnd_ = 0;  // nothing after a bad frame is looked at
  if (stats_) ServerStats::add(stats_->errors, 1);
}

void FramedSession::process() {
  if (closing_) return;
  blocked_ = false;
  bool bad = false;
  bool paused = false;
  std::uint64_t answered = 0;
  const FrameScan scan =
      decoder_.scan(std::span<const std::uint8_t>(in_.data() + inStart_, buffered()),
                    [&](std::span<const std::uint8_t> frame) -> bool {
                      if (!service_->onFrame(frame, out_.back())) {
                        bad = true;
                        return false;
                      }
                      ++answered;
                      if (out_.pending() > limits_.outputCap) {
                        paused = true;
                        return false;
                      }
                      return true;
                    });
  inStart_ += scan.consumed;
  requests_ += answered;
  if (stats_) ServerStats::add(stats_->requests, answered);
  if (bad) {  // the service appended its own error reply
    failed_ = true;
    closing_ = true;
    inStart_ = inEnd_ = 0;
    if (stats_) ServerStats::add(stats_->errors, 1);
    return;
  }
  if (paused) {
    blocked_ = true;
    return;
  }
  const std::span<const std::uint8_t> rest(in_.data() + inStart_, buffered());
  const VarintResult prefix = decodeVarint32(rest);
  if (scan.error == Error::frame_too_large) {
    fail("frame too large: declared length " + std::to_string(prefix.value) +
         " exceeds the limit of " + std::to_string(limits_.maxFrame) + " bytes");
    return;
  }
  if (scan.error) {
    fail("malformed frame: the length prefix is not a valid varint32 (longer than 5 bytes)");
    return;
  }
  // What is left is one incomplete frame (or nothing).
  needed_ = prefix.status == VarintStatus::ok ? prefix.length + prefix.value : 0;
  if (buffered() == 0) {
    inStart_ = inEnd_ = 0;
    if (in_.size() > kKeepInputCapacity) std::vector<std::uint8_t>().swap(in_);
  }
  if (eof_) {
    if (buffered() > 0 && truncatedIsError_) {
      fail("truncated frame: the connection ended after " + std::to_string(buffered()) +
           " bytes of an incomplete frame");
      return;
    }
    closing_ = true;
    inStart_ = inEnd_ = 0;
  }
}

}  // namespace nioxx::demo
