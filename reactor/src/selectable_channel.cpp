#include "nioxx/reactor/selectable_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "detail/link_mutex.h"
#include "nioxx/core/error.h"
#include "nioxx/core/sys.h"
#include "nioxx/reactor/selector.h"

namespace nioxx {

namespace detail {
std::mutex& linkMutex() noexcept {
  static std::mutex mutex;
  return mutex;
}
}  // namespace detail

SelectableChannel::~SelectableChannel() {
  close();
}

SelectableChannel::SelectableChannel(SelectableChannel&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), blocking_(other.blocking_) {
  adoptKeysFrom(other);
}

SelectableChannel& SelectableChannel::operator=(SelectableChannel&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    blocking_ = other.blocking_;
    adoptKeysFrom(other);
  }
  return *this;
}

void SelectableChannel::adoptKeysFrom(SelectableChannel& other) noexcept {
  std::lock_guard link(detail::linkMutex());
  keys_.takeFrom(other.keys_);
  for (SelectionKey* key : keys_)
    key->channel_ = this;
}

void SelectableChannel::configureBlocking(bool blocking, std::error_code& ec) noexcept {
  ec.clear();
  const int flags = sys::fcntl(fd_, F_GETFL);
  if (flags < 0 ||
      sys::fcntl(fd_, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK) < 0) {
    ec = lastError();
    return;
  }
  blocking_ = blocking;
}

void SelectableChannel::configureBlocking(bool blocking) {
  std::error_code ec;
  configureBlocking(blocking, ec);
  if (ec) throw std::system_error(ec, "configureBlocking");
}

SelectionKey& SelectableChannel::registerImpl(Selector& selector, int ops, void* attachment,
                                              const void* attachmentType) {
  if (fd_ < 0) {
    throw std::system_error(make_error_code(Error::closed),
                            "register: the channel is closed (Java's ClosedChannelException)");
  }
  if (blocking_) {
    throw std::invalid_argument(
        "register: the channel is in blocking mode; call configureBlocking(false) first "
        "(Java's IllegalBlockingModeException)");
  }
  if ((ops & ~validOps()) != 0) {
    throw std::invalid_argument("register: ops " + std::to_string(ops) +
                                " include operations this channel does not support (validOps " +
                                std::to_string(validOps()) + ")");
  }
  std::unique_lock link(detail::linkMutex());
  for (SelectionKey* key : keys_) {
    if (key->selector_ == &selector && key->isValid()) {
      link.unlock();
      key->interestOps(ops);  // Java: re-registering updates the existing key
      if (attachment != nullptr) {
        key->attachment_ = attachment;
        key->attachmentType_ = attachmentType;
      }
      return *key;
    }
  }
  SelectionKey& key = selector.registerKey(*this, fd_, ops, validOps(), attachment, attachmentType);
  keys_.push_back(&key);
  return key;
}

SelectionKey* SelectableChannel::keyFor(const Selector& selector) const noexcept {
  std::lock_guard link(detail::linkMutex());
  for (SelectionKey* key : keys_) {
    if (key->selector_ == &selector && key->isValid()) return key;
  }
  return nullptr;
}

bool SelectableChannel::isRegistered() const noexcept {
  std::lock_guard link(detail::linkMutex());
  return std::any_of(keys_.begin(), keys_.end(), [](SelectionKey* k) { return k->isValid(); });
}

void SelectableChannel::close() noexcept {
  if (fd_ < 0) return;
  {
    // Held across cancel(): the selector frees a cancelled key only under this mutex, so the
    // keys stay alive while we remove the descriptor from each epoll set.
    std::lock_guard link(detail::linkMutex());
    for (SelectionKey* key : keys_) {
      key->channel_ = nullptr;
      key->cancel();
    }
    keys_.clear();
  }
  sys::close(fd_);
  fd_ = -1;
}

}  // namespace nioxx
