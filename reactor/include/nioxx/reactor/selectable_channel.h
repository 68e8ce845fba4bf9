// SelectableChannel: a file descriptor that can be registered with Selectors (RAII owner).
//
// Error convention for every channel class: a call taking `std::error_code& ec` never throws and
// reports failures through ec (errno in std::system_category(), or nioxx::Error); the same call
// without ec throws std::system_error. Raw calls named after POSIX (readSome, writeSome, writev)
// return the syscall's result and leave errno set, for zero-overhead use by the bridge.
//
// Thread rule: a channel is not synchronised: use it from one thread at a time (normally its
// reactor's loop thread). registerWith() may be called from any thread (Java: the registration
// takes effect at the selector's next select). close() may be called from any thread that owns
// the channel; close it on the selecting thread when you can: a close on another thread races the
// selector's current wait, which may still report the old descriptor (or a reused number).
#pragma once

#include <system_error>
#include <vector>

#include "nioxx/reactor/detail/key_list.h"
#include "nioxx/reactor/selection_key.h"

namespace nioxx {

class Selector;

class SelectableChannel {
 public:
  SelectableChannel(const SelectableChannel&) = delete;
  SelectableChannel& operator=(const SelectableChannel&) = delete;
  virtual ~SelectableChannel();  // close()

  // Ops this kind of channel supports (Java's validOps()).
  virtual int validOps() const noexcept = 0;

  // Switches O_NONBLOCK. Channels are created non-blocking; register only non-blocking channels.
  void configureBlocking(bool blocking, std::error_code& ec) noexcept;
  void configureBlocking(bool blocking);
  bool isBlocking() const noexcept { return blocking_; }

  // Registers with selector (or, if already registered there, replaces the key's interest ops
  // and attachment) and returns the key. The kernel registration happens at once, so an
  // unusable descriptor fails here. Any thread. Throws std::invalid_argument if ops are not in
  // validOps() or the channel is blocking; std::system_error if epoll refuses the descriptor.
  // A new key carries the attachment from the start, so a selecting thread never sees the key
  // without it.
  template <class T = void>
  SelectionKey& registerWith(Selector& selector, int ops, T* attachment = nullptr) {
    return registerImpl(selector, ops, const_cast<void*>(static_cast<const void*>(attachment)),
                        attachment != nullptr ? SelectionKey::typeTag<T>() : nullptr);
  }
  // The valid key registering this channel with selector, or nullptr. Any thread.
  SelectionKey* keyFor(const Selector& selector) const noexcept;
  bool isRegistered() const noexcept;

  // Cancels every key (removing the descriptor from each epoll set before closing it, so no
  // stale event can reach a reused descriptor number), then closes the descriptor. Idempotent.
  // Safe inside this channel's own handler.
  void close() noexcept;
  bool isOpen() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }

 protected:
  SelectableChannel() = default;
  explicit SelectableChannel(int fd) noexcept : fd_(fd) {}
  // Moving re-points the keys at the new object; do not move a channel another thread uses.
  SelectableChannel(SelectableChannel&& other) noexcept;
  SelectableChannel& operator=(SelectableChannel&& other) noexcept;

  int fd_ = -1;
  bool blocking_ = false;

 private:
  friend class Selector;
  SelectionKey& registerImpl(Selector& selector, int ops, void* attachment,
                             const void* attachmentType);
  void adoptKeysFrom(SelectableChannel& other) noexcept;

  detail::KeyList keys_;  // guarded by the process-wide link mutex
};

}  // namespace nioxx
