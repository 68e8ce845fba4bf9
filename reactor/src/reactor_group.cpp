#include "nioxx/reactor/reactor_group.h"

#include <pthread.h>

#include <cstddef>
#include <latch>
#include <stdexcept>

namespace nioxx {

ReactorGroup::ReactorGroup(std::size_t n, std::string name) : name_(std::move(name)) {
  if (n == 0) throw std::invalid_argument("ReactorGroup needs at least one reactor (n >= 1)");
  reactors_.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    reactors_.push_back(std::make_unique<Reactor>());
}

Acceptor::Factory ReactorGroup::handOff(OnLoop onLoop) {
  auto shared = std::make_shared<OnLoop>(std::move(onLoop));
  return [this, shared](SocketChannel&& channel) {
    Reactor& target = next();
    // Reactor tasks are move-only: the channel itself travels, no shared_ptr box around it.
    target.post([&target, shared, ch = std::move(channel)]() mutable {
      if (target.isStopped()) return;  // ch closes here
      (*shared)(target, std::move(ch));
    });
  };
}

ReactorGroup::~ReactorGroup() {
  stop();
}

void ReactorGroup::start() {
  if (!threads_.empty()) return;
  threads_.reserve(reactors_.size());
  // Returns only once every loop thread is bound, so isInLoopThread() answers truthfully from
  // then on and no caller sees a reactor whose loop thread is about to appear.
  std::latch bound(static_cast<std::ptrdiff_t>(reactors_.size()));
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    Reactor* reactor = reactors_[i].get();
    const std::string threadName = (name_ + "-" + std::to_string(i)).substr(0, 15);
    try {
      threads_.emplace_back([reactor, threadName, &bound] {
        ::pthread_setname_np(::pthread_self(), threadName.c_str());
        reactor->runLoop([&bound] { bound.count_down(); });
      });
    } catch (...) {
      // The threads already started still count down on the latch: wait before it goes away.
      bound.count_down(static_cast<std::ptrdiff_t>(reactors_.size() - i));
      bound.wait();
      throw;
    }
  }
  bound.wait();
}

void ReactorGroup::stop() {
  for (auto& reactor : reactors_) {
    if (reactor->isInLoopThread()) {
      throw std::logic_error("ReactorGroup::stop called from one of its own reactor threads");
    }
  }
  for (auto& reactor : reactors_)
    reactor->stop();
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
}

Reactor& ReactorGroup::next() noexcept {
  return *reactors_[next_.fetch_add(1, std::memory_order_relaxed) % reactors_.size()];
}

}  // namespace nioxx
