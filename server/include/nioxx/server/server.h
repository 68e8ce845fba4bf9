// Server: a framed request/reply server over nioxx, in one of three I/O styles sharing the
// protocol logic (FrameService + FramedSession):
//   - reactive: an EventHandler per connection on a ReactorGroup (reactor/), Acceptor on loop 0;
//   - proactive: completion handlers on AsyncSocket/AsyncServerSocket (proactor/) over the
//     bridge's EmulatedProcessor, with the chosen DispatchStrategy;
//   - coroutine: the proactive style written as one coroutine per connection (coro/).
//
// All apply the same framing and limits (ServerConfig) and the same graceful stop: stop
// accepting, read what the sockets already hold, answer every complete request, flush, close.
// A connection closes with a lingering close: our FIN once the last reply is queued, the
// descriptor once the peer's FIN arrives (or lingerTimeout), so that unread input cannot turn
// the close into a reset that destroys the last replies (an error reply above all).
//
// Most programs do not make a Server themselves: serverMain() (server_main.h) adds the command
// line, the signals and the operator's options (metrics, trace).
//
// Thread rule: start()/stop() from one controlling thread outside the server's threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "nioxx/core/inet_socket_address.h"
#include "nioxx/proactor/observer.h"
#include "nioxx/server/frame_service.h"
#include "nioxx/server/framed_session.h"
#include "nioxx/server/framing.h"
#include "nioxx/server/server_stats.h"

namespace nioxx {
class Proactor;
class ReactorGroup;
}  // namespace nioxx

namespace nioxx::server {

struct ServerConfig {
  std::string mode = "reactor";  // reactor | proactor | coroutine
  std::string host = "127.0.0.1";
  std::uint16_t port = 7070;                       // 0 = any free port
  std::size_t threads = 2;                         // reactor loops, or proactor I/O threads
  std::string dispatch = "call-through";           // proactor: post-reactive | call-through | pool
  std::string ioMode = "inline";                   // proactor: inline | worker-pool
  bool speculative = true;                         // proactor: try I/O at initiation
  std::string engine = "emulated";                 // proactor: emulated | uring | auto
  Framing framing{};                               // how requests and replies are framed
  SessionLimits limits{};                          // max frame, output cap
  std::size_t maxConnections = 10000;              // beyond: one error reply, then close
  std::chrono::milliseconds idleTimeout{60000};    // 0 = never; no request and no write progress
  std::chrono::milliseconds lingerTimeout{1000};   // after our FIN, wait this long for the peer's
  std::chrono::milliseconds shutdownGrace{10000};  // graceful stop gives up after this
  OperationObserver* observer = nullptr;           // proactor/coroutine: ProactorOptions::observer
  // proactor/coroutine: read into a group of the engine's provided buffers (the proactive glue:
  // one multishot readEach per connection). Unset: on io_uring only, where the kernel picks the
  // buffer; true elsewhere is for tests (the simulation covers that path on its engine).
  std::optional<bool> providedBufferReads;
  // proactor and coroutine modes: run on this Proactor instead of making one (threads, dispatch,
  // ioMode, speculative, engine and observer are then its owner's business). Not owned: its
  // owner runs it (e.g. the deterministic simulation's scheduler, tests/sim) and shuts it down
  // before the server is destroyed (coroutine mode: before stop(), which joins the coroutines);
  // stop() then does not wait for connections (nothing would progress while it slept on the
  // owner's thread): it closes what is left.
  Proactor* proactor = nullptr;
  // reactor mode: run on this group's loops instead of making a group (threads is then its
  // owner's business); loop 0 accepts. Not owned and never started here: its owner runs the
  // loops (e.g. the simulation's scheduler steps them with runOnce()). stop() is then called
  // while no loop runs (on the thread that runs them, or once they are stopped): it closes the
  // listener and every connection itself, without waiting; the loops must not run again
  // afterwards (destroying the group drops what they still hold queued, closing its channels).
  ReactorGroup* reactors = nullptr;
  bool reusePort = false;  // SO_REUSEPORT: several processes share the port (the kernel spreads)
};

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts the threads; returns the bound address (the real port if 0 was asked).
  // Throws std::system_error if the address cannot be bound.
  virtual InetSocketAddress start() = 0;
  // Graceful stop (see above); connections still open after config.shutdownGrace are closed
  // hard. Blocks until every thread is joined. Idempotent.
  virtual void stop() = 0;
  virtual ServerStats& stats() noexcept = 0;
  // The proactor engine actually used (after start()); empty for the reactor.
  virtual std::string engine() const { return {}; }
  // Read buffers held by connections now: pooled chunks taken by reads and provided buffers
  // not yet given back. A connection waiting for input holds none (issue 12's idle memory), so
  // with every connection idle this is 0. The reactive server reads into per-loop memory: 0.
  virtual std::size_t readBuffersHeld() const { return 0; }
};

std::unique_ptr<Server> makeReactiveServer(const ServerConfig& config, ServiceFactory factory);
std::unique_ptr<Server> makeProactiveServer(const ServerConfig& config, ServiceFactory factory);
// The proactive server written with coroutines (coro/): same operations, same dispatch options.
std::unique_ptr<Server> makeCoroutineServer(const ServerConfig& config, ServiceFactory factory);

// SO_REUSEPORT on a listening socket before bind (--reuseport); throws std::system_error.
void enableReusePort(int fd);

// Connection-limit error text shared by both styles.
std::string tooManyConnectionsReason(std::size_t limit);

}  // namespace nioxx::server
