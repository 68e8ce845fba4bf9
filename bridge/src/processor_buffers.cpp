// Provided-buffer groups on the emulated engine: a read that finds its thread's buffers all held
// parks its socket (no read interest, so level-triggered readiness does not spin) until the
// group's return hook reports a buffer back on that thread; then every parked socket of the loop
// tries again. The bytes wait in the socket meanwhile; the read's timeout, cancel and close work
// as for any waiting read.
#include <algorithm>

#include "detail/processor_impl.h"

namespace nioxx::bridge_detail {

void ProcessorImpl::addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) {
  {
    std::lock_guard lock(groupsMutex_);
    groups_.push_back(group);
  }
  // Any thread (the one that dropped a buffer): count the return, then let the loop look.
  group->setReturnHook([this](std::uint32_t thread) {
    Loop& l = *loops_[thread % loops_.size()];
    l.bufferReturns.fetch_add(1, std::memory_order_acq_rel);
    post(l, {InboxItem::buffers_returned, nullptr, 0});  // refused after shutdown: nothing waits
  });
}

// Loop thread. s.starvedOn and s.starvedEpoch were set when the read found no buffer.
void ProcessorImpl::park(SocketState& s) noexcept {
  if (s.listedStarved || s.dead) return;
  if (s.loop.bufferReturns.load(std::memory_order_acquire) != s.starvedEpoch) {
    // A buffer came back between the failed attempt and now (a worker had the socket).
    unpark(s);
    return;
  }
  s.listedStarved = true;
  s.loop.starved.push_back(&s);
}

void ProcessorImpl::unpark(SocketState& s) noexcept {
  {
    auto lock = lockQueues(s);
    s.starvedOn = nullptr;
  }
  if (s.listedStarved) {
    s.listedStarved = false;
    auto& v = s.loop.starved;
    v.erase(std::remove(v.begin(), v.end(), &s), v.end());
  }
}

void ProcessorImpl::onBuffersReturned(Loop& l) noexcept {
  std::vector<SocketState*> parked;
  parked.swap(l.starved);
  for (SocketState* s : parked) {
    s->listedStarved = false;
    {
      auto lock = lockQueues(*s);
      s->starvedOn = nullptr;
    }
    // Readiness is level-triggered: the read interest back is enough for the loop to try again.
    updateInterest(*s);
  }
}

}  // namespace nioxx::bridge_detail
