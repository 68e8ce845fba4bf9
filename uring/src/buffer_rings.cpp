// Provided-buffer groups as io_uring buffer rings: one ring per engine thread and group,
// registered lazily on that thread at the first read that uses the group, filled with the ids
// the group hands back (ProvidedBuffers::reclaim). A read the kernel finds no buffer for
// (ENOBUFS) parks its socket until a buffer comes back (the group's return hook posts to the
// thread; the loop also reclaims returned ids each turn), then is issued again: its bytes stay
// in the socket meanwhile, nothing is lost, nothing retries on a timer.
#include <sys/mman.h>

#include <algorithm>
#include <bit>

#include "detail/engine.h"
#include "nioxx/core/log.h"

namespace nioxx::uring_detail {

void Engine::addBufferGroup(const std::shared_ptr<ProvidedBuffers>& group) {
  {
    std::lock_guard lock(groupsMutex_);
    groups_.push_back(group);
  }
  group->setReturnHook([this](std::uint32_t thread) {
    Ring& r = *rings_[thread % rings_.size()];
    post(r, {InboxItem::buffers_returned, nullptr, 0});  // refused after shutdown: none waits
  });
}

// liburing 2.3 has no io_uring_setup_buf_ring (2.4): map the ring, register it, initialise it.
BufRing* Engine::bufRing(Ring& r, ProvidedBuffers* group) noexcept {
  if (auto it = r.bufRings.find(group); it != r.bufRings.end()) return &it->second;
  std::shared_ptr<ProvidedBuffers> owner;
  {
    std::lock_guard lock(groupsMutex_);
    for (auto& g : groups_) {
      if (g.get() == group) owner = g;
    }
  }
  if (!owner || r.index >= group->threads()) return nullptr;
  const unsigned entries = std::bit_ceil(static_cast<unsigned>(group->buffersPerThread()));
  const std::size_t bytes = entries * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
  reg.ring_entries = entries;
  reg.bgid = group->groupId();
  if (const int rc = io_uring_register_buf_ring(&r.ring, &reg, 0); rc != 0) {
    log::get("uring")->error("buffer ring for group {}: {}", group->groupId(),
                             std::system_category().message(-rc));
    ::munmap(mem, bytes);
    return nullptr;
  }
  BufRing& b = r.bufRings[group];
  b.group = std::move(owner);
  b.br = br;
  b.bytes = bytes;
  b.mask = static_cast<unsigned>(io_uring_buf_ring_mask(entries));
  reclaim(r, b);
  return &b;
}

std::size_t Engine::reclaim(Ring& r, BufRing& b) noexcept {
  ProvidedBuffers& g = *b.group;
  int i = 0;
  const std::size_t n = g.reclaim(r.index, [&](std::uint16_t id) {
    io_uring_buf_ring_add(b.br, g.data(r.index, id), static_cast<unsigned>(g.bufferSize()), id,
                          static_cast<int>(b.mask), i++);
  });
  if (n != 0) io_uring_buf_ring_advance(b.br, static_cast<int>(n));
  return n;
}

void Engine::reclaimAll(Ring& r) noexcept {
  bool any = false;
  for (auto& [group, b] : r.bufRings) {
    if (b.group->hasReturned(r.index) && reclaim(r, b) != 0) any = true;
  }
  if (any && !r.parked.empty()) unparkAll(r);
}

// The head found the buffer ring empty. Returns that raced with it are reclaimed at once;
// otherwise the socket waits for the group's return hook.
void Engine::park(SocketState& s) noexcept {
  Ring& r = s.ring;
  Direction& d = s.dirs[kRead];
  Operation* op = d.q.front();
  op->group->waitForReturn(r.index);
  if (BufRing* b = bufRing(r, op->group); b != nullptr && reclaim(r, *b) != 0) {
    if (!issue(s, kRead, op)) popAndFinish(s, kRead);
    return;
  }
  d.parked = true;
  sink_->notify(*op, OpPhase::waiting);
  if (std::find(r.parked.begin(), r.parked.end(), &s) == r.parked.end()) r.parked.push_back(&s);
}

void Engine::unparkAll(Ring& r) noexcept {
  std::vector<SocketState*> parked;
  parked.swap(r.parked);
  for (SocketState* s : parked) {
    Direction& d = s->dirs[kRead];
    if (!d.parked) continue;
    d.parked = false;
    startHead(*s, kRead);  // may park again (and list itself anew)
  }
}

void Engine::unlistParked(SocketState& s) noexcept {
  auto& v = s.ring.parked;
  v.erase(std::remove(v.begin(), v.end(), &s), v.end());
}

}  // namespace nioxx::uring_detail
