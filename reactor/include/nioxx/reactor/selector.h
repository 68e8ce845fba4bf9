// Selector: Java NIO's synchronous event demultiplexer, on level-triggered epoll.
//
// Why level-triggered: it *is* Java's contract (a key stays ready while data is pending), so no
// user-visible re-arming rules are needed. Its usual cost, an epoll_ctl per interest change, is
// removed by lazy mask sync: interestOps() only records the wish, and right before epoll_wait
// the selector issues EPOLL_CTL_MOD for keys whose kernel mask really differs.
//
// The select path does not allocate: ready events land in a pre-sized array (grown only when a
// wait fills it), selected keys in a vector, cancelled keys are freed before and after the wait.
//
// Thread rule: one thread selects (select*, keys(), selectedKeys(), close()); the selector binds
// to the thread that calls select and, in debug/sanitizer builds, asserts that loop-only calls
// happen there. wakeup() and the key's interestOps()/cancel(), and registering a channel, are
// safe from any thread: made on the bound thread they apply at once; made anywhere else, and
// by every thread while none is bound (before the first select, between leader/followers
// turns), they are queued and applied by the next select before it waits.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "nioxx/core/thread_affinity.h"
#include "nioxx/reactor/selection_key.h"
#include "nioxx/reactor/selector_backend.h"

namespace nioxx {

class Selector {
 public:
  // Opens the default backend (makeSelectorBackend(): an epoll instance and its wakeup eventfd).
  // Throws std::system_error (e.g. EMFILE).
  Selector();
  // Selects over the given backend (the simulator's, for instance); the selector owns it.
  explicit Selector(std::unique_ptr<SelectorBackend> backend);
  // Java's Selector.open().
  static std::unique_ptr<Selector> open() { return std::make_unique<Selector>(); }
  ~Selector();  // close()
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;

  // Waits until at least one key is ready, wakeup() is called, or the timeout elapses, and adds
  // the ready keys to selectedKeys() (a key already there gets the new ops OR-ed in, as in Java).
  // Returns the number of keys whose ready set was updated. EINTR returns 0.
  // Timeout: negative = forever, 0 = do not block (unlike Java, where 0 means forever).
  // Selecting thread only. Throws std::system_error on an unexpected epoll failure.
  int select() { return select(std::chrono::milliseconds(-1)); }
  int select(std::chrono::milliseconds timeout);
  int selectNow() { return select(std::chrono::milliseconds(0)); }

  // Allocation-free form: waits like select(timeout) and calls action(SelectionKey&) for each
  // ready key, with readyOps() set to what is ready now; selectedKeys() is not touched. A key
  // cancelled (or whose channel closed) during the batch is not visited afterwards. Returns the
  // number of keys visited. Selecting thread only.
  template <class Action>
  requires std::invocable<Action&, SelectionKey&>
  int select(Action&& action, std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

  // Makes the current select return at once, or the next one if none is in progress (Java).
  // Coalesced: only the first wakeup since the last select writes the eventfd. Any thread.
  Selector& wakeup() noexcept;

  // Snapshot of the registered keys (including cancelled keys not yet freed, and registrations
  // queued from other threads that the next select adopts). Selecting thread.
  std::vector<SelectionKey*> keys() const;
  std::size_t keyCount() const noexcept;
  // The selected-key "set": the caller removes what it handled (or clears it), as in Java.
  // Selecting thread.
  std::vector<SelectionKey*>& selectedKeys() noexcept { return selected_; }

  // Cancels every key and closes the epoll/eventfd descriptors. Idempotent. Selecting thread
  // (or any thread once no select can be in progress).
  void close();
  bool isOpen() const noexcept { return backend_ != nullptr; }

  // True on the thread bound as the selecting thread: the one that last selected (until a
  // Reactor unbinds it); false before any select. Any thread.
  bool isSelectorThread() const noexcept { return affinity_.isCurrentThread(); }

 private:
  friend class SelectionKey;
  friend class SelectableChannel;
  friend class Reactor;  // bindLoopThread(): leader/followers turns move the selecting thread

  struct ReadyEvent {
    SelectionKey* key;
    int ops;
  };
  static void prefetchAttachment(const SelectionKey& key) noexcept {
    const auto p = reinterpret_cast<std::uintptr_t>(key.attachment_);
    if (p == 0) return;
    __builtin_prefetch(reinterpret_cast<const void*>(p));
    __builtin_prefetch(reinterpret_cast<const void*>(p + 64));  // the object may end sooner: a hint
  }

  // Runs cancelled/queued work, waits, translates the events into ready_ (valid keys only,
  // with readyOps computed), drains the wakeup fd. Returns the number of entries in ready_.
  int doSelect(std::chrono::milliseconds timeout);
  void processCancelled();
  void applyRemoteChanges();
  void applyInterestChanges();
  void freeKey(SelectionKey* key);

  // Called by SelectableChannel / SelectionKey.
  SelectionKey& registerKey(SelectableChannel& channel, int fd, int ops, int validOps,
                            void* attachment, const void* attachmentType);
  void interestChanged(SelectionKey& key);
  void keyCancelled(SelectionKey& key) noexcept;

  std::unique_ptr<SelectorBackend> backend_;
  ThreadAffinity affinity_;
  std::vector<std::unique_ptr<SelectionKey>> keys_;  // SelectionKey::index_ points here
  std::vector<SelectionKey*> selected_;
  std::vector<ReadyEvent> ready_;
  std::vector<BackendEvent> events_;        // raw wait output, same capacity as ready_
  std::vector<SelectionKey*> dirty_;        // selector thread: keys whose interest changed
  std::vector<SelectionKey*> cancelled_;    // selector thread: keys to free
  std::atomic<bool> wakeupPending_{false};  // coalesces wakeup(): only the first one writes

  // Changes made from other threads, handed over under mutex_.
  mutable std::mutex mutex_;
  std::atomic<bool> remotePending_{false};
  std::vector<std::unique_ptr<SelectionKey>> remoteRegistered_;
  std::vector<SelectionKey*> remoteDirty_;
  std::vector<SelectionKey*> remoteCancelled_;
};

template <class Action>
requires std::invocable<Action&, SelectionKey&>
int Selector::select(Action&& action, std::chrono::milliseconds timeout) {
  const int n = doSelect(timeout);
  int visited = 0;
  for (int i = 0; i < n; ++i) {
    SelectionKey* key = ready_[static_cast<std::size_t>(i)].key;
    // With many connections the next key's handler is usually out of the cache: start fetching
    // its first lines now, while this key's handler does its I/O (keys are freed only at the next
    // select, so reading the next one's attachment here is safe; a prefetch never faults).
    if (i + 1 < n) prefetchAttachment(*ready_[static_cast<std::size_t>(i) + 1].key);
    if (!key->isValid()) continue;  // cancelled or closed earlier in this batch: stale event
    key->ready_ = ready_[static_cast<std::size_t>(i)].ops;
    action(*key);
    ++visited;
  }
  return visited;
}

}  // namespace nioxx
