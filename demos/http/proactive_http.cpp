// Proactive glue for the HTTP server: completion handlers on AsyncSocket (any engine, through
// the server layer's ServerProactor). One read in flight per connection feeds the HttpSession.
// A front response with a small file range (--inline-max) is read into its head and sent as one
// writeAll: per request that saves a second write, the transmission's descriptor duplicate and
// its close. A larger one is sent as one writeAll of the head, then the file range with
// transmitFile (the paper's TransmitFile: sendfile in the emulated engine, splice with io_uring),
// so its bytes never pass through user space, with TCP_CORK on from the head to the last byte (as
// nginx's tcp_nopush): the head shares the file's first segment instead of leaving alone. The
// range goes in transmissions of at most --file-chunk bytes, each with the idle timeout: a slow
// download is timed per chunk (progress), not as a whole.
//
// The file is the descriptor the path resolver opened and checked (transmitFile duplicates it),
// not a second open by path: nothing can swap the file in between, and it costs no open(2).
//
// Handlers of one connection are serialised by its own mutex (handlers never run inside an
// initiating call, so initiating under the lock cannot deadlock).
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/http_server.h"
#include "nioxx/core/buffer_pool.h"
#include "nioxx/core/log.h"
#include "nioxx/proactor/async_server_socket.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class ProactiveHttpServer;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ProactiveHttpServer& server, AsyncSocket socket);
  ~Connection();

  void open(bool rejected);
  void beginShutdown();  // any thread
  void closeNow();       // any thread

 private:
  // Everything below runs with mutex_ held.
  void advance();
  void startRead();
  void sendFront();
  void transmitChunk();
  void writeChunk(ByteBuffer chunk, bool last);
  void finishFront();
  void closeSocket();
  void onRead(IoResult& r);
  void onTransmit(IoResult& r, std::uint64_t asked);
  void onWrite(IoResult& r, bool last);
  nanoseconds writeTimeout() const;
  nanoseconds readTimeout(Clock::time_point now) const;

  ProactiveHttpServer& server_;
  std::mutex mutex_;
  AsyncSocket socket_;
  HttpSession session_;
  bool sending_ = false;
  bool corked_ = false;  // TCP_CORK is on while a head and its file bytes go out
  bool readInFlight_ = false;
  OperationId readId_ = 0;  // of the read in flight
  bool lingering_ = false;
  bool closed_ = false;
  std::atomic<bool> shutdown_{false};
  bool shutRd_ = false;
  Clock::time_point lastActive_ = Clock::now();
  Clock::time_point requestStart_ = Clock::now();
  Clock::time_point lingerDeadline_{};
};

class ProactiveHttpServer final : public HttpServer {
 public:
  explicit ProactiveHttpServer(const HttpServerConfig& config)
      : config_(config), root_(config.root) {}
  ~ProactiveHttpServer() override { stop(); }

  InetSocketAddress start() override;
  void stop() override;
  HttpStats stats() const override {
    return {connections_.load(std::memory_order_relaxed),
            requests_.load(std::memory_order_relaxed)};
  }
  std::string engine() const override { return proactor_ ? proactor_->engine() : ""; }

  const HttpServerConfig& config() const noexcept { return config_; }
  const DocumentRoot& root() const noexcept { return root_; }
  BufferPool& readPool() noexcept { return readPool_; }
  Proactor& proactor() noexcept { return proactor_->proactor(); }
  void connectionGone(Connection* c, std::size_t requests) {
    requests_.fetch_add(requests, std::memory_order_relaxed);
    std::lock_guard lock(registryMutex_);
    registry_.erase(c);
  }

 private:
  void acceptNext();
  void onAccept(AcceptResult& r);

  HttpServerConfig config_;
  DocumentRoot root_;
  BufferPool readPool_{{.chunkSize = 16 * 1024, .maxCached = 64}};
  std::unique_ptr<server::ServerProactor> proactor_;
  AsyncServerSocket server_;
  std::atomic<bool> stopping_{false};
  std::mutex registryMutex_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> registry_;
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> requests_{0};
  bool started_ = false;
  bool stopped_ = false;
};

// ---- Connection ----

Connection::Connection(ProactiveHttpServer& server, AsyncSocket socket)
    : server_(server),
      socket_(std::move(socket)),
      session_(server.root(), server.config().limits) {}

Connection::~Connection() {
  socket_.close();
  server_.connectionGone(this, session_.requests());
}

void Connection::open(bool rejected) {
  std::lock_guard lock(mutex_);
  socket_.setNoDelay(true);
  if (rejected) {
    session_.endOfInput();
    const Response busy = errorResponse(503, true);
    sending_ = true;
    writeChunk(ByteBuffer::copyOf(
                   {reinterpret_cast<const std::uint8_t*>(busy.head.data()), busy.head.size()}),
               true);
    return;
  }
  advance();
}

void Connection::beginShutdown() {
  if (shutdown_.exchange(true)) return;
  // Only the read is cancelled (a response being written must still go out): the aborted read
  // completes in a handler, which applies the stop. Without a read in flight, the next advance()
  // applies it.
  std::lock_guard lock(mutex_);
  if (readInFlight_ && !closed_) socket_.cancel(readId_);
}

void Connection::closeNow() {
  socket_.close();
}

void Connection::closeSocket() {
  if (closed_) return;
  closed_ = true;
  socket_.close();
}

nanoseconds Connection::readTimeout(Clock::time_point now) const {
  const auto& config = server_.config();
  if (lingering_) return std::max<nanoseconds>(milliseconds(1), lingerDeadline_ - now);
  if (session_.midRequest() && config.headerTimeout.count() > 0) {
    return std::max<nanoseconds>(milliseconds(1), config.headerTimeout - (now - requestStart_));
  }
  if (config.idleTimeout.count() <= 0) return nanoseconds::zero();
  return std::max<nanoseconds>(milliseconds(1), config.idleTimeout - (now - lastActive_));
}

void Connection::advance() {
  if (closed_) return;
  if (shutdown_.load(std::memory_order_acquire) && !shutRd_) {
    shutRd_ = true;
    socket_.shutdownInput();  // what the socket holds is still read, then end of stream
  }
  if (!sending_ && session_.hasResponse()) sendFront();
  if (closed_) return;
  if (!lingering_ && session_.finished() && !sending_) {
    // Lingering close, as in the reactive glue: FIN now, the descriptor after the peer's FIN.
    socket_.shutdownOutput();
    lingering_ = true;
    lingerDeadline_ = Clock::now() + server_.config().lingerTimeout;
  }
  if (!readInFlight_ && (lingering_ || session_.wantsRead())) startRead();
}

void Connection::startRead() {
  readInFlight_ = true;
  readId_ = socket_.read(
      server_.readPool(), NoAct{},
      [self = shared_from_this()](IoResult& r) {
        std::lock_guard lock(self->mutex_);
        self->onRead(r);
      },
      readTimeout(Clock::now()));
}

void Connection::onRead(IoResult& r) {
  readInFlight_ = false;
  if (closed_) return;
  const auto now = Clock::now();
  if (lingering_) {
    // Discarding until the peer's FIN (or the linger deadline).
    if (r.success() && now < lingerDeadline_) return advance();
    return closeSocket();
  }
  if (const std::size_t n = r.bytesTransferred(); n > 0) {
    if (!session_.midRequest() && !session_.hasResponse()) requestStart_ = now;
    session_.feed({reinterpret_cast<const char*>(r.buffer().array()), n});
    r.buffer() = ByteBuffer();  // the chunk goes back to the pool now
    lastActive_ = now;
  }
  if (r.success() || r.aborted()) return advance();
  if (r.endOfStream()) {
    session_.endOfInput();
    return advance();
  }
  if (r.timedOut()) {
    const auto& config = server_.config();
    if (session_.midRequest() && !session_.hasResponse()) {
      if (now - requestStart_ >= config.headerTimeout) session_.headerTimeout();  // 408
      return advance();
    }
    // Busy sending (a long download) or not yet idle long enough: keep the connection.
    if (sending_ || session_.hasResponse() || now - lastActive_ < config.idleTimeout) {
      return advance();
    }
    return closeSocket();  // idle keep-alive connection
  }
  closeSocket();  // reset by peer & co
}

void Connection::sendFront() {
  sending_ = true;
  Response& r = session_.front();
  inlineSmallBody(r, server_.config().inlineFileMax);
  if (r.hasFile() && !corked_) {
    // The head waits for the file's first bytes instead of leaving as a segment of its own.
    setCork(socket_.fd(), true);
    corked_ = true;
  }
  writeChunk(
      ByteBuffer::copyOf({reinterpret_cast<const std::uint8_t*>(r.head.data()), r.head.size()}),
      !r.hasFile());
}

nanoseconds Connection::writeTimeout() const {
  const auto idle = server_.config().idleTimeout;
  return idle.count() > 0 ? nanoseconds(idle) : nanoseconds::zero();
}

void Connection::transmitChunk() {
  const Response& r = session_.front();
  const std::uint64_t asked =
      std::min<std::uint64_t>(server_.config().fileChunk, static_cast<std::uint64_t>(r.length));
  socket_.transmitFile(
      r.file.file.fd(), static_cast<std::uint64_t>(r.offset), asked, NoAct{},
      [self = shared_from_this(), asked](IoResult& res) {
        std::lock_guard lock(self->mutex_);
        self->onTransmit(res, asked);
      },
      writeTimeout());
}

void Connection::onTransmit(IoResult& r, std::uint64_t asked) {
  if (closed_) return;
  if (!r.success()) {
    // end_of_stream: the file shrank since the head promised its length; otherwise a reset or
    // a client that stopped reading. Either way the response cannot be completed.
    if (r.endOfStream()) {
      nioxx::log::get("http")->warn("{} ended before its promised length",
                                    session_.front().file.path);
    }
    return closeSocket();
  }
  Response& front = session_.front();
  front.offset += static_cast<off_t>(asked);
  front.length -= static_cast<off_t>(asked);
  lastActive_ = Clock::now();
  if (front.length > 0) return transmitChunk();
  finishFront();
}

void Connection::writeChunk(ByteBuffer chunk, bool last) {
  socket_.writeAll(
      std::move(chunk), NoAct{},
      [self = shared_from_this(), last](IoResult& r) {
        std::lock_guard lock(self->mutex_);
        self->onWrite(r, last);
      },
      writeTimeout());
}

void Connection::onWrite(IoResult& r, bool last) {
  if (closed_) return;
  if (!r.success()) return closeSocket();  // reset, or a client that stopped reading
  lastActive_ = Clock::now();
  if (!last) return transmitChunk();
  finishFront();
}

void Connection::finishFront() {
  sending_ = false;
  if (corked_) {
    setCork(socket_.fd(), false);  // pushes the last partial segment now
    corked_ = false;
  }
  if (session_.hasResponse()) session_.pop();
  advance();
}

// ---- ProactiveHttpServer ----

InetSocketAddress ProactiveHttpServer::start() {
  auto address = InetSocketAddress::of(config_.host, config_.port);
  if (!address) throw std::invalid_argument("--host must be a numeric IP address or localhost");
  proactor_ = server::makeServerProactor(config_.threads, config_.dispatch,
                                         server::ProcessorTuning{"inline", true, config_.engine});
  server_ = AsyncServerSocket::open(proactor_->proactor(), address->isIpv6());
  if (auto ec = server_.bind(*address)) {
    throw std::system_error(ec, "cannot listen on " + address->toString());
  }
  started_ = true;
  acceptNext();
  return server_.localAddress().value_or(*address);
}

void ProactiveHttpServer::acceptNext() {
  server_.accept([this](AcceptResult& r) { onAccept(r); });
}

void ProactiveHttpServer::onAccept(AcceptResult& r) {
  if (stopping_.load(std::memory_order_acquire) || r.aborted()) return;
  if (!r.success()) {
    const auto ec = r.error();
    if (ec != std::errc::too_many_files_open && ec != std::errc::too_many_files_open_in_system) {
      nioxx::log::get("http")->warn("accept failed: {}", ec.message());
    }
    proactor_->proactor().scheduleTimer(milliseconds(10), [this](TimerResult&) {
      if (!stopping_.load(std::memory_order_acquire)) acceptNext();
    });
    return;
  }
  AsyncSocket socket = r.socket();
  acceptNext();
  bool rejected;
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(registryMutex_);
    rejected = registry_.size() >= config_.maxConnections;
    conn = std::make_shared<Connection>(*this, std::move(socket));
    registry_.emplace(conn.get(), conn);
  }
  connections_.fetch_add(1, std::memory_order_relaxed);
  if (stopping_.load(std::memory_order_acquire)) conn->beginShutdown();
  conn->open(rejected);
}

void ProactiveHttpServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  server_.close();
  std::vector<std::shared_ptr<Connection>> all;
  auto collect = [&] {
    std::lock_guard lock(registryMutex_);
    for (auto& [raw, weak] : registry_) {
      if (auto c = weak.lock()) all.push_back(std::move(c));
    }
  };
  collect();
  for (auto& c : all)
    c->beginShutdown();
  all.clear();
  const auto deadline = Clock::now() + config_.shutdownGrace;
  auto remaining = [this] {
    std::lock_guard lock(registryMutex_);
    return registry_.size();
  };
  while (remaining() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (const std::size_t left = remaining(); left > 0) {
    nioxx::log::get("http")->warn("graceful stop timed out: closing {} connections", left);
    collect();
  }
  for (auto& c : all)
    c->closeNow();
  all.clear();
  proactor_->shutdown();
}

}  // namespace

std::unique_ptr<HttpServer> makeProactiveHttpServer(const HttpServerConfig& config) {
  return std::make_unique<ProactiveHttpServer>(config);
}

}  // namespace nioxx::http
