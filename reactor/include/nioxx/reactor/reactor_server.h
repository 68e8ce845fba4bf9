// ReactorServer: wires Acceptor + Reactor(s) + a per-connection ConnectionHandler according to
// one of Doug Lea's concurrency variants ("Scalable IO in Java"), chosen by configuration.
//
//   ReactorServer server({.address = InetSocketAddress::loopback(7070),
//                         .concurrency = Concurrency::main_sub_reactors, .reactors = 2},
//                        [] { return std::make_unique<MyHandler>(); });
//   server.start();   // ... server.stop();
//
// Thread rule: construct/start/stop from one controlling thread outside the server's threads.
// localAddress()/connectionCount() from any thread after start().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "nioxx/core/inet_socket_address.h"
#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/connection.h"

namespace nioxx {

enum class Concurrency {
  single_reactor,     // one reactor thread accepts and serves every connection
  worker_pool,        // one reactor does the I/O; handler callbacks run on a core ThreadPool
  main_sub_reactors,  // a main reactor accepts and hands connections round-robin to N sub-reactors
  reuse_port,         // N reactors, each accepting on its own SO_REUSEPORT socket
};

class ReactorServer {
 public:
  struct Options {
    InetSocketAddress address = InetSocketAddress::loopback(0);
    Concurrency concurrency = Concurrency::single_reactor;
    std::size_t reactors = 2;  // sub-reactors (main_sub_reactors) or listeners (reuse_port)
    std::size_t workers = 2;   // pool threads (worker_pool)
    Acceptor::Options acceptor{};
    std::size_t readBufferSize = 64 * 1024;       // bytes read per read(2)
    std::size_t maxInputBytes = 4 * 1024 * 1024;  // unconsumed input beyond this closes
                                                  // the connection (Error::limit_exceeded)
                                                  // after onInputLimitExceeded's reply
    bool tcpNoDelay = true;
    // Output queue per connection (Connection::isWritable(), onWritabilityChanged): unwritable
    // above high, writable again at or below low; write() refuses bytes beyond the limit.
    std::size_t writeBufferLowWatermark = 32 * 1024;
    std::size_t writeBufferHighWatermark = 64 * 1024;
    std::size_t writeBufferLimit = 4 * 1024 * 1024;
    // Connection::close(): after the last reply, wait up to this long for the peer's end of
    // stream (discarding its input) before closing, so the reply is not reset. 0: at once.
    std::chrono::milliseconds closeLinger{1000};
  };
  using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>()>;

  ReactorServer(Options options, HandlerFactory factory);
  ~ReactorServer();  // stop()
  ReactorServer(const ReactorServer&) = delete;
  ReactorServer& operator=(const ReactorServer&) = delete;

  // Binds (throws std::system_error) and starts the threads. Once.
  void start();
  // Stops accepting, closes every connection (onClose with Error::operation_aborted), stops the
  // reactors and the pool, joins. Idempotent.
  void stop();

  // The bound address (real port when 0 was asked). After start().
  InetSocketAddress localAddress() const;
  std::size_t connectionCount() const noexcept;
  const Options& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nioxx
