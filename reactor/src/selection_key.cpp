#include "nioxx/reactor/selection_key.h"

#include <stdexcept>
#include <string>

#include "nioxx/reactor/selector.h"

namespace nioxx {

SelectionKey::SelectionKey(Selector& selector, SelectableChannel& channel, int fd, int ops,
                           int validOps)
    : selector_(&selector), channel_(&channel), fd_(fd), validOps_(validOps), interest_(ops) {}

SelectionKey& SelectionKey::interestOps(int ops) {
  if ((ops & ~validOps_) != 0) {
    throw std::invalid_argument("SelectionKey::interestOps: ops " + std::to_string(ops) +
                                " include operations this channel does not support (validOps " +
                                std::to_string(validOps_) + ")");
  }
  // Unchanged: the selector already has (or has queued) this interest set. A handler that re-arms
  // its interest after every event (read again, write if output waits) costs nothing then.
  if (interest_.load(std::memory_order_relaxed) == ops) return *this;
  if (state_.load(std::memory_order_acquire) == kCancelled) return *this;
  interest_.store(ops, std::memory_order_release);
  selector_->interestChanged(*this);
  return *this;
}

void SelectionKey::cancel() noexcept {
  std::uint8_t state = state_.load(std::memory_order_acquire);
  while (state != kCancelled) {
    if (state_.compare_exchange_weak(state, kCancelled, std::memory_order_acq_rel)) {
      selector_->keyCancelled(*this);
      return;
    }
  }
}

}  // namespace nioxx
