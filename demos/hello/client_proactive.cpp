// Proactive client glue: completion handlers on AsyncSocket, one read and one write in flight.
#include <memory>
#include <mutex>
#include <vector>

#include "hello/client_driver.h"
#include "nioxx/proactor/async_socket.h"
#include "nioxx/server/server_proactor.h"

namespace nioxx::demo {
namespace {

class ProactiveClient : public std::enable_shared_from_this<ProactiveClient> {
 public:
  ProactiveClient(Proactor& proactor, ClientConnection& conn) : proactor_(proactor), conn_(conn) {}

  void open() {
    std::lock_guard lock(mutex_);
    const InetSocketAddress& server = conn_.plan().server;
    try {
      socket_ = AsyncSocket::open(proactor_, server.isIpv6());
    } catch (const std::system_error& e) {
      conn_.onConnectFailed(e.code());
      return;
    }
    socket_.connect(server, [self = shared_from_this()](ConnectResult& r) { self->onConnect(r); });
  }

  void nudge() {
    std::lock_guard lock(mutex_);
    if (!connected_ || conn_.finished()) return;
    conn_.checkStop();
    flush();
  }

  void close() {
    std::lock_guard lock(mutex_);
    if (socket_) socket_.close();
  }

 private:
  void onConnect(ConnectResult& r) {
    std::lock_guard lock(mutex_);
    if (!r.success()) {
      conn_.onConnectFailed(r.error());
      socket_.close();
      return;
    }
    connected_ = true;
    socket_.setNoDelay(true);
    conn_.onConnected();
    startRead(ByteBuffer::allocate(16 * 1024));
    flush();
  }

  void startRead(ByteBuffer buffer) {
    buffer.clear();
    socket_.read(std::move(buffer), [self = shared_from_this()](IoResult& r) { self->onRead(r); });
  }

  void onRead(IoResult& r) {
    std::lock_guard lock(mutex_);
    if (conn_.finished()) return;
    if (const std::size_t n = r.bytesTransferred(); n > 0) {
      conn_.onBytes({r.buffer().array(), n});
    }
    if (!conn_.finished() && !r.success()) conn_.onClosed(r.error(), r.endOfStream());
    if (!conn_.finished()) startRead(std::move(r.buffer()));
    flush();
  }

  // Caller holds mutex_.
  void flush() {
    if (conn_.finished()) {
      socket_.close();
      return;
    }
    auto& out = conn_.output();
    if (writing_ || out.empty()) return;
    writing_ = true;
    const auto bytes = out.next();
    socket_.write(ByteBuffer::wrap({const_cast<std::uint8_t*>(bytes.data()), bytes.size()}),
                  [self = shared_from_this()](IoResult& r) { self->onWrite(r); });
  }

  void onWrite(IoResult& r) {
    std::lock_guard lock(mutex_);
    writing_ = false;
    if (conn_.finished()) return;
    conn_.output().consume(r.bytesTransferred());
    if (!r.success()) conn_.onClosed(r.error(), false);
    flush();
  }

  Proactor& proactor_;
  ClientConnection& conn_;
  std::mutex mutex_;  // completions of one socket are serialised; nudge() comes from outside
  AsyncSocket socket_;
  bool connected_ = false;
  bool writing_ = false;
};

class ProactiveClientDriver final : public ClientDriver {
 public:
  ProactiveClientDriver(std::size_t threads, const std::string& dispatch)
      : proactor_(server::makeServerProactor(threads, dispatch)) {}
  ~ProactiveClientDriver() override { stop(); }

  void start(std::vector<std::unique_ptr<ClientConnection>>& connections) override {
    for (auto& c : connections) {
      clients_.push_back(std::make_shared<ProactiveClient>(proactor_->proactor(), *c));
    }
    for (auto& c : clients_)
      c->open();
  }

  void nudge() override {
    for (auto& c : clients_)
      c->nudge();
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    for (auto& c : clients_)
      c->close();
    proactor_->shutdown();
    clients_.clear();
  }

 private:
  std::unique_ptr<server::ServerProactor> proactor_;
  std::vector<std::shared_ptr<ProactiveClient>> clients_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<ClientDriver> makeProactiveClientDriver(std::size_t threads,
                                                        const std::string& dispatch) {
  return std::make_unique<ProactiveClientDriver>(threads, dispatch);
}

}  // namespace nioxx::demo
