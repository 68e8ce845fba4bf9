// Reactive echo server: one Reactor thread, an Acceptor, one EventHandler per connection.
//
//   reactive_echo [--port N]      prints "listening on HOST:PORT", echoes until SIGINT/SIGTERM
//
// Ownership: every connection object is owned by the `connections` map, which only the loop
// thread touches; a handler that sees end of stream or an error erases itself from the map (its
// SocketChannel closes and cancels its key in the destructor, so the Reactor never calls it again).
#include <nioxx/reactor/acceptor.h>
#include <nioxx/reactor/reactor.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

using namespace nioxx;

namespace {

class EchoConnection;
using ConnectionMap = std::map<EchoConnection*, std::unique_ptr<EchoConnection>>;

class EchoConnection final : public EventHandler {
 public:
  EchoConnection(Reactor& reactor, SocketChannel channel, ConnectionMap& owner)
      : channel_(std::move(channel)), owner_(owner) {
    reactor.registerHandler(channel_, SelectionKey::OP_READ, *this);
  }

  void handleEvent(SelectionKey& key) override {
    std::error_code ec;
    // A read needs room: the buffer is in fill mode here, so a read of 0 bytes never means
    // "no room" (a full buffer would make every read complete with 0 and the loop spin).
    if (key.isReadable() && channel_.read(buffer_, ec) < 0) return finish();  // EOF or error
    buffer_.flip();  // drain mode: the bytes to echo
    if (channel_.write(buffer_, ec) < 0) return finish();
    const bool pending = buffer_.hasRemaining();
    buffer_.compact();  // back to fill mode, unsent bytes kept in front
    // Stop reading while echoed bytes wait: a client that does not read cannot grow our memory.
    key.interestOps(pending ? SelectionKey::OP_WRITE : SelectionKey::OP_READ);
  }

 private:
  void finish() { owner_.erase(this); }  // destroys *this: nothing may follow

  SocketChannel channel_;
  ConnectionMap& owner_;
  ByteBuffer buffer_ = ByteBuffer::allocate(16 * 1024);
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nioxx reactive echo server"};
  std::uint16_t port = 0;
  app.add_option("--port", port, "TCP port on 127.0.0.1; 0 picks a free one");
  CLI11_PARSE(app, argc, argv);

  // SIGINT/SIGTERM are blocked in every thread and taken synchronously by sigwait below.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  Reactor reactor;
  ConnectionMap connections;  // loop thread only
  // Constructed before the loop runs (allowed), used and destroyed on the loop thread.
  auto acceptor = std::make_unique<Acceptor>(
      reactor, InetSocketAddress::loopback(port), [&](SocketChannel&& channel) {
        auto connection =
            std::make_unique<EchoConnection>(reactor, std::move(channel), connections);
        EchoConnection* raw = connection.get();
        connections.emplace(raw, std::move(connection));
      });
  std::printf("listening on %s\n", acceptor->localAddress().toString().c_str());
  std::fflush(stdout);

  std::thread loop([&] { reactor.run(); });
  int signal = 0;
  sigwait(&stopSignals, &signal);
  // Clean shutdown on the loop thread: stop accepting, close every connection, stop the loop.
  reactor.post([&] {
    acceptor.reset();
    connections.clear();
    reactor.stop();
  });
  loop.join();
  std::printf("stopped\n");
  return 0;
}
