// Coroutine glue for the HTTP server: the proactive server written as one coroutine per
// connection (coro/), on the same AsyncSocket operations and HttpSession. Straight-line code:
// read, let the session plan the responses, send each (a small file with its head in one
// writeAll; otherwise the head with writeAll, the file range with transmitFile, corked), until it
// wants to close; then the lingering close. One operation in flight per connection at a time, so
// no lock: the coroutine is the connection's only actor.
//
// Graceful stop: the Scope's stop token cancels each connection's pending read (and the accept);
// the connection then shuts its input, reads what the socket still holds (with no token),
// answers it and closes. Writes and transmissions never take the token.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "http/http_server.h"
#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/log.h"
#include "nioxx/coro/coro.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class CoroutineHttpServer final : public HttpServer {
 public:
  explicit CoroutineHttpServer(const HttpServerConfig& config)
      : config_(config), root_(config.root) {}
  ~CoroutineHttpServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  HttpStats stats() const override {
    return {connections_.load(std::memory_order_relaxed),
            requests_.load(std::memory_order_relaxed)};
  }
  std::string engine() const override { return proactor_ ? proactor_->engine() : ""; }

 private:
  // A connection in the registry for its coroutine's lifetime: closed hard if the graceful stop
  // runs out of time.
  class Registered {
   public:
    Registered(CoroutineHttpServer& s, const AsyncSocket& socket) : server_(s) {
      std::lock_guard lock(server_.registryMutex_);
      server_.registry_.emplace(this, socket);
    }
    ~Registered() {
      std::lock_guard lock(server_.registryMutex_);
      auto it = server_.registry_.find(this);
      it->second.close();
      server_.registry_.erase(it);
    }
    Registered(const Registered&) = delete;
    Registered& operator=(const Registered&) = delete;

   private:
    CoroutineHttpServer& server_;
  };

  coro::Task<void> acceptLoop();
  coro::Task<void> serve(AsyncSocket socket, bool rejected);
  // Sends session.front() completely; false if the connection must end (error, timeout).
  coro::Task<bool> send(AsyncSocket& socket, Response& response);
  coro::Task<void> lingeringClose(AsyncSocket& socket);
  nanoseconds idle() const {
    return config_.idleTimeout.count() > 0 ? nanoseconds(config_.idleTimeout) : nanoseconds(0);
  }

  HttpServerConfig config_;
  DocumentRoot root_;
  BufferPool readPool_{{.chunkSize = 16 * 1024, .maxCached = 64}};
  std::unique_ptr<server::ServerProactor> proactor_;
  std::unique_ptr<coro::Scope> scope_;  // every coroutine of the server; before proactor_ dies
  AsyncServerSocket server_;
  std::atomic<bool> stopping_{false};
  std::mutex registryMutex_;
  std::unordered_map<Registered*, AsyncSocket> registry_;
  std::atomic<std::size_t> open_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  bool started_ = false;
  bool stopped_ = false;
};

InetSocketAddress CoroutineHttpServer::start() {
  auto address = InetSocketAddress::of(config_.host, config_.port);
  if (!address) throw std::invalid_argument("--host must be a numeric IP address or localhost");
  proactor_ = server::makeServerProactor(config_.threads, config_.dispatch,
                                         server::ProcessorTuning{"inline", true, config_.engine});
  server_ = AsyncServerSocket::open(proactor_->proactor(), address->isIpv6());
  if (auto ec = server_.bind(*address)) {
    throw std::system_error(ec, "cannot listen on " + address->toString());
  }
  scope_ = std::make_unique<coro::Scope>(proactor_->proactor());
  started_ = true;
  scope_->spawn(acceptLoop());
  return server_.localAddress().value_or(*address);
}

coro::Task<void> CoroutineHttpServer::acceptLoop() {
  for (;;) {
    AcceptResult r = co_await coro::accept(server_);  // cancelled by the scope's stop
    if (stopping_.load(std::memory_order_acquire) || r.aborted()) co_return;
    if (!r.success()) {
      const auto ec = r.error();
      if (ec != std::errc::too_many_files_open && ec != std::errc::too_many_files_open_in_system) {
        nioxx::log::get("http")->warn("accept failed: {}", ec.message());
      }
      co_await coro::sleep(proactor_->proactor(), milliseconds(10));  // rather than spin
      continue;
    }
    connections_.fetch_add(1, std::memory_order_relaxed);
    const bool rejected = open_.fetch_add(1, std::memory_order_relaxed) >= config_.maxConnections;
    scope_->spawn(serve(r.socket(), rejected));
  }
}

// The head with a normal write, then the file range with transmitFile in chunks of at most
// --file-chunk bytes, each with the idle timeout (a slow download is timed per chunk). The file is
// the descriptor the resolver opened and checked; the operation duplicates it.
coro::Task<bool> CoroutineHttpServer::send(AsyncSocket& socket, Response& r) {
  // Small: head and body in one write. Larger: the head waits (TCP_CORK) for the file's first
  // bytes instead of leaving as a segment of its own; the cork comes off with the last byte.
  inlineSmallBody(r, config_.inlineFileMax);
  struct Cork {
    int fd;
    explicit Cork(int f) : fd(f) { setCork(fd, true); }
    ~Cork() { setCork(fd, false); }
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;
  };
  std::optional<Cork> cork;
  if (r.hasFile()) cork.emplace(socket.fd());
  IoResult w =
      co_await coro::writeAll(
          socket,
          ByteBuffer::copyOf({reinterpret_cast<const std::uint8_t*>(r.head.data()), r.head.size()}))
          .timeout(idle())
          .stopToken({});
  if (!w.success() || !r.hasFile()) co_return w.success();
  while (r.length > 0) {
    const std::uint64_t asked =
        std::min<std::uint64_t>(config_.fileChunk, static_cast<std::uint64_t>(r.length));
    IoResult t = co_await coro::transmitFile(socket, r.file.file.fd(),
                                             static_cast<std::uint64_t>(r.offset), asked)
                     .timeout(idle())
                     .stopToken({});
    if (!t.success()) {
      if (t.endOfStream()) {
        nioxx::log::get("http")->warn("{} ended before its promised length", r.file.path);
      }
      co_return false;  // the file shrank, a reset, a client that stopped reading
    }
    r.offset += static_cast<off_t>(asked);
    r.length -= static_cast<off_t>(asked);
  }
  co_return true;
}

coro::Task<void> CoroutineHttpServer::serve(AsyncSocket socket, bool rejected) {
  Registered registered(*this, socket);  // closes the socket when the coroutine ends
  HttpSession session(root_, config_.limits);
  struct Count {  // on every way out, including the lingering close's
    CoroutineHttpServer& s;
    HttpSession& session;
    ~Count() {
      s.requests_.fetch_add(session.requests(), std::memory_order_relaxed);
      s.open_.fetch_sub(1, std::memory_order_relaxed);
    }
  } count{*this, session};
  const std::stop_token stop = co_await coro::currentStopToken();
  socket.setNoDelay(true);
  if (rejected) {
    Response busy = errorResponse(503, true);
    if (co_await send(socket, busy)) co_await lingeringClose(socket);
    co_return;
  }
  bool shutRd = false;
  auto lastActive = Clock::now();
  auto requestStart = Clock::now();

  while (!session.finished()) {
    if (!shutRd && stop.stop_requested()) {
      shutRd = true;
      socket.shutdownInput();  // what the socket holds is still read, then end of stream
    }
    if (session.hasResponse()) {
      if (!co_await send(socket, session.front())) co_return;
      session.pop();
      lastActive = Clock::now();
      continue;
    }
    const auto now = Clock::now();
    nanoseconds timeout(0);
    const bool heading = session.midRequest() && config_.headerTimeout.count() > 0;
    if (heading) {
      timeout =
          std::max<nanoseconds>(milliseconds(1), config_.headerTimeout - (now - requestStart));
    } else if (idle().count() > 0) {
      timeout = std::max<nanoseconds>(milliseconds(1), idle() - (now - lastActive));
    }
    IoResult r = co_await coro::read(socket, readPool_)
                     .timeout(timeout)
                     .stopToken(shutRd ? std::stop_token() : stop);
    if (const std::size_t n = r.bytesTransferred(); n > 0) {
      if (!session.midRequest()) requestStart = Clock::now();
      session.feed({reinterpret_cast<const char*>(r.buffer().array()), n});
      r.buffer() = ByteBuffer();  // the chunk goes back to the pool now
      lastActive = Clock::now();
    }
    if (r.success() || r.aborted()) continue;
    if (r.endOfStream()) {
      session.endOfInput();
      continue;
    }
    if (r.timedOut() && heading) {
      if (Clock::now() - requestStart >= config_.headerTimeout) session.headerTimeout();  // 408
      continue;
    }
    if (r.timedOut() && Clock::now() - lastActive < idle()) continue;
    co_return;  // idle keep-alive connection, reset by peer & co
  }
  co_await lingeringClose(socket);
}

// As in the other glues: FIN now, the descriptor after the peer's FIN (or the linger timeout).
coro::Task<void> CoroutineHttpServer::lingeringClose(AsyncSocket& socket) {
  socket.shutdownOutput();
  const auto deadline = Clock::now() + config_.lingerTimeout;
  for (;;) {
    const auto left = std::max<nanoseconds>(milliseconds(1), deadline - Clock::now());
    IoResult r = co_await coro::read(socket, readPool_).timeout(left).stopToken({});
    if (!r.success() || Clock::now() >= deadline) co_return;
  }
}

void CoroutineHttpServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  server_.close();
  scope_->requestStop();
  if (!scope_->joinFor(config_.shutdownGrace)) {
    std::lock_guard lock(registryMutex_);
    nioxx::log::get("http")->warn("graceful stop timed out: closing {} connections",
                                  registry_.size());
    for (auto& [registered, socket] : registry_)
      socket.close();
  }
  try {
    scope_->join();
  } catch (const std::exception& e) {
    nioxx::log::get("http")->error("a connection ended with an exception: {}", e.what());
  }
  scope_.reset();
  proactor_->shutdown();
}

}  // namespace

std::unique_ptr<HttpServer> makeCoroutineHttpServer(const HttpServerConfig& config) {
  return std::make_unique<CoroutineHttpServer>(config);
}

}  // namespace nioxx::http
