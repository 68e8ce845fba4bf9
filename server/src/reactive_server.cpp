// Reactive glue: one EventHandler per connection, pinned to one Reactor of a ReactorGroup.
// The handler only moves bytes between its SocketChannel and its FramedSession and keeps the
// key's interest set in step with what the session wants (read unless held back, write while
// replies wait).
//
// Time (idle timeouts, linger) is the loop's Reactor::now(), read through sys::now() once per
// iteration: the steady clock, or the simulation's virtual clock when ServerConfig::reactors
// lends it the scheduler's loops (tests/sim).
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <system_error>
#include <thread>
#include <vector>

#include "nioxx/core/log.h"
#include "nioxx/core/sys.h"
#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/reactor_group.h"
#include "nioxx/server/server.h"

namespace nioxx::server {
namespace {

using Clock = std::chrono::steady_clock;
// A connection quiet this long gives its buffers back at the next sweep.
constexpr auto kQuietBeforeRelease = std::chrono::milliseconds(200);

// Runs fn on r's loop thread and waits for it.
void runOn(Reactor& r, const std::function<void()>& fn) {
  std::promise<void> done;
  r.post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

class ReactiveServer;
class ReactiveConnection;

// Per-loop state, touched only on that loop's thread. The loop owns its connections through an
// intrusive list (no map node per connection: idle memory is the point of issue 7).
struct Loop {
  ReactiveServer* server = nullptr;
  Reactor* reactor = nullptr;
  ReactiveConnection* head = nullptr;
  TimerId sweep{};  // the pending sweep timer
  bool stopping = false;
  bool closed = false;  // borrowed loops after stop(): a hand-off still queued is dropped

  void adopt(std::unique_ptr<ReactiveConnection> c) noexcept;
  void destroy(ReactiveConnection* c) noexcept;  // unlinks and deletes
  void destroyAll() noexcept;
  // Calls fn(c) for every connection; fn may destroy c (and only c).
  template <class Fn>
  void forEach(Fn fn) {
    for (ReactiveConnection* c = head; c != nullptr;) {
      ReactiveConnection* next = nextOf(c);
      fn(c);
      c = next;
    }
  }
  static ReactiveConnection* nextOf(ReactiveConnection* c) noexcept;
};

class ReactiveConnection final : public EventHandler {
 public:
  ReactiveConnection(ReactiveServer& server, Loop& loop, SocketChannel channel);
  ~ReactiveConnection() override;

  void open(bool rejected);
  void beginShutdown();
  // Closes idle or over-lingering connections; returns true if it destroyed itself.
  bool sweep(Clock::time_point now);
  void handleEvent(SelectionKey& key) override;

 private:
  // Moves bytes until nothing more can move, then closes or re-arms. May destroy this.
  void pump(bool readReady);
  struct ReadOutcome {
    bool progress = false;  // bytes were read (or EOF seen)
    bool more = false;      // the socket may hold more: read again once the session wants to
    bool active = false;    // a request was completed (the idle clock restarts)
  };
  ReadOutcome readPhase(bool readReady);  // sets dead_ on a connection error
  bool writePhase();
  void discardInput();  // lingering: read and drop until EOF
  void destroy();

  Loop& loop_;
  SocketChannel channel_;
  SelectionKey* key_ = nullptr;
  FramedSession session_;
  Clock::time_point lastActive_ = sys::now();
  Clock::time_point lingerDeadline_{};
  bool shutdown_ = false;
  bool lingering_ = false;
  bool dead_ = false;
  // The server is reached through the loop: one pointer less per connection (issue 7).
  ReactiveServer& server() const noexcept { return *loop_.server; }
  ReactiveConnection* prev_ = nullptr;  // Loop's intrusive list
  ReactiveConnection* next_ = nullptr;
  friend struct Loop;
};

void Loop::adopt(std::unique_ptr<ReactiveConnection> c) noexcept {
  ReactiveConnection* raw = c.release();
  raw->next_ = head;
  if (head != nullptr) head->prev_ = raw;
  head = raw;
}

void Loop::destroy(ReactiveConnection* c) noexcept {
  if (c->prev_ != nullptr) c->prev_->next_ = c->next_;
  if (c->next_ != nullptr) c->next_->prev_ = c->prev_;
  if (head == c) head = c->next_;
  delete c;
}

void Loop::destroyAll() noexcept {
  while (head != nullptr)
    destroy(head);
}

ReactiveConnection* Loop::nextOf(ReactiveConnection* c) noexcept {
  return c->next_;
}

class ReactiveServer final : public Server {
 public:
  ReactiveServer(const ServerConfig& config, ServiceFactory factory)
      : config_(config),
        factory_(std::move(factory)),
        ownGroup_(config.reactors != nullptr
                      ? nullptr
                      : std::make_unique<ReactorGroup>(config.threads, "server-loop")),
        group_(config.reactors != nullptr ? *config.reactors : *ownGroup_),
        loops_(group_.size()) {
    for (std::size_t i = 0; i < loops_.size(); ++i) {
      loops_[i].reactor = &group_.at(i);
      loops_[i].server = this;
    }
  }
  ~ReactiveServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  ServerStats& stats() noexcept override { return stats_; }

  const ServerConfig& config() const noexcept { return config_; }
  ServiceFactory& factory() noexcept { return factory_; }
  std::atomic<std::size_t>& live() noexcept { return live_; }

 private:
  void onAccept(SocketChannel&& channel);
  void scheduleSweep(Loop& loop);
  void stopBorrowed();

  ServerConfig config_;
  ServiceFactory factory_;
  ServerStats stats_;
  std::unique_ptr<ReactorGroup> ownGroup_;  // unless ServerConfig::reactors lends one
  ReactorGroup& group_;
  std::vector<Loop> loops_;
  std::unique_ptr<Acceptor> acceptor_;
  std::atomic<std::size_t> live_{0};  // connection objects alive (including rejected ones)
  std::atomic<std::size_t> nextLoop_{0};
  bool started_ = false;
  bool stopped_ = false;
};

// ---- ReactiveConnection ----

ReactiveConnection::ReactiveConnection(ReactiveServer& server, Loop& loop, SocketChannel channel)
    : loop_(loop),
      channel_(std::move(channel)),
      session_(server.factory()(), server.config().limits, &server.stats(),
               server.config().framing) {
  server.live().fetch_add(1, std::memory_order_relaxed);
  server.stats().connectionOpened();
}

ReactiveConnection::~ReactiveConnection() {
  channel_.close();
  server().live().fetch_sub(1, std::memory_order_relaxed);
  server().stats().connectionClosed();
}

void ReactiveConnection::open(bool rejected) {
  key_ = &loop_.reactor->registerHandler(channel_, 0, *this);
  if (rejected) session_.reject(tooManyConnectionsReason(server().config().maxConnections));
  if (loop_.stopping) shutdown_ = true;
  pump(true);
}

void ReactiveConnection::beginShutdown() {
  shutdown_ = true;
  // "End of input" at the point of the stop: after SHUT_RD the socket yields what it already
  // holds, then end of stream.
  std::error_code ec;
  channel_.shutdownInput(ec);
  pump(true);
}

void ReactiveConnection::handleEvent(SelectionKey& key) {
  if (lingering_) {
    discardInput();
    return;
  }
  pump(key.isReadable());
}

void ReactiveConnection::pump(bool readReady) {
  // Each round reads what the session accepts and writes what it produced; writing can release
  // the output cap and let the session decode input it already holds, hence the loop.
  bool active = false;  // a request or written bytes: lastActive_ is set once, after the rounds
  for (int round = 0; round < 64; ++round) {
    const ReadOutcome read = readPhase(readReady);
    if (dead_) return destroy();
    const bool wrote = writePhase();
    if (dead_) return destroy();
    active = active || read.active || wrote;
    // Read again only if the session, not the socket, stopped the reads: a short read means
    // drained, and one more read would just return EAGAIN (a wasted system call per event).
    readReady = read.more;
    if (!readReady || (!read.progress && !wrote)) break;
  }
  if (active) lastActive_ = loop_.reactor->now();
  if (session_.shouldClose()) {
    // Lingering close: our FIN now, the descriptor once the peer's FIN arrives (or the linger
    // timeout): closing with unread input would send an RST that can destroy our last replies.
    std::error_code ec;
    channel_.shutdownOutput(ec);
    lingering_ = true;
    lingerDeadline_ = loop_.reactor->now() + server().config().lingerTimeout;
    key_->interestOps(SelectionKey::OP_READ);
    discardInput();
    return;
  }
  key_->interestOps((session_.wantsRead() ? SelectionKey::OP_READ : 0) |
                    (session_.hasOutput() ? SelectionKey::OP_WRITE : 0));
}

// One per loop thread: while a session holds no partial frame, input is read here and answered
// in place, so an idle connection owns no input buffer at all (and complete frames are never
// copied). 64 KiB takes a whole pipelined burst in one read.
std::span<std::uint8_t> loopScratch() {
  thread_local std::vector<std::uint8_t> scratch(64 * 1024);
  return scratch;
}

ReactiveConnection::ReadOutcome ReactiveConnection::readPhase(bool readReady) {
  ReadOutcome out;
  // During a graceful stop the socket is read to its end (SHUT_RD) even without an event.
  while (session_.wantsRead() && (readReady || shutdown_)) {
    const bool fed = session_.inputEmpty();
    const auto space = fed ? loopScratch() : session_.readSpace();
    const ssize_t n = channel_.readSome(space.data(), space.size());
    if (n > 0) {
      const auto before = session_.requests();
      if (fed) {
        session_.feed(space.first(static_cast<std::size_t>(n)));
      } else {
        session_.commitRead(static_cast<std::size_t>(n));
      }
      if (session_.requests() != before) out.active = true;
      out.progress = true;
      if (static_cast<std::size_t>(n) < space.size() && !shutdown_) return out;  // drained
      continue;
    }
    if (n == 0) {
      session_.endOfInput(/*truncatedIsError=*/!shutdown_);
      return out;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (shutdown_) session_.endOfInput(false);
      return out;
    }
    dead_ = true;  // ECONNRESET & co: nobody left to answer
    return out;
  }
  // Stopped by the session (output cap), not by the socket: there may be more to read once the
  // writes make room.
  out.more = readReady && !session_.closing();
  return out;
}

bool ReactiveConnection::writePhase() {
  bool progress = false;
  while (session_.hasOutput()) {
    const auto out = session_.nextOutput();
    const ssize_t n = channel_.writeSome(out.data(), out.size());
    if (n > 0) {
      session_.consumeOutput(static_cast<std::size_t>(n));
      progress = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    dead_ = true;  // EPIPE / ECONNRESET
    return false;
  }
  return progress;
}

void ReactiveConnection::discardInput() {
  thread_local std::uint8_t scratch[16384];
  for (;;) {
    const ssize_t n = channel_.readSome(scratch, sizeof scratch);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return destroy();  // the peer's FIN (or an error): done
  }
}

bool ReactiveConnection::sweep(Clock::time_point now) {
  if (lingering_) {
    if (now < lingerDeadline_) return false;
  } else {
    // Quiet since the last sweep: give the buffers back (at most one sweep period of delay).
    if (now - lastActive_ >= kQuietBeforeRelease) session_.releaseIdleMemory();
    const auto idle = server().config().idleTimeout;
    if (idle.count() <= 0 || now - lastActive_ < idle) return false;
    ServerStats::add(server().stats().idleClosed, 1);
    nioxx::log::get("server")->debug("closing idle connection fd={}", channel_.fd());
  }
  destroy();
  return true;
}

void ReactiveConnection::destroy() {
  loop_.destroy(this);  // deletes this: nothing may follow
}

// ---- ReactiveServer ----

InetSocketAddress ReactiveServer::start() {
  auto address = InetSocketAddress::of(config_.host, config_.port);
  if (!address) throw std::invalid_argument("--host must be a numeric IP address or localhost");
  Acceptor::Options options;
  options.reusePort = config_.reusePort;
  options.onShed = [this](std::uint64_t n) { ServerStats::add(stats_.shed, n); };
  acceptor_ = std::make_unique<Acceptor>(
      *loops_[0].reactor, *address, [this](SocketChannel&& ch) { onAccept(std::move(ch)); },
      std::move(options));
  for (auto& loop : loops_)
    scheduleSweep(loop);
  if (ownGroup_) group_.start();
  started_ = true;
  return acceptor_->localAddress();
}

void ReactiveServer::onAccept(SocketChannel&& channel) {
  std::error_code ec;
  channel.setTcpNoDelay(true, ec);
  const bool rejected = live_.load(std::memory_order_relaxed) >= config_.maxConnections;
  ServerStats::add(rejected ? stats_.rejected : stats_.connections, 1);
  Loop& loop = loops_[nextLoop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  // The channel travels to its loop in a shared_ptr: a task dropped at stop still closes it.
  auto holder = std::make_shared<SocketChannel>(std::move(channel));
  // Counted now so that a burst of accepts cannot overshoot the limit before the hand-off runs.
  live_.fetch_add(1, std::memory_order_relaxed);
  loop.reactor->post([this, &loop, holder, rejected] {
    live_.fetch_sub(1, std::memory_order_relaxed);
    if (loop.closed) return;  // the holder closes the channel
    auto conn = std::make_unique<ReactiveConnection>(*this, loop, std::move(*holder));
    ReactiveConnection* raw = conn.get();
    loop.adopt(std::move(conn));
    raw->open(rejected);
  });
}

void ReactiveServer::scheduleSweep(Loop& loop) {
  const auto idle = config_.idleTimeout.count() > 0 ? config_.idleTimeout : config_.lingerTimeout;
  const auto period = std::clamp<std::chrono::milliseconds>(
      std::min(idle, config_.lingerTimeout) / 4, std::chrono::milliseconds(20),
      std::chrono::milliseconds(500));
  loop.sweep = loop.reactor->schedule(period, [this, &loop] {
    const auto now = loop.reactor->now();
    loop.forEach([now](ReactiveConnection* c) { c->sweep(now); });
    scheduleSweep(loop);
  });
}

void ReactiveServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (!ownGroup_) return stopBorrowed();
  // The Acceptor lives and dies on loop 0's thread; its destructor closes the listening socket.
  runOn(*loops_[0].reactor, [this] { acceptor_.reset(); });
  for (auto& loop : loops_) {
    loop.reactor->post([&loop] {
      loop.stopping = true;
      loop.forEach([](ReactiveConnection* c) { c->beginShutdown(); });
    });
  }
  const auto deadline = Clock::now() + config_.shutdownGrace;
  while (live_.load(std::memory_order_relaxed) > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (const std::size_t left = live_.load(); left > 0) {
    nioxx::log::get("server")->warn("graceful stop timed out: closing {} connections", left);
  }
  for (auto& loop : loops_)
    runOn(*loop.reactor, [&loop] { loop.destroyAll(); });
  group_.stop();
}

// The owner's loops progress only when it runs them, and it is not running them now: waiting
// would be for ever. So, as their loop thread: stop accepting, answer what the sockets already
// hold (as far as one pass gets), close everything.
void ReactiveServer::stopBorrowed() {
  acceptor_.reset();
  for (auto& loop : loops_) {
    loop.reactor->cancelTimer(loop.sweep);
    loop.stopping = true;
    loop.closed = true;
    loop.forEach([](ReactiveConnection* c) { c->beginShutdown(); });
    loop.destroyAll();
  }
}

}  // namespace

std::string tooManyConnectionsReason(std::size_t limit) {
  return "server busy: too many connections (limit " + std::to_string(limit) + "), try again later";
}

void enableReusePort(int fd) {
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
  }
}

std::unique_ptr<Server> makeReactiveServer(const ServerConfig& config, ServiceFactory factory) {
  return std::make_unique<ReactiveServer>(config, std::move(factory));
}

}  // namespace nioxx::server
