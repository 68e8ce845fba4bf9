// ReactorGroup: N reactors, one thread each (Doug Lea's "multiple reactors"; muduo's
// EventLoopThreadPool). Connections are spread with next() (round-robin) and stay pinned to
// their reactor, which serialises each channel's handlers without locks.
//
// Thread rule: start()/stop() from a thread outside the group (stop() joins); next(), at(),
// size() from any thread once started.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx {

class ReactorGroup {
 public:
  // Creates n reactors (n >= 1; throws std::invalid_argument otherwise). Threads are named
  // "<name>-<i>".
  explicit ReactorGroup(std::size_t n, std::string name = "nioxx-reactor");
  ~ReactorGroup();  // stop()
  ReactorGroup(const ReactorGroup&) = delete;
  ReactorGroup& operator=(const ReactorGroup&) = delete;

  // Starts one thread per reactor running Reactor::run() and returns once each thread is its
  // reactor's loop thread. Idempotent.
  void start();
  // Stops every reactor and joins the threads. Idempotent. Must not be called from a group
  // thread (it would join itself): throws std::logic_error then.
  void stop();
  bool isRunning() const noexcept { return !threads_.empty(); }

  // Round-robin choice. Any thread.
  Reactor& next() noexcept;
  Reactor& at(std::size_t i) { return *reactors_.at(i); }
  std::size_t size() const noexcept { return reactors_.size(); }

  // The Acceptor -> group hand-off below ReactorServer (Doug Lea's main/sub reactors, with your
  // own EventHandlers): an Acceptor::Factory that moves each accepted channel to the next
  // reactor (round-robin) and calls onLoop(reactor, channel) on that reactor's loop thread,
  // where the channel may be registered.
  //   Acceptor acceptor(mainReactor, address, group.handOff([](Reactor& r, SocketChannel&& ch) {
  //     new EchoConnection(r, std::move(ch));   // registers itself with r
  //   }));
  // onLoop runs on the group's threads, possibly on several at once: state it shares needs a
  // lock. A channel accepted while the group is stopping is closed without a call.
  using OnLoop = std::function<void(Reactor& reactor, SocketChannel&& channel)>;
  Acceptor::Factory handOff(OnLoop onLoop);

 private:
  std::string name_;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace nioxx
