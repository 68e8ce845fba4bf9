// Coroutine glue: the proactive server written as one coroutine per connection (coro/), on the
// same AsyncSocket operations, dispatch strategies and FramedSession as the callback glue
// (proactive_server.cpp), so the replies are byte-identical. Straight-line code: read, let the
// session answer, write what it produced, until it wants to close; then the lingering close.
// One operation in flight per connection at a time (the session's output cap still bounds what
// a client that does not read can make us hold).
//
// Graceful stop: the Scope's stop token cancels each connection's pending read (and the accept);
// the connection then shuts its input, reads what the socket still holds (with no token: that
// read must not be cancelled), answers and flushes it, and closes. Writes never take the token.
//
// Time is read through sys::now(): the steady clock, or the simulation's virtual clock when
// ServerConfig::proactor lends it the scheduler's Proactor (tests/sim). Activity is stamped with
// sys::LoopTime, the turn's time of the loop resuming the coroutine (no clock read per cycle).
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/log.h"
#include "nioxx/core/loop_time.h"
#include "nioxx/core/sys.h"
#include "nioxx/coro/coro.h"
#include "nioxx/server/server.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Arrivals = coro::Stream<IoResult, AsyncSocket>;

// Arrivals a connection's multishot read may hold while its coroutine writes (up to 1 KiB each
// with the server's provided buffers): past that it is cancelled, and TCP holds the client back.
constexpr std::size_t kMaxWaitingArrivals = 16;

// A connection's next operation as one initiation type (coro::socketOp): the replies the session
// produced, else a read into the session (behind a partial frame) or into a buffer taken only
// when data arrives. All of them go through one co_await, so the connection's frame, which lives
// as long as the connection, holds one awaitable and one result instead of one per operation.
struct ConnectionIo {
  enum class Kind : std::uint8_t { write, read_into, read_pool, read_group };
  Kind kind;
  ByteBuffer buffer;  // write: the bytes; read_into: the session's room
  BufferPool* pool = nullptr;
  const BufferGroup* group = nullptr;

  template <class H>
  OperationId operator()(AsyncSocket& s, H&& h, nanoseconds timeout) {
    switch (kind) {
      case Kind::write:
        return s.write(std::move(buffer), NoAct{}, std::forward<H>(h), timeout);
      case Kind::read_into:
        return s.read(std::move(buffer), NoAct{}, std::forward<H>(h), timeout);
      case Kind::read_pool:
        return s.read(*pool, NoAct{}, std::forward<H>(h), timeout);
      case Kind::read_group:
        break;
    }
    return s.read(*group, NoAct{}, std::forward<H>(h), timeout);
  }
};

class CoroutineServer final : public Server {
 public:
  CoroutineServer(const ServerConfig& config, ServiceFactory factory)
      : config_(config), factory_(std::move(factory)) {}
  ~CoroutineServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  ServerStats& stats() noexcept override { return stats_; }
  std::string engine() const override { return proactor_ ? proactor_->engine() : ""; }
  std::size_t readBuffersHeld() const override {
    return readPool_.outstanding() + (readGroup_ ? readGroup_.outstanding() : 0);
  }

 private:
  // A connection in the registry from its first to its last slice: counted, and closed hard if
  // the graceful stop runs out of time.
  class Registered {
   public:
    Registered(CoroutineServer& s, const AsyncSocket& socket) : server_(s) {
      std::lock_guard lock(server_.registryMutex_);
      server_.registry_.emplace(this, socket);
      server_.stats_.connectionOpened();
    }
    ~Registered() {
      {
        std::lock_guard lock(server_.registryMutex_);
        auto it = server_.registry_.find(this);
        it->second.close();
        server_.registry_.erase(it);
      }
      server_.open_.fetch_sub(1, std::memory_order_relaxed);
      server_.stats_.connectionClosed();
    }
    Registered(const Registered&) = delete;
    Registered& operator=(const Registered&) = delete;

   private:
    CoroutineServer& server_;
  };

  coro::Task<void> acceptLoop();
  coro::Task<void> serve(AsyncSocket socket, bool rejected);
  coro::Task<void> lingeringClose(AsyncSocket& socket);
  ConnectionIo nextIo(FramedSession& session);
  nanoseconds idle() const {
    return config_.idleTimeout.count() > 0 ? nanoseconds(config_.idleTimeout) : nanoseconds(0);
  }

  ServerConfig config_;
  ServiceFactory factory_;
  ServerStats stats_;
  // Declared before the proactor: outlives every read (chunks in flight are returned at shutdown).
  BufferPool readPool_{{.chunkSize = 16 * 1024, .maxCached = 64}};
  std::unique_ptr<ServerProactor> proactor_;
  BufferGroup readGroup_;               // io_uring: the kernel picks the buffer (makeReadGroup)
  std::unique_ptr<coro::Scope> scope_;  // every coroutine of the server; before proactor_ dies
  AsyncServerSocket server_;
  std::atomic<bool> stopping_{false};
  std::mutex registryMutex_;
  std::unordered_map<Registered*, AsyncSocket> registry_;
  std::atomic<std::size_t> open_{0};  // accepted and not ended (rejected ones included)
  bool started_ = false;
  bool stopped_ = false;
};

InetSocketAddress CoroutineServer::start() {
  auto address = InetSocketAddress::of(config_.host, config_.port);
  if (!address) throw std::invalid_argument("--host must be a numeric IP address or localhost");
  proactor_ = config_.proactor != nullptr ? borrowServerProactor(*config_.proactor)
                                          : makeServerProactor(config_.threads, config_.dispatch,
                                                               {config_.ioMode, config_.speculative,
                                                                config_.engine, config_.observer});
  readGroup_ = makeReadGroup(*proactor_, config_.providedBufferReads);
  server_ = AsyncServerSocket::open(proactor_->proactor(), address->isIpv6());
  if (config_.reusePort) enableReusePort(server_.fd());
  if (auto ec = server_.bind(*address)) {
    throw std::system_error(ec, "cannot listen on " + address->toString());
  }
  scope_ = std::make_unique<coro::Scope>(proactor_->proactor());
  started_ = true;
  scope_->spawn(acceptLoop());
  return server_.localAddress().value_or(*address);
}

coro::Task<void> CoroutineServer::acceptLoop() {
  for (;;) {
    AcceptResult r = co_await coro::accept(server_);  // cancelled by the scope's stop
    if (stopping_.load(std::memory_order_acquire) || r.aborted()) co_return;
    if (!r.success()) {
      const auto ec = r.error();
      // Out of descriptors: the processor already shed the waiting client (reserve-descriptor
      // trick) and logged it; anything else is worth a line here.
      if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
        ServerStats::add(stats_.shed, 1);
      } else {
        nioxx::log::get("server")->warn("accept failed: {}", ec.message());
      }
      co_await coro::sleep(proactor_->proactor(), milliseconds(10));  // rather than spin
      continue;
    }
    // Counted here, not when its coroutine starts (a posted handler, later): a burst of accepts
    // must see the ones before it.
    const bool rejected = open_.fetch_add(1, std::memory_order_relaxed) >= config_.maxConnections;
    ServerStats::add(rejected ? stats_.rejected : stats_.connections, 1);
    scope_->spawn(serve(r.socket(), rejected));
  }
}

coro::Task<void> CoroutineServer::serve(AsyncSocket socket, bool rejected) {
  Registered registered(*this, socket);  // closes the socket when the coroutine ends
  FramedSession session(factory_(), config_.limits, &stats_, config_.framing);
  const std::stop_token stop = co_await coro::currentStopToken();
  socket.setNoDelay(true);
  if (rejected) session.reject(tooManyConnectionsReason(config_.maxConnections));
  bool shutRd = false;  // the stop was applied: SHUT_RD, then read what is left
  auto lastActive = sys::now();
  // io_uring: one multishot read into the provided buffers while the session wants input, not
  // one receive per arrival (each of those arms a poll on the socket: cycles, and a lock the
  // client's CPU takes too). Cancelled past the output cap; what it delivered meanwhile waits in
  // the stream (copied out of the ring; kMaxWaitingArrivals of them cancel it while a write is
  // pending) and is fed before the next stream starts. After the stop, one-shot reads: they must
  // not take the stop token.
  std::optional<Arrivals> arrivals;

  while (!session.shouldClose()) {
    if (!shutRd && stop.stop_requested()) {
      shutRd = true;
      // "End of input" at the point of the stop: the socket still yields what it holds, then
      // end of stream, so nothing waits for a client that sends nothing.
      socket.shutdownInput();
    }
    if (arrivals && !session.wantsRead()) arrivals->cancel();  // asks once
    const bool writing = session.hasOutput();
    if (!writing && !session.wantsRead()) break;  // nothing to write and nothing more to read
    const auto before = session.requests();
    // A read's timeout is what is left of the idle period since the last activity (a multishot
    // read's then restarts at each arrival); a write's is the whole period, for its progress.
    nanoseconds timeout = idle();
    if (!writing && idle().count() > 0) {
      timeout =
          std::max<nanoseconds>(milliseconds(1), idle() - (sys::LoopTime::now() - lastActive));
    }
    IoResult r;
    if (!writing && (arrivals || (readGroup_ && !shutRd))) {
      if (!arrivals) {
        arrivals.emplace(coro::readEach(socket, readGroup_, timeout, kMaxWaitingArrivals));
      }
      std::optional<IoResult> arrival = co_await arrivals->next();
      if (!arrival) {  // its last result was taken already
        arrivals.reset();
        continue;
      }
      r = std::move(*arrival);
      if (!r.more()) arrivals.reset();
      if (const std::size_t n = r.bytesTransferred(); n > 0) {
        session.feed({r.buffer().array(), n});
        r.buffer() = ByteBuffer();  // back to the ring now
      }
      const auto now = sys::LoopTime::now();
      if (session.requests() != before) lastActive = now;
      if (r.more()) {
        // The stream's idle timeout restarts at every arrival; the connection's counts from
        // its last request: bytes, but no request within the limit, close it here.
        if (idle().count() > 0 && session.requests() == before && now - lastActive >= idle()) {
          ServerStats::add(stats_.idleClosed, 1);
          co_return;
        }
        continue;
      }
    } else {
      // Writes never take the token; reads after the stop must not be cancelled either.
      const std::stop_token token = writing || shutRd ? std::stop_token() : stop;
      const bool fresh = !writing && session.inputEmpty();  // into a buffer of the read's own
      r = co_await coro::socketOp<IoResult>(socket, nextIo(session), "connection I/O")
              .timeout(timeout)
              .stopToken(token);
      const std::size_t n = r.bytesTransferred();
      if (writing) {
        if (n > 0) {
          session.consumeOutput(n);
          lastActive = sys::LoopTime::now();
        }
        if (r.success()) continue;
        if (r.timedOut()) ServerStats::add(stats_.idleClosed, 1);  // the client stopped reading
        co_return;  // reset by peer, closed hard, idle
      }
      if (n > 0 && fresh) {
        session.feed({r.buffer().array(), n});
        r.buffer() = ByteBuffer();  // the buffer goes back to its pool or group now
      } else if (n > 0) {
        session.commitRead(n);
      }
      if (session.requests() != before) lastActive = sys::LoopTime::now();
    }
    if (r.success() || r.aborted()) continue;
    if (r.endOfStream()) {
      session.endOfInput(/*truncatedIsError=*/!shutRd);
      continue;
    }
    if (r.timedOut() && sys::now() - lastActive < idle()) continue;  // writes kept it alive
    if (r.timedOut()) ServerStats::add(stats_.idleClosed, 1);
    co_return;  // reset by peer & co
  }
  if (arrivals) {  // input from here on is discarded; its last result first (see lingeringClose)
    arrivals->cancel();
    while (co_await arrivals->next()) {
    }
    arrivals.reset();
  }
  co_await lingeringClose(socket);
}

ConnectionIo CoroutineServer::nextIo(FramedSession& session) {
  using Kind = ConnectionIo::Kind;
  if (session.hasOutput()) {
    return {Kind::write, session.nextOutputBuffer()};  // stable until consumeOutput()
  }
  if (!session.inputEmpty()) return {Kind::read_into, ByteBuffer::wrap(session.readSpace())};
  if (readGroup_) return {Kind::read_group, {}, nullptr, &readGroup_};
  return {Kind::read_pool, {}, &readPool_};
}

// As in the other glues: FIN now, the descriptor after the peer's FIN (or the linger timeout), so
// unread input cannot turn the close into an RST that would destroy the last replies.
coro::Task<void> CoroutineServer::lingeringClose(AsyncSocket& socket) {
  socket.shutdownOutput();
  const auto deadline = sys::now() + config_.lingerTimeout;
  for (;;) {
    const auto left = std::max<nanoseconds>(milliseconds(1), deadline - sys::now());
    IoResult r;
    if (readGroup_) {
      r = co_await coro::read(socket, readGroup_).timeout(left).stopToken({});
    } else {
      r = co_await coro::read(socket, readPool_).timeout(left).stopToken({});
    }
    if (!r.success() || sys::now() >= deadline) co_return;  // the peer's FIN, error, timeout
  }
}

void CoroutineServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  server_.close();  // the pending accept completes with operation_aborted
  scope_->requestStop();
  // A borrowed Proactor was shut down by its owner (every coroutine has ended, or ends once the
  // sockets below are closed): no grace to wait for, nothing would progress meanwhile.
  const auto grace =
      config_.proactor != nullptr ? nanoseconds(0) : nanoseconds(config_.shutdownGrace);
  if (!scope_->joinFor(grace)) {
    std::lock_guard lock(registryMutex_);
    nioxx::log::get("server")->warn("graceful stop timed out: closing {} connections",
                                    registry_.size());
    for (auto& [registered, socket] : registry_)
      socket.close();  // their operations complete with operation_aborted
  }
  try {
    scope_->join();
  } catch (const std::exception& e) {
    nioxx::log::get("server")->error("a connection ended with an exception: {}", e.what());
  }
  scope_.reset();
  proactor_->shutdown();
}

}  // namespace

std::unique_ptr<Server> makeCoroutineServer(const ServerConfig& config, ServiceFactory factory) {
  return std::make_unique<CoroutineServer>(config, std::move(factory));
}

}  // namespace nioxx::server
