// BlockingClient: a plain blocking TCP client (no nioxx inside), so a test of a server sees what
// any peer would: the bytes, then an orderly end of stream or a reset.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "nioxx/core/inet_socket_address.h"

namespace nioxx::test {

class BlockingClient {
 public:
  // Connects to a loopback IPv4 address; every read gives up after 10 s (a failure, not a hang).
  explicit BlockingClient(const InetSocketAddress& to) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(to.port());
    ::inet_pton(AF_INET, to.host().c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~BlockingClient() { ::close(fd_); }
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Sends everything; false (no failure) if the server closed or reset meanwhile.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  std::string readExactly(std::size_t n) {
    std::string got;
    char buf[4096];
    while (got.size() < n) {
      const ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - got.size()), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ADD_FAILURE() << "read ended after " << got.size() << " of " << n
                      << " bytes: " << (r == 0 ? "end of stream" : std::strerror(errno));
        break;
      }
      got.append(buf, static_cast<std::size_t>(r));
    }
    return got;
  }
  // Everything until the server's end of stream; a reset or a timeout is a test failure.
  std::string readToEnd() {
    std::string got;
    char buf[4096];
    for (;;) {
      const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return got;
      if (r < 0) {
        ADD_FAILURE() << "expected end of stream after " << got.size()
                      << " bytes, got: " << std::strerror(errno);
        return got;
      }
      got.append(buf, static_cast<std::size_t>(r));
    }
  }
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace nioxx::test
