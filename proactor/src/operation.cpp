#include "nioxx/proactor/spi/operation.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "detail/thread_slots.h"
#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/detail/typed_operation.h"
#include "nioxx/proactor/dispatch_strategy.h"
#include "nioxx/proactor/spi/async_channel.h"

namespace nioxx {
namespace {

// Operation ids come from a global counter in blocks, so the hot path touches no shared atomic.
std::atomic<std::uint64_t> gNextIdBlock{1};
constexpr std::uint64_t kIdBlock = 4096;

std::uint64_t nextId() noexcept {
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = gNextIdBlock.fetch_add(kIdBlock, std::memory_order_relaxed);
    end = next + kIdBlock;
  }
  return next++;
}

// Per-thread recycling of operation memory (Asio's recycling allocator idea): size classes of
// 64 bytes up to 1 KiB, a bounded free list each. Memory freed on another thread joins that
// thread's cache, which is fine: blocks are plain ::operator new memory.
constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 16;
constexpr std::size_t kMaxCached = 256;

struct FreeBlock {
  FreeBlock* next;
};

struct OperationCache {
  std::array<FreeBlock*, kClasses> heads{};
  std::array<std::size_t, kClasses> counts{};
  ~OperationCache() {
    for (auto* head : heads) {
      while (head != nullptr) {
        FreeBlock* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  }
};
thread_local OperationCache tCache;

}  // namespace

namespace detail {

std::uint64_t allocateId() noexcept {
  return nextId();
}

void* allocateOperation(std::size_t size) {
  const std::size_t cls = (size + kGranule - 1) / kGranule - 1;
  if (cls >= kClasses) return ::operator new(size);
  if (FreeBlock* b = tCache.heads[cls]) {
    tCache.heads[cls] = b->next;
    --tCache.counts[cls];
    return b;
  }
  return ::operator new((cls + 1) * kGranule);
}

void deallocateOperation(void* p, std::size_t size) noexcept {
  const std::size_t cls = (size + kGranule - 1) / kGranule - 1;
  if (cls >= kClasses || tCache.counts[cls] >= kMaxCached) {
    ::operator delete(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = tCache.heads[cls];
  tCache.heads[cls] = b;
  ++tCache.counts[cls];
}

}  // namespace detail

Operation::Operation(OpKind kind, AsyncChannel* channel, RunFn run, DestroyFn destroy,
                     MoreFn more) noexcept
    : DispatchNode(run, true),
      kind_(kind),
      destroy_(destroy),
      more_(more),
      id_(nextId()),
      channel_(channel) {
  if (channel_ != nullptr) channel_->addRef();
  detail::liveAdd(detail::LiveKind::operation, 1);
}

Operation::~Operation() {
  detail::liveAdd(detail::LiveKind::operation, -1);
  if (acceptedFd >= 0) sys::close(acceptedFd);
  if (fileFd >= 0) sys::close(fileFd);
  if (channel_ != nullptr) channel_->release();
}

namespace detail {

MoreResult::MoreResult(Operation& o) noexcept
    : DispatchNode(
          [](DispatchNode* n) noexcept {
            auto* self = static_cast<MoreResult*>(n);
            self->op->more_(self->op, self);  // runs the handler, then deletes self
          },
          false),
      op(&o),
      transferred(std::exchange(o.transferred, 0)),
      error(std::exchange(o.error, {})),
      buffer(std::exchange(o.buffer, ByteBuffer())),
      acceptedFd(std::exchange(o.acceptedFd, -1)) {}

MoreResult::~MoreResult() {
  if (acceptedFd >= 0) sys::close(acceptedFd);
}

void* MoreResult::operator new(std::size_t size) {
  return allocateOperation(size);
}
void MoreResult::operator delete(void* p, std::size_t size) noexcept {
  deallocateOperation(p, size);
}

}  // namespace detail

bool Operation::tryAbort(OpState finalState) noexcept {
  for (OpState s : {OpState::pending, OpState::performing}) {
    if (tryTransition(s, finalState)) {
      error = finalState == OpState::timed_out ? make_error_code(Error::timed_out)
                                               : make_error_code(Error::operation_aborted);
      return true;
    }
  }
  return false;
}

const char* toString(OpKind kind) noexcept {
  switch (kind) {
    case OpKind::read:
      return "read";
    case OpKind::write:
      return "write";
    case OpKind::readv:
      return "readv";
    case OpKind::writev:
      return "writev";
    case OpKind::connect:
      return "connect";
    case OpKind::accept:
      return "accept";
    case OpKind::read_at:
      return "read_at";
    case OpKind::write_at:
      return "write_at";
    case OpKind::timer:
      return "timer";
    case OpKind::post:
      return "post";
    case OpKind::transmit_file:
      return "transmit_file";
  }
  return "?";
}

namespace detail {
namespace {
struct ActTypes {
  std::mutex mutex;
  std::deque<std::string> names{"unknown"};  // a deque: c_str() pointers stay valid
};
ActTypes& actTypes() noexcept {
  static ActTypes* t = new ActTypes;  // never destroyed: read during static destruction too
  return *t;
}
}  // namespace

std::uint16_t registerActType(std::string_view name) noexcept {
  ActTypes& t = actTypes();
  std::lock_guard lock(t.mutex);
  for (std::size_t i = 1; i < t.names.size(); ++i) {
    if (t.names[i] == name) return static_cast<std::uint16_t>(i);
  }
  if (t.names.size() >= kMaxActTypes) return 0;
  try {
    t.names.emplace_back(name);
  } catch (...) {
    return 0;
  }
  return static_cast<std::uint16_t>(t.names.size() - 1);
}

const char* actTypeName(std::uint16_t tag) noexcept {
  ActTypes& t = actTypes();
  std::lock_guard lock(t.mutex);
  return tag < t.names.size() ? t.names[tag].c_str() : "unknown";
}
}  // namespace detail

const char* toString(OpPhase phase) noexcept {
  switch (phase) {
    case OpPhase::initiated:
      return "initiated";
    case OpPhase::waiting:
      return "waiting";
    case OpPhase::performing:
      return "performing";
    case OpPhase::completed:
      return "completed";
    case OpPhase::dispatched:
      return "dispatched";
  }
  return "?";
}

const char* toString(DispatchStrategy strategy) noexcept {
  switch (strategy) {
    case DispatchStrategy::post_reactive:
      return "post_reactive";
    case DispatchStrategy::call_through:
      return "call_through";
    case DispatchStrategy::pool:
      return "pool";
  }
  return "?";
}

}  // namespace nioxx
