// ReactorConnection's backpressure: the output queue bounded in bytes, and writability
// transitions (the same algorithm as the proactor's: proactor/src/writability.cpp). Transitions
// are counted (flips_, odd = unwritable) and reported from the loop, so a callback never runs
// inside the write() that caused it; a report delivers every transition not delivered yet.
#include <algorithm>
#include <stdexcept>

#include "detail/reactor_connection.h"

namespace nioxx::detail {

// Off the loop thread: counts the bytes of a write before it hops to the loop.
bool ReactorConnection::reserve(std::size_t n) noexcept {
  const std::size_t limit = limit_.load(std::memory_order_relaxed);
  std::size_t queued = pending_.load();
  do {
    if (queued > 0 && n > limit - std::min(queued, limit)) return false;
  } while (!pending_.compare_exchange_weak(queued, queued + n));
  updateWritability();
  return true;
}

void ReactorConnection::addPending(std::size_t n) noexcept {
  if (n == 0) return;
  pending_.fetch_add(n);
  updateWritability();
}

void ReactorConnection::subPending(std::size_t n) noexcept {
  if (n == 0) return;
  pending_.fetch_sub(n);
  updateWritability();
}

// seq_cst bytes and transitions: a change of the bytes and a transition made on another thread
// cannot miss each other (see the proactor's updateWritability()).
void ReactorConnection::updateWritability() noexcept {
  std::uint64_t made = 0;
  for (;;) {
    std::uint64_t flips = flips_.load();
    const std::size_t bytes = pending_.load();
    const bool cross = (flips & 1U) == 0 ? bytes > high_.load() : bytes <= low_.load();
    if (!cross) break;
    if (flips_.compare_exchange_weak(flips, flips + 1)) made = flips + 1;
  }
  if (made == 0) return;
  try {
    auto self = std::static_pointer_cast<ReactorConnection>(shared_from_this());
    reactor_.post([self, made] { self->reportWritability(made); });
  } catch (...) {
    // Out of memory, or not owned yet: the next transition reports this one too.
  }
}

void ReactorConnection::reportWritability(std::uint64_t flip) {
  if (!isOpen()) return;  // onClose is last
  if (config_.pool == nullptr) return deliverWritability(flip);
  const auto added = events_.add(
      [flip](PoolEvents& e) noexcept { e.writability = std::max(e.writability, flip); });
  if (added == EventQueue::Added::scheduled) scheduleDrain();
}

void ReactorConnection::deliverWritability(std::uint64_t upTo) {
  while (delivered_ < upTo) {
    const std::uint64_t k = ++delivered_;
    handler_->onWritabilityChanged(*this, (k & 1U) == 0);
  }
}

void ReactorConnection::setWriteBufferWatermarks(std::size_t low, std::size_t high) {
  if (low > high) throw std::invalid_argument("nioxx: low water mark above the high one");
  low_.store(low);
  high_.store(high);
  updateWritability();
}

void ReactorConnection::setWriteBufferLimit(std::size_t bytes) {
  limit_.store(bytes);
}

}  // namespace nioxx::detail
