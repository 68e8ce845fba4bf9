// HttpServer: the static file server in one of two I/O styles sharing HttpSession:
//   - reactive: an EventHandler per connection on a ReactorGroup; file bytes go out with
//     sendfile(2) when the socket is writable;
//   - proactive: completion handlers on AsyncSocket; a small file is read and written with its
//     head in one write, a larger one goes out with transmitFile after its head (TCP_CORK on
//     meanwhile, so the head shares the file bytes' segments);
//   - coroutine: the proactive style as one coroutine per connection (coro/).
// Both apply the same limits and the same graceful stop (stop accepting, answer what was
// received, close).
//
// Thread rule: start()/stop() from one controlling thread outside the server's threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/http_session.h"
#include "http/path_resolver.h"
#include "nioxx/core/inet_socket_address.h"

namespace nioxx::http {

struct HttpServerConfig {
  std::string mode = "reactor";  // reactor | proactor | coroutine
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port
  std::size_t threads = 2;
  std::string root = ".";
  std::string engine = "emulated";        // proactor: emulated | uring | auto
  std::string dispatch = "call-through";  // proactor: post-reactive | call-through | pool
  SessionLimits limits{};
  std::size_t maxConnections = 10000;              // beyond: 503, then close
  std::chrono::milliseconds headerTimeout{10000};  // first byte to complete head; then 408
  std::chrono::milliseconds idleTimeout{60000};    // keep-alive idle / write stall; 0 = never
  std::chrono::milliseconds lingerTimeout{1000};   // after our FIN, wait this long for the peer's
  std::chrono::milliseconds shutdownGrace{10000};
  // proactor/coroutine: file bytes per transmitFile, each with the idle timeout (progress)
  std::size_t fileChunk = 1024 * 1024;
  // proactor/coroutine: a file range up to this size is read and sent with its head in one write
  // (one body per connection in memory at a time); larger ones go head, then transmitFile, corked
  std::size_t inlineFileMax = 16 * 1024;
};

struct HttpStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts the threads; returns the bound address. Throws std::system_error or
  // std::invalid_argument with the reason.
  virtual InetSocketAddress start() = 0;
  // Graceful stop (see above); blocks until every thread is joined. Idempotent.
  virtual void stop() = 0;
  virtual HttpStats stats() const = 0;
  virtual std::string engine() const { return {}; }
};

std::unique_ptr<HttpServer> makeReactiveHttpServer(const HttpServerConfig& config);
std::unique_ptr<HttpServer> makeProactiveHttpServer(const HttpServerConfig& config);
// The proactive server written as one coroutine per connection (coro/).
std::unique_ptr<HttpServer> makeCoroutineHttpServer(const HttpServerConfig& config);

}  // namespace nioxx::http
