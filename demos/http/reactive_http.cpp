// Reactive glue for the HTTP server: one EventHandler per connection, pinned to one Reactor of a
// ReactorGroup (Acceptor on loop 0). When the socket is writable the handler sends the front
// response's head (MSG_MORE when file bytes follow, so head and body share packets) and then the
// file with sendfile(2): file bytes never pass through user space and a large file is never held
// in memory. Timeouts (408, keep-alive idle, linger) are checked by a periodic sweep per loop.
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <thread>
#include <vector>

#include "http/http_server.h"
#include "nioxx/core/log.h"
#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/reactor_group.h"

namespace nioxx::http {
namespace {

using Clock = std::chrono::steady_clock;

void runOn(Reactor& r, const std::function<void()>& fn) {
  std::promise<void> done;
  r.post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

class ReactiveHttpServer;
class Connection;

// Per-loop state, touched only on that loop's thread.
struct Loop {
  ReactiveHttpServer* server = nullptr;
  Reactor* reactor = nullptr;
  std::list<std::unique_ptr<Connection>> connections;
  bool stopping = false;
};

class Connection final : public EventHandler {
 public:
  Connection(ReactiveHttpServer& server, Loop& loop, SocketChannel channel);
  ~Connection() override;

  // Starts serving; `self` is this connection's place in its loop's list. May destroy this.
  void open(std::list<std::unique_ptr<Connection>>::iterator self, bool rejected);
  void beginShutdown();               // may destroy this
  void sweep(Clock::time_point now);  // applies the timeouts; may destroy this
  void handleEvent(SelectionKey& key) override;

 private:
  void pump(bool readReady);
  bool readPhase(bool readReady);  // true if bytes (or EOF) arrived
  bool writePhase();               // true if bytes went out
  void discardInput();
  void destroy();  // deletes this: nothing may follow

  ReactiveHttpServer& server_;
  Loop& loop_;
  SocketChannel channel_;
  SelectionKey* key_ = nullptr;
  std::list<std::unique_ptr<Connection>>::iterator self_;
  HttpSession session_;
  std::size_t headSent_ = 0;  // of the front response's head
  Clock::time_point lastActive_ = Clock::now();
  Clock::time_point requestStart_ = Clock::now();
  Clock::time_point lingerDeadline_{};
  bool shutdown_ = false;
  bool lingering_ = false;
  bool dead_ = false;
};

class ReactiveHttpServer final : public HttpServer {
 public:
  explicit ReactiveHttpServer(const HttpServerConfig& config)
      : config_(config),
        root_(config.root),
        group_(config.threads, "http-reactor"),
        loops_(group_.size()) {
    for (std::size_t i = 0; i < loops_.size(); ++i) {
      loops_[i].reactor = &group_.at(i);
      loops_[i].server = this;
    }
  }
  ~ReactiveHttpServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  HttpStats stats() const override {
    return {connections_.load(std::memory_order_relaxed),
            requests_.load(std::memory_order_relaxed)};
  }

  const HttpServerConfig& config() const noexcept { return config_; }
  const DocumentRoot& root() const noexcept { return root_; }
  std::atomic<std::size_t>& live() noexcept { return live_; }
  void countRequests(std::size_t n) noexcept { requests_.fetch_add(n, std::memory_order_relaxed); }

 private:
  void onAccept(SocketChannel&& channel);
  void scheduleSweep(Loop& loop);

  HttpServerConfig config_;
  DocumentRoot root_;
  ReactorGroup group_;
  std::vector<Loop> loops_;
  std::unique_ptr<Acceptor> acceptor_;
  std::atomic<std::size_t> live_{0};
  std::atomic<std::size_t> nextLoop_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  bool started_ = false;
  bool stopped_ = false;
};

// ---- Connection ----

Connection::Connection(ReactiveHttpServer& server, Loop& loop, SocketChannel channel)
    : server_(server),
      loop_(loop),
      channel_(std::move(channel)),
      session_(server.root(), server.config().limits) {
  server_.live().fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  server_.countRequests(session_.requests());
  channel_.close();
  server_.live().fetch_sub(1, std::memory_order_relaxed);
}

void Connection::open(std::list<std::unique_ptr<Connection>>::iterator self, bool rejected) {
  self_ = self;
  key_ = &loop_.reactor->registerHandler(channel_, 0, *this);
  if (rejected) {
    // Over --max-connections: one complete answer (a fresh socket's buffer takes it), then close.
    const Response busy = errorResponse(503, true);
    const ssize_t n = channel_.writeSome(busy.head.data(), busy.head.size());
    (void)n;
    session_.endOfInput();  // nothing of this connection is parsed
    return pump(false);     // finished: the lingering close, so the 503 is not lost to an RST
  }
  if (loop_.stopping) return beginShutdown();
  pump(true);
}

void Connection::beginShutdown() {
  if (lingering_) return;
  shutdown_ = true;
  std::error_code ec;
  channel_.shutdownInput(ec);  // what the socket holds is still read, then end of stream
  pump(true);
}

void Connection::handleEvent(SelectionKey& key) {
  if (lingering_) return discardInput();
  pump(key.isReadable());
}

void Connection::pump(bool readReady) {
  for (int round = 0; round < 64 && !dead_; ++round) {
    const bool read = readPhase(readReady);
    if (dead_) break;
    const bool wrote = writePhase();
    readReady = read && session_.wantsRead();
    if (!read && !wrote) break;
  }
  if (dead_) return destroy();
  if (session_.finished()) {
    // Lingering close: our FIN now, the descriptor once the peer's FIN arrives (or the linger
    // timeout): closing with unread input would send an RST that can destroy our last answer.
    std::error_code ec;
    channel_.shutdownOutput(ec);
    lingering_ = true;
    lingerDeadline_ = Clock::now() + server_.config().lingerTimeout;
    key_->interestOps(SelectionKey::OP_READ);
    return discardInput();
  }
  key_->interestOps((session_.wantsRead() ? SelectionKey::OP_READ : 0) |
                    (session_.hasResponse() ? SelectionKey::OP_WRITE : 0));
}

bool Connection::readPhase(bool readReady) {
  thread_local std::vector<char> scratch(64 * 1024);
  bool progress = false;
  while (session_.wantsRead() && (readReady || shutdown_)) {
    const ssize_t n = channel_.readSome(scratch.data(), scratch.size());
    if (n > 0) {
      if (!session_.midRequest() && !session_.hasResponse()) requestStart_ = Clock::now();
      session_.feed({scratch.data(), static_cast<std::size_t>(n)});
      lastActive_ = Clock::now();
      progress = true;
      if (static_cast<std::size_t>(n) < scratch.size() && !shutdown_) break;  // drained
      continue;
    }
    if (n == 0) {
      session_.endOfInput();
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (shutdown_) session_.endOfInput();
      break;
    }
    dead_ = true;  // ECONNRESET & co
    break;
  }
  return progress;
}

bool Connection::writePhase() {
  bool progress = false;
  while (session_.hasResponse()) {
    Response& r = session_.front();
    while (headSent_ < r.head.size()) {
      const int flags = MSG_NOSIGNAL | (r.hasFile() ? MSG_MORE : 0);
      const ssize_t n =
          ::send(channel_.fd(), r.head.data() + headSent_, r.head.size() - headSent_, flags);
      if (n > 0) {
        headSent_ += static_cast<std::size_t>(n);
        progress = true;
        lastActive_ = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return progress;
      dead_ = true;
      return progress;
    }
    while (r.hasFile()) {
      const ssize_t n = ::sendfile(channel_.fd(), r.file.file.fd(), &r.offset,
                                   static_cast<std::size_t>(r.length));
      if (n > 0) {
        r.length -= n;
        progress = true;
        lastActive_ = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return progress;
      // 0: the file shrank under us; the promised length can no longer be kept. Anything else
      // is a connection error. Either way the response cannot be completed: close.
      if (n == 0) nioxx::log::get("http")->warn("{} shrank while being sent", r.file.path);
      dead_ = true;
      return progress;
    }
    headSent_ = 0;
    session_.pop();
  }
  return progress;
}

void Connection::discardInput() {
  thread_local char scratch[16384];
  for (;;) {
    const ssize_t n = channel_.readSome(scratch, sizeof scratch);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return destroy();  // the peer's FIN (or an error): done
  }
}

void Connection::sweep(Clock::time_point now) {
  const auto& config = server_.config();
  if (lingering_) {
    if (now >= lingerDeadline_) destroy();
    return;
  }
  if (session_.midRequest() && !session_.hasResponse() && config.headerTimeout.count() > 0 &&
      now - requestStart_ >= config.headerTimeout) {
    session_.headerTimeout();  // 408, then close
    return pump(false);
  }
  const auto idle = config.idleTimeout;
  if (idle.count() > 0 && now - lastActive_ >= idle) destroy();
}

void Connection::destroy() {
  loop_.connections.erase(self_);
}

// ---- ReactiveHttpServer ----

InetSocketAddress ReactiveHttpServer::start() {
  auto address = InetSocketAddress::of(config_.host, config_.port);
  if (!address) throw std::invalid_argument("--host must be a numeric IP address or localhost");
  acceptor_ = std::make_unique<Acceptor>(*loops_[0].reactor, *address,
                                         [this](SocketChannel&& ch) { onAccept(std::move(ch)); });
  for (auto& loop : loops_)
    scheduleSweep(loop);
  group_.start();
  started_ = true;
  return acceptor_->localAddress();
}

void ReactiveHttpServer::onAccept(SocketChannel&& channel) {
  std::error_code ec;
  channel.setTcpNoDelay(true, ec);
  const bool rejected = live_.load(std::memory_order_relaxed) >= config_.maxConnections;
  connections_.fetch_add(1, std::memory_order_relaxed);
  Loop& loop = loops_[nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  auto holder = std::make_shared<SocketChannel>(std::move(channel));
  live_.fetch_add(1, std::memory_order_relaxed);  // counted now: a burst cannot overshoot
  loop.reactor->post([this, &loop, holder, rejected] {
    live_.fetch_sub(1, std::memory_order_relaxed);
    loop.connections.push_front(std::make_unique<Connection>(*this, loop, std::move(*holder)));
    loop.connections.front()->open(loop.connections.begin(), rejected);
  });
}

void ReactiveHttpServer::scheduleSweep(Loop& loop) {
  loop.reactor->schedule(std::chrono::milliseconds(100), [this, &loop] {
    const auto now = Clock::now();
    // sweep() may destroy its own connection, never another one.
    for (auto it = loop.connections.begin(); it != loop.connections.end();) {
      Connection* c = (it++)->get();
      c->sweep(now);
    }
    scheduleSweep(loop);
  });
}

void ReactiveHttpServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  runOn(*loops_[0].reactor, [this] { acceptor_.reset(); });
  for (auto& loop : loops_) {
    loop.reactor->post([&loop] {
      loop.stopping = true;
      for (auto it = loop.connections.begin(); it != loop.connections.end();) {
        Connection* c = (it++)->get();
        c->beginShutdown();
      }
    });
  }
  const auto deadline = Clock::now() + config_.shutdownGrace;
  while (live_.load(std::memory_order_relaxed) > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (const std::size_t left = live_.load(); left > 0) {
    nioxx::log::get("http")->warn("graceful stop timed out: closing {} connections", left);
  }
  for (auto& loop : loops_)
    runOn(*loop.reactor, [&loop] { loop.connections.clear(); });
  group_.stop();
}

}  // namespace

std::unique_ptr<HttpServer> makeReactiveHttpServer(const HttpServerConfig& config) {
  return std::make_unique<ReactiveHttpServer>(config);
}

}  // namespace nioxx::http
