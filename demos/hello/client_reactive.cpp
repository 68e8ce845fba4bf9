// Reactive client glue: one EventHandler per connection on a ReactorGroup loop.
#include <future>
#include <vector>

#include "hello/client_driver.h"
#include "nioxx/reactor/reactor_group.h"
#include "nioxx/reactor/socket_channel.h"

namespace nioxx::demo {
namespace {

class ReactiveClient final : public EventHandler {
 public:
  ReactiveClient(Reactor& reactor, ClientConnection& conn) : reactor_(reactor), conn_(conn) {}

  // Loop thread.
  void open() {
    const InetSocketAddress& server = conn_.plan().server;
    std::error_code ec;
    channel_ = SocketChannel::open(server.family(), ec);
    bool connected = !ec && channel_.connect(server, ec);
    if (ec) {
      conn_.onConnectFailed(ec);
      channel_.close();
      return;
    }
    channel_.setTcpNoDelay(true, ec);
    key_ = &reactor_.registerHandler(channel_, SelectionKey::OP_CONNECT, *this);
    if (connected) onConnected();
  }

  void handleEvent(SelectionKey& key) override {
    if (key.isConnectable()) {
      std::error_code ec;
      if (!channel_.finishConnect(ec)) {
        if (ec) fail(ec, false, true);
        return;
      }
      return onConnected();
    }
    if (key.isReadable() && !readAll()) return;
    pump();
  }

  // Loop thread: notices stopSending on an idle connection.
  void nudge() {
    if (!channel_.isOpen()) return;
    conn_.checkStop();
    pump();
  }

 private:
  void onConnected() {
    conn_.onConnected();
    pump();
  }

  // Reads until the socket would block (bounded); false if the connection ended.
  bool readAll() {
    thread_local std::uint8_t buffer[64 * 1024];
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = channel_.readSome(buffer, sizeof buffer);
      if (n > 0) {
        conn_.onBytes({buffer, static_cast<std::size_t>(n)});
        if (conn_.finished()) {
          pump();  // closes
          return false;
        }
        if (static_cast<std::size_t>(n) < sizeof buffer) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      fail(n == 0 ? std::error_code() : std::error_code(errno, std::system_category()), n == 0,
           false);
      return false;
    }
    return true;
  }

  // Writes what is queued, then closes (finished) or sets the interest.
  void pump() {
    if (!channel_.isOpen()) return;
    auto& out = conn_.output();
    while (!conn_.finished() && !out.empty()) {
      const auto bytes = out.next();
      const ssize_t n = channel_.writeSome(bytes.data(), bytes.size());
      if (n > 0) {
        out.consume(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail(std::error_code(errno, std::system_category()), false, false);
    }
    if (conn_.finished()) {
      channel_.close();
      return;
    }
    key_->interestOps(SelectionKey::OP_READ | (out.empty() ? 0 : SelectionKey::OP_WRITE));
  }

  void fail(const std::error_code& ec, bool eof, bool connecting) {
    if (connecting) {
      conn_.onConnectFailed(ec);
    } else {
      conn_.onClosed(ec, eof);
    }
    channel_.close();
  }

  Reactor& reactor_;
  ClientConnection& conn_;
  SocketChannel channel_;
  SelectionKey* key_ = nullptr;
};

class ReactiveClientDriver final : public ClientDriver {
 public:
  explicit ReactiveClientDriver(std::size_t threads)
      : group_(threads, "hello-client"), perLoop_(group_.size()) {}
  ~ReactiveClientDriver() override { stop(); }

  void start(std::vector<std::unique_ptr<ClientConnection>>& connections) override {
    for (auto& c : connections) {
      const std::size_t loop = c->index() % group_.size();
      perLoop_[loop].push_back(std::make_unique<ReactiveClient>(group_.at(loop), *c));
    }
    for (std::size_t i = 0; i < perLoop_.size(); ++i) {
      group_.at(i).post([this, i] {
        for (auto& c : perLoop_[i])
          c->open();
      });
    }
    group_.start();
  }

  void nudge() override {
    for (std::size_t i = 0; i < perLoop_.size(); ++i) {
      group_.at(i).post([this, i] {
        for (auto& c : perLoop_[i])
          c->nudge();
      });
    }
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    // Channels are closed on their loop threads, then the loops stop.
    for (std::size_t i = 0; i < perLoop_.size() && group_.isRunning(); ++i) {
      std::promise<void> done;
      group_.at(i).post([this, i, &done] {
        perLoop_[i].clear();
        done.set_value();
      });
      done.get_future().wait();
    }
    group_.stop();
    perLoop_.clear();
  }

 private:
  ReactorGroup group_;
  std::vector<std::vector<std::unique_ptr<ReactiveClient>>> perLoop_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<ClientDriver> makeReactiveClientDriver(std::size_t threads) {
  return std::make_unique<ReactiveClientDriver>(threads);
}

}  // namespace nioxx::demo
