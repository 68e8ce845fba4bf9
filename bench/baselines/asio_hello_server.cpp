// Baseline: the hello server written the way a competent standalone-Asio user would (the
// yardstick nioxx's proactor must beat).
//
// One io_context run on N threads (concurrency hint 1 when N == 1, which drops Asio's internal
// locking; a strand per connection when N > 1). Each connection keeps one async_read_some
// outstanding into its own reused buffer, answers every complete frame into one output buffer and
// sends it with one async_write. Reading continues while a write is in flight: replies produced
// meanwhile go to a second buffer that is written as soon as the first completes (two swapped
// buffers, no allocation per request). Handlers capture a shared_ptr, so Asio's recycling
// handler allocator serves them without malloc.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio.hpp>

#include "hello_protocol.h"

namespace {

using asio::ip::tcp;
using nioxx::bench::HelloSession;
using nioxx::bench::OutBuffer;

constexpr std::size_t kReadChunk = 8192;
constexpr std::size_t kMaxPendingOutput = 1 << 20;  // stop reading while this much is unsent

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() {
    socket_.set_option(tcp::no_delay(true));
    read();
  }

 private:
  void read() {
    if (in_.size() - used_ < kReadChunk / 2) in_.resize(used_ + kReadChunk);  // a large frame
    socket_.async_read_some(asio::buffer(in_.data() + used_, in_.size() - used_),
                            [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                              self->onRead(ec, n);
                            });
  }

  void onRead(const asio::error_code& ec, std::size_t n) {
    if (ec) return close();
    used_ += n;
    std::ptrdiff_t consumed = session_.answer(in_.data(), used_, *pending_);
    if (consumed < 0) return close();
    // Keep the partial frame at the front of the buffer.
    used_ -= static_cast<std::size_t>(consumed);
    if (used_ && consumed) std::memmove(in_.data(), in_.data() + consumed, used_);
    if (!writing_) write();
    if (pending_->size() < kMaxPendingOutput) {
      read();
    } else {
      readPaused_ = true;  // backpressure: resumed when the write completes
    }
  }

  void write() {
    if (pending_->empty()) return;
    std::swap(pending_, sending_);  // exchanges the two buffers (pointers; no copy)
    writing_ = true;
    asio::async_write(socket_, asio::buffer(sending_->data(), sending_->size()),
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                        self->onWritten(ec);
                      });
  }

  void onWritten(const asio::error_code& ec) {
    writing_ = false;
    if (ec) return close();
    sending_->clear();
    write();
    if (readPaused_ && pending_->size() < kMaxPendingOutput) {
      readPaused_ = false;
      read();
    }
  }

  void close() {
    asio::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::vector<std::uint8_t> in_ = std::vector<std::uint8_t>(kReadChunk);
  std::size_t used_ = 0;
  HelloSession session_;
  OutBuffer buffers_[2];
  OutBuffer* pending_ = &buffers_[0];  // replies not yet handed to async_write
  OutBuffer* sending_ = &buffers_[1];  // the buffer async_write is sending
  bool writing_ = false;
  bool readPaused_ = false;
};

class Server {
 public:
  Server(asio::io_context& io, const tcp::endpoint& endpoint, bool strands)
      : io_(io), acceptor_(io, endpoint), strands_(strands) {
    acceptor_.listen(4096);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void accept() {
    auto onAccept = [this](const asio::error_code& ec, tcp::socket socket) {
      if (!ec) std::make_shared<Session>(std::move(socket))->start();
      accept();
    };
    if (strands_) {
      acceptor_.async_accept(asio::make_strand(io_), onAccept);
    } else {
      acceptor_.async_accept(io_, onAccept);
    }
  }

 private:
  asio::io_context& io_;
  tcp::acceptor acceptor_;
  bool strands_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Standalone Asio hello server (benchmark baseline)"};
  std::string host = "127.0.0.1";
  unsigned short port = 7070;
  int threads = 1;
  std::string logLevel = "info";
  app.add_option("--host", host, "IPv4 address to listen on");
  app.add_option("--port", port, "TCP port (0 picks a free one)");
  app.add_option("--threads", threads, "threads running the one io_context")
      ->check(CLI::Range(1, 64));
  app.add_option("--log-level", logLevel, "accepted for CLI compatibility; nothing is logged");
  CLI11_PARSE(app, argc, argv);

  asio::io_context io(threads);  // hint 1 = single-threaded: no locking inside Asio
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const asio::error_code&, int) { io.stop(); });
  Server server(io, tcp::endpoint(asio::ip::make_address(host), port), threads > 1);
  server.accept();
  std::printf("listening on %s:%u mode=asio threads=%d\n", host.c_str(), server.port(), threads);
  std::fflush(stdout);

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : workers)
    t.join();
  return 0;
}
