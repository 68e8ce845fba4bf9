// Acceptor: Schmidt's Acceptor / Doug Lea's Acceptor. Listens on an address, accepts every
// pending connection per readiness event (up to Options::maxAcceptsPerEvent, then yields to the
// other handlers) and hands each new non-blocking SocketChannel to a user factory.
//
// Descriptor exhaustion (EMFILE/ENFILE) would make a level-triggered accept spin at 100% CPU.
// The Acceptor keeps one reserve descriptor: on exhaustion it closes the reserve, accepts and
// immediately closes the connection (shedding it, so the client sees a close rather than a
// hang), reopens the reserve, logs a rate-limited warning and pauses accept interest for
// Options::exhaustionPause (a timer), while existing connections keep being served.
//
// Thread rule: construct, use and destroy on the reactor's loop thread (or before it runs).
// The factory runs on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "nioxx/core/inet_socket_address.h"
#include "nioxx/reactor/reactor.h"
#include "nioxx/reactor/server_socket_channel.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx {

class Acceptor : public EventHandler {
 public:
  struct Options {
    int backlog = 1024;
    bool reusePort = false;  // SO_REUSEPORT: N acceptors (one per reactor) on one port
    int maxAcceptsPerEvent = 64;
    std::chrono::milliseconds exhaustionPause{100};  // accept interest off after EMFILE/ENFILE
    // Called on the loop thread with the number of connections just shed (metrics); optional.
    std::function<void(std::uint64_t)> onShed;
  };
  using Factory = std::function<void(SocketChannel&&)>;

  // Opens, binds (SO_REUSEADDR always; port 0 picks a free port) and registers for OP_ACCEPT.
  // Throws std::system_error if the address cannot be bound.
  Acceptor(Reactor& reactor, const InetSocketAddress& address, Factory factory);
  Acceptor(Reactor& reactor, const InetSocketAddress& address, Factory factory, Options options);
  ~Acceptor() override;  // closes the listening socket; loop thread
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // The bound address (with the real port when 0 was asked). Any thread after construction.
  const InetSocketAddress& localAddress() const noexcept { return localAddress_; }

  // Stops listening (closes the socket). Idempotent. Loop thread.
  void close() noexcept;

  // Counters (loop thread).
  std::uint64_t acceptedCount() const noexcept { return accepted_; }
  std::uint64_t shedCount() const noexcept { return shed_; }  // dropped on EMFILE/ENFILE

  void handleEvent(SelectionKey& key) override;

 private:
  void onExhausted(const std::error_code& ec);
  void reopenReserve() noexcept;

  Reactor& reactor_;
  Factory factory_;
  Options options_;
  ServerSocketChannel server_;
  InetSocketAddress localAddress_;
  SelectionKey* key_ = nullptr;
  int reserveFd_ = -1;
  TimerId resumeTimer_{};
  std::chrono::steady_clock::time_point lastWarning_{};
  std::uint64_t suppressedWarnings_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t shed_ = 0;
};

}  // namespace nioxx
