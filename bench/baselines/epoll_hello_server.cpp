// Baseline: a minimal hand-written epoll hello server (the yardstick nioxx's reactor must match).
//
// N threads = N independent level-triggered epoll loops, each with its own SO_REUSEPORT listener
// (the kernel spreads connections). Each readable event does one read() into the loop's shared
// buffer, answers all complete frames with one write(), and keeps only a partial frame or unsent
// output per connection: an idle connection costs a few dozen bytes of user memory.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "hello_protocol.h"

namespace {

using nioxx::bench::HelloSession;
using nioxx::bench::OutBuffer;

struct Connection {
  int fd;
  std::string in;   // a partial frame left over from the previous read
  std::string out;  // replies the socket did not take yet
};

int makeListener(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, 4096) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

class Loop {
 public:
  explicit Loop(int listener) : listener_(listener), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr marks the listener
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, listener_, &ev);
  }

  void run() {
    std::vector<epoll_event> events(256);
    for (;;) {
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return;
      }
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Connection*>(events[i].data.ptr);
        if (c == nullptr) {
          acceptAll();
        } else if (events[i].events & EPOLLOUT) {
          onWritable(c);
        } else {
          onReadable(c);
        }
      }
    }
  }

 private:
  void acceptAll() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or EMFILE (the benchmark raises the limit)
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Connection{fd, {}, {}};
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.ptr = c;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  void close(Connection* c) {
    ::close(c->fd);  // also removes it from the epoll set
    delete c;
  }

  void onReadable(Connection* c) {
    // Leftover partial frame first, then fresh bytes after it, all in the loop's buffer.
    const std::size_t kept = c->in.size();
    if (kept) std::memcpy(buf_.data(), c->in.data(), kept);
    ssize_t r = ::read(c->fd, buf_.data() + kept, buf_.size() - kept);
    if (r <= 0) {
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
      close(c);
      return;
    }
    const std::size_t have = kept + static_cast<std::size_t>(r);
    out_.clear();
    std::ptrdiff_t used = session_.answer(buf_.data(), have, out_);
    if (used < 0) {
      close(c);
      return;
    }
    c->in.assign(reinterpret_cast<const char*>(buf_.data()) + used, have - used);
    if (out_.empty()) return;
    ssize_t w = ::send(c->fd, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      close(c);
      return;
    }
    std::size_t sent = w < 0 ? 0 : static_cast<std::size_t>(w);
    if (sent < out_.size()) {
      // The client is not keeping up: keep the rest, stop reading until it is flushed.
      c->out.assign(reinterpret_cast<const char*>(out_.data()) + sent, out_.size() - sent);
      setEvents(c, EPOLLOUT);
    }
  }

  void onWritable(Connection* c) {
    ssize_t w = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) close(c);
      return;
    }
    c->out.erase(0, static_cast<std::size_t>(w));
    if (c->out.empty()) {
      c->out.shrink_to_fit();
      setEvents(c, EPOLLIN | EPOLLRDHUP);
    }
  }

  void setEvents(Connection* c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  int listener_;
  int ep_;
  std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(nioxx::bench::kMaxFrame + 5 + 65536);
  OutBuffer out_;
  HelloSession session_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Hand-written epoll hello server (benchmark baseline)"};
  std::string host = "127.0.0.1";
  int port = 7070;
  int threads = 1;
  std::string logLevel = "info";
  app.add_option("--host", host, "IPv4 address to listen on");
  app.add_option("--port", port, "TCP port (0 picks a free one)");
  app.add_option("--threads", threads, "event loops, each with its own SO_REUSEPORT listener")
      ->check(CLI::Range(1, 64));
  app.add_option("--log-level", logLevel, "accepted for CLI compatibility; nothing is logged");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<int> listeners;
  for (int i = 0; i < threads; ++i) {
    int fd = makeListener(host, i == 0 ? port : boundPort(listeners[0]));
    if (fd < 0) {
      std::fprintf(stderr, "cannot listen on %s:%d: %s\n", host.c_str(), port,
                   std::strerror(errno));
      return 1;
    }
    listeners.push_back(fd);
  }
  std::printf("listening on %s:%d mode=epoll threads=%d\n", host.c_str(), boundPort(listeners[0]),
              threads);
  std::fflush(stdout);

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) {
    workers.emplace_back([fd = listeners[i]] { Loop(fd).run(); });
  }
  Loop(listeners[0]).run();
  for (auto& t : workers)
    t.join();
  return 0;
}
