// SelectionKey: the registration of one SelectableChannel with one Selector (java.nio.channels).
//
// A key is created by SelectableChannel::registerWith() and owned by its Selector; it stays
// valid until cancel(), the channel's close() or the selector's close(). Its memory lives until
// the selector's next select() begins, so a handler may cancel its key or close its channel
// while the current batch is dispatched: the key is then skipped for the rest of that batch.
//
// Thread rule: interestOps(int), cancel(), isValid(), interestOps() are safe from any thread
// (a change made off the selector's thread is queued and the selector woken; it takes effect
// at the next select, as in Java). readyOps()/is*() and attach()/attachment() belong to the
// selecting thread (or to whoever owns the key before the selector is shared).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nioxx {

class Selector;
class SelectableChannel;

class SelectionKey {
 public:
  // Java's bit values.
  static constexpr int OP_READ = 1 << 0;
  static constexpr int OP_WRITE = 1 << 2;
  static constexpr int OP_CONNECT = 1 << 3;
  static constexpr int OP_ACCEPT = 1 << 4;

  SelectionKey(const SelectionKey&) = delete;
  SelectionKey& operator=(const SelectionKey&) = delete;

  // The interest set. Any thread.
  int interestOps() const noexcept { return interest_.load(std::memory_order_acquire); }
  // Replaces the interest set; applied lazily right before the next epoll_wait and only if the
  // kernel's mask actually changes (disable + re-enable within one dispatch costs no syscall).
  // Any thread: off the selector's thread the change is queued and the selector woken.
  // No-op on a cancelled key. Throws std::invalid_argument for ops outside channel's validOps().
  SelectionKey& interestOps(int ops);
  // Convenience, as Java's: interestOpsOr(ops) = interestOps(interestOps() | ops) adds ops;
  // interestOpsAnd(ops) = interestOps(interestOps() & ops) KEEPS only ops (to remove OP_WRITE,
  // pass ~SelectionKey::OP_WRITE).
  SelectionKey& interestOpsOr(int ops) { return interestOps(interestOps() | ops); }
  SelectionKey& interestOpsAnd(int ops) { return interestOps(interestOps() & ops); }

  // The ready set found by the last select (subset of the interest set; an error/hang-up on
  // the socket makes every interest op ready so the next operation reports it). Selector thread.
  int readyOps() const noexcept { return ready_; }
  bool isReadable() const noexcept { return (ready_ & OP_READ) != 0; }
  bool isWritable() const noexcept { return (ready_ & OP_WRITE) != 0; }
  bool isConnectable() const noexcept { return (ready_ & OP_CONNECT) != 0; }
  bool isAcceptable() const noexcept { return (ready_ & OP_ACCEPT) != 0; }

  // Type-safe attachment (non-owning): attachment<T>() returns the pointer given to attach()
  // only if it was attached as exactly T*, nullptr otherwise. Selector thread.
  template <class T>
  void attach(T* object) noexcept {
    attachment_ = const_cast<void*>(static_cast<const void*>(object));
    attachmentType_ = object != nullptr ? typeTag<T>() : nullptr;
  }
  void attach(std::nullptr_t) noexcept {
    attachment_ = nullptr;
    attachmentType_ = nullptr;
  }
  template <class T>
  T* attachment() const noexcept {
    return attachmentType_ == typeTag<T>() ? static_cast<T*>(attachment_) : nullptr;
  }
  bool hasAttachment() const noexcept { return attachment_ != nullptr; }

  // Cancels the registration: the key becomes invalid at once, the descriptor is removed from
  // the kernel's interest list at once (so no further events), and the key's memory is freed at
  // the start of the next select. Idempotent. Any thread.
  void cancel() noexcept;
  bool isValid() const noexcept { return state_.load(std::memory_order_acquire) != kCancelled; }

  // The channel, or nullptr once the channel was closed/destroyed. Selector thread.
  SelectableChannel* channel() const noexcept { return channel_; }
  Selector& selector() const noexcept { return *selector_; }
  // The registered file descriptor (kept after the channel closes, for logging only).
  int fd() const noexcept { return fd_; }

 private:
  friend class Selector;
  friend class SelectableChannel;

  enum : std::uint8_t { kPending = 0, kValid = 1, kCancelled = 2 };

  SelectionKey(Selector& selector, SelectableChannel& channel, int fd, int ops, int validOps);

  template <class T>
  static const void* typeTag() noexcept {
    static const char tag = 0;
    return &tag;
  }

  Selector* selector_;
  SelectableChannel* channel_;  // cleared (under the link mutex) when the channel closes
  int fd_;
  int validOps_;
  std::atomic<int> interest_;
  std::atomic<std::uint8_t> state_{kPending};
  int ready_ = 0;
  std::uint32_t registeredEvents_ = 0;    // backend mask currently in the kernel (selector thread)
  bool dirtyQueued_ = false;              // already in the selector's local update list
  std::size_t index_ = 0;                 // position in the selector's key table
  std::size_t selectedIndex_ = SIZE_MAX;  // position in selectedKeys(), if there
  void* attachment_ = nullptr;
  const void* attachmentType_ = nullptr;
};

}  // namespace nioxx
