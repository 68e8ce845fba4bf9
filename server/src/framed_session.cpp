#include "nioxx/server/framed_session.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace nioxx::server {

namespace {
// An idle connection keeps at most this much input buffer after a large frame went through.
constexpr std::size_t kKeepInputCapacity = 64 * 1024;
}  // namespace

FramedSession::FramedSession(std::unique_ptr<FrameService> service, SessionLimits limits,
                             ServerStats* stats, Framing framing)
    : service_(std::move(service)), framing_(framing), limits_(limits), stats_(stats) {}

FramedSession::~FramedSession() {
  // Replies never written (the connection ended first) are no longer pending.
  if (stats_ && unsent_ > 0) stats_->outputPending.add(-static_cast<std::int64_t>(unsent_));
}

void FramedSession::produced(std::size_t before) noexcept {
  const std::size_t n = out_.back().size() - before;
  unsent_ += n;
  if (stats_ && n > 0) stats_->outputPending.add(static_cast<std::int64_t>(n));
}

void FramedSession::outputWritten(std::size_t n) noexcept {
  n = std::min<std::size_t>(n, unsent_);
  unsent_ -= n;
  if (stats_) {
    ServerStats::add(stats_->bytesOut, n);
    stats_->outputPending.add(-static_cast<std::int64_t>(n));
  }
}

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
  outputWritten(n);
  // Hysteresis: resume only well under the cap, so a slow reader does not toggle per reply.
  if (blocked_ && out_.pending() <= limits_.outputCap / 2) process();
}

std::string FramedSession::takeOutput() {
  return out_.takeAll();
}

void FramedSession::resume() {
  if (blocked_) process();
}

void FramedSession::releaseIdleMemory() noexcept {
  if (buffered() == 0) {
    inStart_ = inEnd_ = 0;
    std::vector<std::uint8_t>().swap(in_);
  }
  out_.releaseIfEmpty();
}

void FramedSession::reject(std::string_view reason) {
  if (closing_) return;
  const std::size_t before = out_.back().size();
  Replies replies(framing_, out_.back());
  service_->appendError(reason, replies);
  produced(before);
  closing_ = true;
  inStart_ = inEnd_ = 0;
}

void FramedSession::fail(std::string reason) {
  const std::size_t before = out_.back().size();
  Replies replies(framing_, out_.back());
  service_->appendError(reason, replies);
  produced(before);
  failed_ = true;
  closing_ = true;
  inStart_ = inEnd_ = 0;  // nothing after a bad frame is looked at
  if (stats_) ServerStats::add(stats_->errors, 1);
}

void FramedSession::feed(std::span<const std::uint8_t> bytes) {
  if (stats_) ServerStats::add(stats_->bytesIn, bytes.size());
  fed_ = true;
  if (closing_) return;
  if (!inputEmpty() || blocked_) {  // keep the byte order: append behind what is held
    const auto space = readSpace();
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    inEnd_ += n;
    process();
    if (n < bytes.size()) feed(bytes.subspan(n));
    return;
  }
  blocked_ = false;
  searched_ = 0;  // no input held, so no partial frame: these bytes start a new one
  const std::size_t used = answer(bytes);
  if (closing_) return;
  const auto rest = bytes.subspan(used);
  if (!rest.empty()) {
    if (in_.size() < rest.size()) in_.resize(std::max(rest.size(), kReadChunk));
    std::memcpy(in_.data(), rest.data(), rest.size());
    inStart_ = 0;
    inEnd_ = rest.size();
  }
  if (!blocked_) finishIfEof();
}

void FramedSession::process() {
  if (closing_) return;
  blocked_ = false;
  inStart_ += answer(std::span<const std::uint8_t>(in_.data() + inStart_, buffered()));
  if (closing_ || blocked_) return;
  if (buffered() == 0) {
    inStart_ = inEnd_ = 0;
    if (in_.size() > kKeepInputCapacity || (fed_ && !in_.empty())) {
      std::vector<std::uint8_t>().swap(in_);
    }
  }
  finishIfEof();
}

std::size_t FramedSession::answer(std::span<const std::uint8_t> src) {
  bool bad = false;
  bool paused = false;
  bool quit = false;
  std::uint64_t answered = 0;
  std::string& out = out_.back();  // stays the same string for the whole scan
  const std::size_t before = out.size();
  const FramingScan scan = framing_.scan(
      src, limits_.maxFrame,
      [&](std::span<const std::uint8_t> frame) -> bool {
        Replies replies(framing_, out);
        if (!service_->onFrame(frame, replies)) {
          bad = true;
          return false;
        }
        ++answered;
        if (replies.closeRequested()) {
          quit = true;
          return false;
        }
        const std::size_t elsewhere = backlog_ != nullptr ? backlog_(backlogContext_) : 0;
        if (out_.pending() + elsewhere > limits_.outputCap) {
          paused = true;
          return false;
        }
        return true;
      },
      searched_);
  searched_ = 0;
  produced(before);
  requests_ += answered;
  if (stats_) ServerStats::add(stats_->requests, answered);
  if (bad || quit) {  // bad: the service appended its own error reply
    failed_ = bad;
    closing_ = true;
    inStart_ = inEnd_ = 0;  // nothing after it is looked at
    if (stats_ && bad) ServerStats::add(stats_->errors, 1);
    return src.size();
  }
  if (paused) {
    blocked_ = true;
    return scan.consumed;
  }
  if (scan.error) {
    fail(framing_.describe(scan, limits_.maxFrame));
    return src.size();
  }
  // What is left is one incomplete frame (or nothing).
  needed_ = scan.needed;
  searched_ = scan.searched;
  return scan.consumed;
}

void FramedSession::finishIfEof() {
  if (!eof_) return;
  if (buffered() > 0 && truncatedIsError_) {
    fail("truncated frame: the connection ended after " + std::to_string(buffered()) +
         " bytes of an incomplete frame");
    return;
  }
  closing_ = true;
  inStart_ = inEnd_ = 0;
}

}  // namespace nioxx::server
