// Proactive glue: completion handlers on AsyncSocket over the bridge's EmulatedProcessor.
// A connection has at most one read and one write in flight; every read completion hands the
// bytes to the FramedSession, and the replies it produced go out as one write of the session's
// own buffer (OutputBuffer keeps it in place until the write completes: no copy). The output cap
// is the session's: past it, decoding and reading stop until the writes have drained it to half
// (FramedSession::consumeOutput). Timeouts are the operations' own: a read or write that sees no
// progress for --idle-timeout completes timed_out. Activity is stamped with sys::LoopTime (the
// turn's time of the loop running the handler, else sys::now(): the steady clock, or the
// simulation's virtual clock), so a read/write cycle reads no clock of its own.
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/log.h"
#include "nioxx/core/loop_time.h"
#include "nioxx/core/sys.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/proactor/buffer_group.h"
#include "nioxx/proactor/proactor.h"
#include "nioxx/server/server.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class ProactiveServer;

// The ACT of a read: where its bytes land. While the session holds no partial frame the read
// takes a buffer only when data arrives (an idle connection owns no read buffer); else it reads
// straight into the session, behind the partial frame.
enum class ReadInto : std::uint8_t { pool, session };

class ProactiveConnection : public std::enable_shared_from_this<ProactiveConnection> {
 public:
  ProactiveConnection(ProactiveServer& server, AsyncSocket socket);
  ~ProactiveConnection();

  void open(bool rejected);
  void beginShutdown();
  void closeNow();

  // The server's registry: an intrusive list (guarded by the server's registry mutex), so a
  // connection costs two pointers there rather than a hash node (issue 12: memory per idle
  // connection).
  ProactiveConnection* prevRegistered = nullptr;
  ProactiveConnection* nextRegistered = nullptr;

 private:
  // Initiates what the session wants next. Runs in this socket's handlers only.
  void advance();
  // Applies a stop requested by beginShutdown() (handler context).
  void applyShutdown();
  void startRead();
  // With io_uring: one multishot read per connection instead of one read per arrival (the
  // kernel keeps the socket's readiness watch armed between arrivals: ~9% less server CPU per
  // request at 64x1, docs/parts/bench-analysis.md, session 12).
  void startReadEach();
  void onArrival(IoResult& r);
  void stopReadEachIfPaused();
  void flushOutput();
  void startDiscard();
  void onRead(IoResult& r, ReadInto into);
  void onWrite(IoResult& r);
  void onDiscard(IoResult& r);
  void closeFromHandler();  // marks the connection closed and closes the socket (handlers only)
  nanoseconds readTimeout(Clock::time_point now) const;
  // --idle-timeout as an operation's timeout (zero: none).
  nanoseconds idleTimeout() const;

  ProactiveServer& server_;
  AsyncSocket socket_;
  FramedSession session_;
  // The last request or write progress; once lingering_, the linger deadline instead (nothing is
  // read for the session or written then), so a connection carries one time point, not two.
  Clock::time_point lastActive_ = sys::now();
  // The read in flight, for beginShutdown() on the stopping thread (0: none). Stored right after
  // the read is initiated: from a handler of this socket, so the read's own handler cannot run
  // before the store (handlers of one channel never overlap); from open() (the accept handler) it
  // can, and a stale id then only delays this connection's stop to its next completion.
  std::atomic<OperationId> readId_{0};
  // Set by beginShutdown() from the stopping thread; everything else is touched only by this
  // socket's handlers, which the Proactor serialises (so no mutex: see open()).
  std::atomic<bool> shutdown_{false};
  // Bits of one byte, beside shutdown_ (issue 12: with the single time point above, 16 bytes
  // less per connection, one malloc size class).
  bool readInFlight_ : 1 = false;
  // The write in flight borrows the session's output (nextOutput()): one at a time.
  bool writeInFlight_ : 1 = false;
  bool shutRd_ : 1 = false;  // SHUT_RD applied
  bool lingering_ : 1 = false;
  bool closed_ : 1 = false;
  // The read in flight is a readEach (io_uring), and whether its cancel was asked already.
  bool readEach_ : 1 = false;
  bool readEachCancelled_ : 1 = false;
};

class ProactiveServer final : public Server {
 public:
  ProactiveServer(const ServerConfig& config, ServiceFactory factory)
      : config_(config), factory_(std::move(factory)) {}
  ~ProactiveServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  ServerStats& stats() noexcept override { return stats_; }
  std::string engine() const override { return proactor_ ? proactor_->engine() : ""; }

  const ServerConfig& config() const noexcept { return config_; }
  ServiceFactory& factory() noexcept { return factory_; }
  BufferPool& readPool() noexcept { return readPool_; }
  // Set when the engine hands reads their buffer in the kernel (io_uring): see start().
  const BufferGroup& readGroup() const noexcept { return readGroup_; }
  std::size_t readBuffersHeld() const override {
    return readPool_.outstanding() + (readGroup_ ? readGroup_.outstanding() : 0);
  }
  void connectionGone(ProactiveConnection* c) {
    std::lock_guard lock(registryMutex_);
    unregister(c);
  }

 private:
  void acceptNext();
  void onAccept(AcceptResult& r);
  // The registry (registryMutex_ held).
  void enroll(ProactiveConnection* c) noexcept;
  void unregister(ProactiveConnection* c) noexcept;
  // Strong references to every registered connection still alive (registryMutex_ held). One in
  // its destructor is skipped: it waits for the mutex to leave the list.
  std::vector<std::shared_ptr<ProactiveConnection>> registered();

  ServerConfig config_;
  ServiceFactory factory_;
  ServerStats stats_;
  // Declared before the proactor: outlives every read (chunks in flight are returned at shutdown).
  BufferPool readPool_{{.chunkSize = 16 * 1024, .maxCached = 64}};
  std::unique_ptr<ServerProactor> proactor_;
  BufferGroup readGroup_;
  AsyncServerSocket server_;
  std::atomic<bool> stopping_{false};
  std::mutex registryMutex_;
  ProactiveConnection* registry_ = nullptr;  // the first of the list
  std::size_t registered_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

// ---- ProactiveConnection ----

// What an idle connection costs beside its read, channel and engine state (make_shared adds 16
// bytes of control block; malloc rounds to 16): issue 12's 1 KiB per idle connection.
static_assert(sizeof(ProactiveConnection) <= 280);

ProactiveConnection::ProactiveConnection(ProactiveServer& server, AsyncSocket socket)
    : server_(server),
      socket_(std::move(socket)),
      session_(server.factory()(), server.config().limits, &server.stats(),
               server.config().framing) {
  server_.stats().connectionOpened();
}

ProactiveConnection::~ProactiveConnection() {
  socket_.close();
  server_.connectionGone(this);
  server_.stats().connectionClosed();
}

// Runs on the accepting thread, which need not be this socket's: it initiates exactly one
// operation, as its last action, and touches nothing after it. From then on only this socket's
// handlers (serialised by the Proactor) touch the connection.
void ProactiveConnection::open(bool rejected) {
  socket_.setNoDelay(true);
  applyShutdown();
  if (rejected) {
    session_.reject(tooManyConnectionsReason(server_.config().maxConnections));
    flushOutput();
  } else {
    startRead();
  }
}

// Any thread. Cancelling the read hands the stop to the socket's own handlers: the aborted read
// completes there, sees shutdown_, and applies it (no lock, no descriptor use from this thread).
// Only the read: a reply being written must still go out whole. Without a read in flight, the
// next completion (a write, or the writability notification) applies the stop.
void ProactiveConnection::beginShutdown() {
  if (shutdown_.exchange(true)) return;
  if (const OperationId id = readId_.load(std::memory_order_acquire); id != 0) socket_.cancel(id);
}

void ProactiveConnection::applyShutdown() {
  if (shutRd_ || closed_ || !shutdown_.load(std::memory_order_acquire)) return;
  shutRd_ = true;
  // "End of input" at the point of the stop: after SHUT_RD the socket still yields what it
  // already holds, then end of stream, so the next read completes with the last requests or
  // EOF, and nothing waits for a client that sends nothing.
  socket_.shutdownInput();
}

void ProactiveConnection::closeNow() {
  socket_.close();  // any thread; outstanding operations complete with operation_aborted
}

void ProactiveConnection::closeFromHandler() {
  if (closed_) return;
  closed_ = true;
  socket_.close();  // outstanding operations complete with operation_aborted
}

nanoseconds ProactiveConnection::readTimeout(Clock::time_point now) const {
  const auto idle = server_.config().idleTimeout;
  if (idle.count() <= 0) return nanoseconds::zero();
  return std::max<nanoseconds>(milliseconds(1), idle - (now - lastActive_));
}

void ProactiveConnection::advance() {
  if (closed_) return;
  applyShutdown();
  flushOutput();
  if (!lingering_ && session_.shouldClose() && !writeInFlight_) {
    // Lingering close, as in the reactive glue: FIN now, the descriptor after the peer's FIN.
    socket_.shutdownOutput();
    lingering_ = true;
    lastActive_ = sys::now() + server_.config().lingerTimeout;  // the linger deadline from now
  }
  if (lingering_) {
    if (!readInFlight_) startDiscard();
    return stopReadEachIfPaused();
  }
  // Past the output cap the session stops wanting input; the write completion that drains it
  // to half resumes decoding and comes back here.
  if (!readInFlight_ && session_.wantsRead()) return startRead();
  stopReadEachIfPaused();
}

void ProactiveConnection::startRead() {
  if (server_.readGroup()) return startReadEach();
  readInFlight_ = true;
  auto handler = [self = shared_from_this()](IoResult& r, ReadInto into) { self->onRead(r, into); };
  const auto timeout = readTimeout(sys::LoopTime::now());
  OperationId id;
  if (!session_.inputEmpty()) {
    id = socket_.read(ByteBuffer::wrap(session_.readSpace()), ReadInto::session, std::move(handler),
                      timeout);
  } else if (server_.readGroup()) {
    id = socket_.read(server_.readGroup(), ReadInto::pool, std::move(handler), timeout);
  } else {
    id = socket_.read(server_.readPool(), ReadInto::pool, std::move(handler), timeout);
  }
  readId_.store(id, std::memory_order_release);
}

// Every reply produced so far goes out as one write, straight from the session's buffer: it stays
// in place until consumeOutput() in the completion (the handler's reference keeps the connection,
// and so the buffer, alive until then, whatever the engine does meanwhile). Replies produced
// while it is in flight go out with the next one. A write, not a writeAll: it completes at each
// progress, so its timeout means "no progress for --idle-timeout" (a long reply to a slow reader
// is not cut), and each completion stamps the connection active.
nanoseconds ProactiveConnection::idleTimeout() const {
  const auto idle = server_.config().idleTimeout;
  return idle.count() > 0 ? nanoseconds(idle) : nanoseconds::zero();
}

void ProactiveConnection::flushOutput() {
  if (writeInFlight_ || !session_.hasOutput()) return;
  writeInFlight_ = true;
  socket_.write(
      session_.nextOutputBuffer(), NoAct{},
      [self = shared_from_this()](IoResult& r) { self->onWrite(r); }, idleTimeout());
}

void ProactiveConnection::startDiscard() {
  readInFlight_ = true;
  const auto left = std::max<nanoseconds>(milliseconds(1), lastActive_ - sys::now());
  auto handler = [self = shared_from_this()](IoResult& r) { self->onDiscard(r); };
  readId_.store(server_.readGroup()
                    ? socket_.read(server_.readGroup(), NoAct{}, std::move(handler), left)
                    : socket_.read(server_.readPool(), NoAct{}, std::move(handler), left),
                std::memory_order_release);
}

// The multishot read's idle timeout restarts at every arrival, while the connection's counts
// from its last request: onArrival() closes a connection that sends but completes no request at
// its first arrival past the limit; a silent one times out here as before.
void ProactiveConnection::startReadEach() {
  readInFlight_ = true;
  readEach_ = true;
  readEachCancelled_ = false;
  auto handler = [self = shared_from_this()](IoResult& r) {
    if (r.more()) return self->onArrival(r);
    self->readEach_ = false;
    self->onRead(r, ReadInto::pool);
  };
  // What is left of the idle period (after a timeout that writes outlived, not a whole new one).
  const auto timeout = readTimeout(sys::LoopTime::now());
  readId_.store(socket_.readEach(server_.readGroup(), NoAct{}, std::move(handler), timeout),
                std::memory_order_release);
}

void ProactiveConnection::onArrival(IoResult& r) {
  if (closed_) return;
  // Arrivals between the cancel and the final completion are the client's bytes too: kept (a
  // few buffers past the cap at most); once lingering, input is discarded anyway.
  if (!lingering_) {
    const auto before = session_.requests();
    session_.feed({r.buffer().array(), r.bytesTransferred()});
    r.buffer() = ByteBuffer();  // the buffer goes back to the ring now, not after the handler
    const auto now = sys::LoopTime::now();
    if (session_.requests() != before) {
      lastActive_ = now;
    } else if (const auto idle = server_.config().idleTimeout;
               idle.count() > 0 && now - lastActive_ >= idle && !writeInFlight_) {
      ServerStats::add(server_.stats().idleClosed, 1);  // bytes, but no request within the limit
      return closeFromHandler();
    }
  }
  advance();
}

// Past the output cap, or once lingering, the session takes no input: the multishot read is
// cancelled (its final completion comes to onRead, and advance() starts another read when the
// session wants one), so the socket's buffer, not the session, holds what the client sends.
void ProactiveConnection::stopReadEachIfPaused() {
  if (!readEach_ || readEachCancelled_ || closed_) return;
  if (!lingering_ && session_.wantsRead()) return;
  // Started by open() on the accepting thread, the read may deliver before its id is stored:
  // then the next completion (a write's, or the next arrival's) asks again.
  const OperationId id = readId_.load(std::memory_order_acquire);
  if (id == 0) return;
  readEachCancelled_ = true;
  socket_.cancel(id);
}

void ProactiveConnection::onRead(IoResult& r, ReadInto into) {
  readInFlight_ = false;
  readId_.store(0, std::memory_order_release);
  if (closed_) return;
  if (lingering_) {  // a read that was already in flight when the close was decided
    return advance();
  }
  if (const std::size_t n = r.bytesTransferred(); n > 0) {
    const auto before = session_.requests();
    if (into == ReadInto::pool) {
      session_.feed({r.buffer().array(), n});
      r.buffer() = ByteBuffer();  // the chunk goes back to the pool now, not after the handler
    } else {
      session_.commitRead(n);
    }
    if (session_.requests() != before) lastActive_ = sys::LoopTime::now();
  }
  if (r.success() || r.aborted()) return advance();
  if (r.endOfStream()) {
    session_.endOfInput(/*truncatedIsError=*/!shutRd_);
    return advance();
  }
  if (r.timedOut()) {
    const auto idle = server_.config().idleTimeout;
    if (sys::now() - lastActive_ < idle) return advance();  // writes kept it alive
    ServerStats::add(server_.stats().idleClosed, 1);
    return closeFromHandler();
  }
  closeFromHandler();  // reset by peer & co
}

void ProactiveConnection::onWrite(IoResult& r) {
  writeInFlight_ = false;
  if (closed_) return;
  if (const std::size_t n = r.bytesTransferred(); n > 0) {
    session_.consumeOutput(n);  // may resume decoding held back by the output cap
    if (!lingering_) lastActive_ = sys::LoopTime::now();
  }
  if (r.success()) return advance();
  // Aborted: the socket was closed (a stop's closeNow(), the proactor's shutdown); flushing the
  // rest again would only be aborted again.
  if (r.timedOut()) {  // the client stopped reading for a whole idle timeout
    ServerStats::add(server_.stats().idleClosed, 1);
  }
  closeFromHandler();
}

void ProactiveConnection::onDiscard(IoResult& r) {
  readInFlight_ = false;
  readId_.store(0, std::memory_order_release);
  if (closed_) return;
  if (r.success() && sys::now() < lastActive_) return advance();  // the linger deadline
  closeFromHandler();  // the peer's FIN, an error, or the linger timeout
}

// ---- ProactiveServer ----

InetSocketAddress ProactiveServer::start() {
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
  started_ = true;
  acceptNext();
  return server_.localAddress().value_or(*address);
}

void ProactiveServer::acceptNext() {
  server_.accept([this](AcceptResult& r) { onAccept(r); });
}

void ProactiveServer::onAccept(AcceptResult& r) {
  if (stopping_.load(std::memory_order_acquire) || r.aborted()) return;
  if (!r.success()) {
    const auto ec = r.error();
    // Out of descriptors: the processor already shed the waiting client (reserve-descriptor
    // trick) and logged it; anything else is worth a line here.
    if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
      ServerStats::add(stats_.shed, 1);
    } else {
      nioxx::log::get("server")->warn("accept failed: {}", ec.message());
    }
    // Whatever went wrong, try again a little later rather than spin.
    proactor_->proactor().scheduleTimer(milliseconds(10), [this](TimerResult&) {
      if (!stopping_.load(std::memory_order_acquire)) acceptNext();
    });
    return;
  }
  AsyncSocket socket = r.socket();
  acceptNext();  // keep accepting while this one is set up
  bool rejected;
  std::shared_ptr<ProactiveConnection> conn;
  {
    std::lock_guard lock(registryMutex_);
    rejected = registered_ >= config_.maxConnections;
    conn = std::make_shared<ProactiveConnection>(*this, std::move(socket));
    enroll(conn.get());
  }
  ServerStats::add(rejected ? stats_.rejected : stats_.connections, 1);
  if (stopping_.load(std::memory_order_acquire)) conn->beginShutdown();
  conn->open(rejected);
}

void ProactiveServer::enroll(ProactiveConnection* c) noexcept {
  c->nextRegistered = registry_;
  if (registry_ != nullptr) registry_->prevRegistered = c;
  registry_ = c;
  ++registered_;
}

void ProactiveServer::unregister(ProactiveConnection* c) noexcept {
  if (c->prevRegistered == nullptr && registry_ != c) return;  // never enrolled
  if (c->prevRegistered != nullptr) {
    c->prevRegistered->nextRegistered = c->nextRegistered;
  } else {
    registry_ = c->nextRegistered;
  }
  if (c->nextRegistered != nullptr) c->nextRegistered->prevRegistered = c->prevRegistered;
  c->prevRegistered = c->nextRegistered = nullptr;
  --registered_;
}

std::vector<std::shared_ptr<ProactiveConnection>> ProactiveServer::registered() {
  std::vector<std::shared_ptr<ProactiveConnection>> all;
  all.reserve(registered_);
  for (ProactiveConnection* c = registry_; c != nullptr; c = c->nextRegistered) {
    if (auto strong = c->weak_from_this().lock()) all.push_back(std::move(strong));
  }
  return all;
}

void ProactiveServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  server_.close();  // the pending accept completes with operation_aborted
  std::vector<std::shared_ptr<ProactiveConnection>> all;
  {
    std::lock_guard lock(registryMutex_);
    all = registered();
  }
  for (auto& c : all)
    c->beginShutdown();
  all.clear();  // our references must not keep finished connections alive
  const auto deadline = sys::now() + config_.shutdownGrace;
  auto remaining = [this] {
    std::lock_guard lock(registryMutex_);
    return registered_;
  };
  // A borrowed Proactor progresses only when its owner runs it: waiting here could be for ever.
  while (config_.proactor == nullptr && remaining() > 0 && sys::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (const std::size_t left = remaining(); left > 0) {
    if (config_.proactor == nullptr) {
      nioxx::log::get("server")->warn("graceful stop timed out: closing {} connections", left);
    }
    std::lock_guard lock(registryMutex_);
    all = registered();
  }
  for (auto& c : all)
    c->closeNow();
  all.clear();
  proactor_->shutdown();  // aborts what is left, runs those handlers, joins every thread
}

}  // namespace

std::unique_ptr<Server> makeProactiveServer(const ServerConfig& config, ServiceFactory factory) {
  return std::make_unique<ProactiveServer>(config, std::move(factory));
}

}  // namespace nioxx::server
