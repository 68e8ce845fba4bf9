#include "nioxx/reactor/selector.h"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "detail/epoll_backend.h"
#include "detail/link_mutex.h"
#include "nioxx/core/error.h"
#include "nioxx/core/log.h"
#include "nioxx/reactor/selectable_channel.h"

namespace nioxx {

namespace {

constexpr std::size_t kInitialEvents = 256;
constexpr int kInOps = SelectionKey::OP_READ | SelectionKey::OP_ACCEPT;
constexpr int kOutOps = SelectionKey::OP_WRITE | SelectionKey::OP_CONNECT;

std::uint32_t toEvents(int ops) noexcept {
  std::uint32_t events = 0;
  if ((ops & kInOps) != 0) events |= detail::kEventIn;
  if ((ops & kOutOps) != 0) events |= detail::kEventOut;
  return events;
}

// An error or hang-up makes every interest op ready, so the next read/write/finishConnect
// reports the condition (Java's translation).
int toReadyOps(std::uint32_t events, int interest) noexcept {
  if ((events & (detail::kEventErr | detail::kEventHup)) != 0) return interest;
  int ready = 0;
  if ((events & detail::kEventIn) != 0) ready |= interest & kInOps;
  if ((events & detail::kEventOut) != 0) ready |= interest & kOutOps;
  return ready;
}

}  // namespace

Selector::Selector() : Selector(makeSelectorBackend()) {}

Selector::Selector(std::unique_ptr<SelectorBackend> backend)
    : backend_(std::move(backend)), ready_(kInitialEvents), events_(kInitialEvents) {
  if (!backend_) throw std::invalid_argument("Selector: null backend");
}

Selector::~Selector() {
  close();
}

void Selector::close() {
  if (!backend_) return;
  {
    std::lock_guard lock(mutex_);
    for (auto& key : remoteRegistered_)
      keys_.push_back(std::move(key));
    remoteRegistered_.clear();
    remoteDirty_.clear();
    remoteCancelled_.clear();
    remotePending_.store(false, std::memory_order_relaxed);
  }
  {
    std::lock_guard link(detail::linkMutex());
    for (auto& key : keys_) {
      key->state_.store(SelectionKey::kCancelled, std::memory_order_release);
      if (key->channel_ != nullptr) {
        key->channel_->keys_.remove(key.get());
        if (key->registeredEvents_ != 0 && key->channel_->isOpen()) backend_->remove(key->fd_);
        key->channel_ = nullptr;
      }
    }
  }
  keys_.clear();
  selected_.clear();
  dirty_.clear();
  cancelled_.clear();
  backend_.reset();
}

Selector& Selector::wakeup() noexcept {
  // Only the first wakeup since the last drain writes the eventfd.
  if (!wakeupPending_.exchange(true, std::memory_order_acq_rel) && backend_) backend_->wakeup();
  return *this;
}

std::vector<SelectionKey*> Selector::keys() const {
  std::vector<SelectionKey*> out;
  out.reserve(keys_.size());
  for (const auto& key : keys_)
    out.push_back(key.get());
  if (remotePending_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    for (const auto& key : remoteRegistered_)
      out.push_back(key.get());
  }
  return out;
}

std::size_t Selector::keyCount() const noexcept {
  if (!remotePending_.load(std::memory_order_acquire)) return keys_.size();
  std::lock_guard lock(mutex_);
  return keys_.size() + remoteRegistered_.size();
}

SelectionKey& Selector::registerKey(SelectableChannel& channel, int fd, int ops, int validOps,
                                    void* attachment, const void* attachmentType) {
  if (!backend_)
    throw std::system_error(make_error_code(Error::closed), "register: selector closed");
  std::unique_ptr<SelectionKey> key(new SelectionKey(*this, channel, fd, ops, validOps));
  key->attachment_ = attachment;
  key->attachmentType_ = attachmentType;
  const std::uint32_t events = toEvents(ops);
  if (events != 0) {
    if (const auto ec = backend_->add(fd, events, key.get()))
      throw std::system_error(ec, "epoll_ctl(ADD)");
  }
  key->registeredEvents_ = events;
  SelectionKey& ref = *key;
  // Only the bound selecting thread may touch keys_ directly: while no thread is bound, one may
  // bind and select at any moment (a loop thread starting, the next leader/followers turn).
  if (affinity_.isCurrentThread()) {
    key->state_.store(SelectionKey::kValid, std::memory_order_release);
    key->index_ = keys_.size();
    keys_.push_back(std::move(key));
  } else {
    // Events for a pending key are ignored (level-triggered: they come back once adopted).
    {
      std::lock_guard lock(mutex_);
      remoteRegistered_.push_back(std::move(key));
      remotePending_.store(true, std::memory_order_release);
    }
    wakeup();
  }
  return ref;
}

void Selector::interestChanged(SelectionKey& key) {
  if (affinity_.isCurrentThread()) {
    if (!key.dirtyQueued_) {
      key.dirtyQueued_ = true;
      dirty_.push_back(&key);
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (key.state_.load(std::memory_order_acquire) == SelectionKey::kCancelled) return;
    remoteDirty_.push_back(&key);
    remotePending_.store(true, std::memory_order_release);
  }
  wakeup();
}

void Selector::keyCancelled(SelectionKey& key) noexcept {
  if (!backend_) return;
  if (affinity_.isCurrentThread()) {
    if (key.registeredEvents_ != 0) {
      backend_->remove(key.fd_);  // no further events, even before the key is freed
      key.registeredEvents_ = 0;
    }
    cancelled_.push_back(&key);
    return;
  }
  backend_->remove(key.fd_);  // kernel-side thread-safe; the selector repeats it if needed
  std::lock_guard lock(mutex_);
  remoteCancelled_.push_back(&key);
  remotePending_.store(true, std::memory_order_release);
}

void Selector::applyRemoteChanges() {
  std::lock_guard lock(mutex_);
  remotePending_.store(false, std::memory_order_relaxed);
  for (auto& key : remoteRegistered_) {
    std::uint8_t pending = SelectionKey::kPending;
    key->state_.compare_exchange_strong(pending, SelectionKey::kValid, std::memory_order_acq_rel);
    key->index_ = keys_.size();
    keys_.push_back(std::move(key));
  }
  remoteRegistered_.clear();
  for (SelectionKey* key : remoteDirty_) {
    if (!key->dirtyQueued_) {
      key->dirtyQueued_ = true;
      dirty_.push_back(key);
    }
  }
  remoteDirty_.clear();
  cancelled_.insert(cancelled_.end(), remoteCancelled_.begin(), remoteCancelled_.end());
  remoteCancelled_.clear();
}

void Selector::applyInterestChanges() {
  for (SelectionKey* key : dirty_) {
    key->dirtyQueued_ = false;
    if (key->state_.load(std::memory_order_acquire) != SelectionKey::kValid) continue;
    const std::uint32_t want = toEvents(key->interest_.load(std::memory_order_acquire));
    const std::uint32_t have = key->registeredEvents_;
    if (want == have) continue;  // lazy sync: toggled back within one dispatch costs nothing
    // An empty mask leaves the epoll set entirely: epoll reports ERR/HUP even for mask 0,
    // which level-triggered would repeat forever (Java does the same).
    std::error_code ec;
    if (have == 0) {
      ec = backend_->add(key->fd_, want, key);
    } else if (want == 0) {
      ec = backend_->remove(key->fd_);
    } else {
      ec = backend_->modify(key->fd_, want, key);
    }
    if (ec) {
      log::get("reactor")->debug("epoll_ctl for fd {} failed: {}", key->fd_, ec.message());
      continue;
    }
    key->registeredEvents_ = want;
  }
  dirty_.clear();
}

void Selector::processCancelled() {
  {
    // A remote interestOps() may have queued a key that is now cancelled: drop it before freeing.
    std::lock_guard lock(mutex_);
    std::erase_if(remoteDirty_, [](SelectionKey* k) {
      return k->state_.load(std::memory_order_acquire) == SelectionKey::kCancelled;
    });
  }
  for (SelectionKey* key : cancelled_)
    freeKey(key);
  cancelled_.clear();
}

void Selector::freeKey(SelectionKey* key) {
  {
    std::lock_guard link(detail::linkMutex());
    if (SelectableChannel* channel = key->channel_) {
      channel->keys_.remove(key);
      // A remote cancel raced with an interest change that re-added the descriptor. Unless the
      // channel registered here again since: the descriptor's entry is then the new key's.
      const bool reregistered = std::any_of(
          channel->keys_.begin(), channel->keys_.end(),
          [this](const SelectionKey* k) { return k->selector_ == this && k->isValid(); });
      if (key->registeredEvents_ != 0 && channel->isOpen() && !reregistered) {
        backend_->remove(key->fd_);
      }
      key->channel_ = nullptr;
    }
  }
  if (key->selectedIndex_ != SIZE_MAX) {
    auto it = key->selectedIndex_ < selected_.size() && selected_[key->selectedIndex_] == key
                  ? selected_.begin() + static_cast<std::ptrdiff_t>(key->selectedIndex_)
                  : std::find(selected_.begin(), selected_.end(), key);
    if (it != selected_.end()) selected_.erase(it);
  }
  const std::size_t index = key->index_;
  if (index != keys_.size() - 1) {
    keys_[index] = std::move(keys_.back());
    keys_[index]->index_ = index;
  }
  keys_.pop_back();
}

int Selector::doSelect(std::chrono::milliseconds timeout) {
  if (!backend_) throw std::system_error(make_error_code(Error::closed), "select: selector closed");
  affinity_.bindToCurrentThread();
  if (remotePending_.load(std::memory_order_acquire)) applyRemoteChanges();
  if (!dirty_.empty()) applyInterestChanges();
  if (!cancelled_.empty()) processCancelled();

  const auto ms = timeout.count() < 0
                      ? -1
                      : static_cast<int>(std::min<std::int64_t>(timeout.count(), INT32_MAX));
  const int n = backend_->wait(events_, ms);

  // Translate, dropping events of keys cancelled (or not yet adopted) while we waited.
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const auto& ev = events_[static_cast<std::size_t>(i)];
    if (ev.token == nullptr) {
      // Cleared before the drain, so a wakeup() made after this point writes the eventfd
      // again and reaches the next select. An exchange rather than a store: a wakeup() that
      // still found the flag set (and skipped its write) then happens-before what this thread
      // reads next, so the state its caller published before waking is seen.
      wakeupPending_.exchange(false, std::memory_order_acq_rel);
      backend_->drainWakeup();
      // A wakeup() between the clear and the drain set the flag and wrote the eventfd, and the
      // drain may have consumed that write. Write again: a flag left set over an empty eventfd
      // would make every later wakeup() skip its write, and select could block for good.
      if (wakeupPending_.load(std::memory_order_acquire)) backend_->wakeup();
      continue;
    }
    auto* key = static_cast<SelectionKey*>(ev.token);
    if (key->state_.load(std::memory_order_acquire) != SelectionKey::kValid) continue;
    const int ops = toReadyOps(ev.events, key->interest_.load(std::memory_order_relaxed));
    if (ops == 0) continue;
    ready_[static_cast<std::size_t>(count++)] = {key, ops};
  }
  if (static_cast<std::size_t>(n) == events_.size()) {  // full: more may be ready; grow (rare)
    events_.resize(events_.size() * 2);
    ready_.resize(events_.size());
  }
  return count;
}

int Selector::select(std::chrono::milliseconds timeout) {
  const int n = doSelect(timeout);
  const auto initial = static_cast<std::ptrdiff_t>(selected_.size());  // left by the caller
  int updated = 0;
  for (int i = 0; i < n; ++i) {
    const ReadyEvent& ev = ready_[static_cast<std::size_t>(i)];
    SelectionKey* key = ev.key;
    std::size_t idx = key->selectedIndex_;
    if (initial > 0 && !(idx < selected_.size() && selected_[idx] == key)) {
      // The caller edited the vector: find the key among what it left, if anywhere.
      auto it = std::find(selected_.begin(), selected_.begin() + initial, key);
      idx = it != selected_.begin() + initial ? static_cast<std::size_t>(it - selected_.begin())
                                              : SIZE_MAX;
      key->selectedIndex_ = idx;
    }
    if (idx < selected_.size() && selected_[idx] == key) {
      if ((key->ready_ | ev.ops) == key->ready_) continue;
      key->ready_ |= ev.ops;  // Java: already selected keys accumulate ready ops
    } else {
      key->ready_ = ev.ops;
      key->selectedIndex_ = selected_.size();
      selected_.push_back(key);
    }
    ++updated;
  }
  return updated;
}

}  // namespace nioxx
