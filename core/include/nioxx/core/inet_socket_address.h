// InetSocketAddress: an IPv4 or IPv6 address and port (numeric, no DNS), convertible to and from
// sockaddr_storage. Formats as "1.2.3.4:80" or "[::1]:80".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nioxx {

class InetSocketAddress {
 public:
  InetSocketAddress();  // 0.0.0.0:0

  // host is a numeric IPv4/IPv6 literal (IPv6 with or without brackets) or "localhost".
  static std::optional<InetSocketAddress> of(std::string_view host, std::uint16_t port);
  // Parses "host:port", "[v6]:port".
  static std::optional<InetSocketAddress> parse(std::string_view hostPort);
  static InetSocketAddress loopback(std::uint16_t port, bool ipv6 = false);
  static InetSocketAddress any(std::uint16_t port, bool ipv6 = false);
  // nullopt unless ss holds AF_INET or AF_INET6.
  static std::optional<InetSocketAddress> fromSockaddr(const sockaddr_storage& ss, socklen_t len);

  int family() const noexcept { return storage_.ss_family; }
  bool isIpv6() const noexcept { return family() == AF_INET6; }
  std::uint16_t port() const noexcept;
  std::string host() const;      // "127.0.0.1", "::1"
  std::string toString() const;  // "127.0.0.1:7070", "[::1]:7070"

  // "struct": inside the class, plain `sockaddr` names this member function.
  const struct sockaddr* sockaddr() const noexcept {
    return reinterpret_cast<const struct sockaddr*>(&storage_);
  }
  socklen_t length() const noexcept;
  const sockaddr_storage& storage() const noexcept { return storage_; }

  friend bool operator==(const InetSocketAddress& a, const InetSocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_{};
};

}  // namespace nioxx
