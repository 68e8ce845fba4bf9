#include "nioxx/core/inet_socket_address.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <cstring>

namespace nioxx {
namespace {

std::optional<std::uint32_t> parseNumber(std::string_view text, std::uint32_t max) {
  if (text.empty()) return std::nullopt;
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

// IPv6 scope: "%2" (interface index) or "%eth0" (interface name, looked up).
std::optional<std::uint32_t> parseScope(std::string_view scope) {
  if (auto index = parseNumber(scope, UINT32_MAX)) return index;
  if (scope.empty() || scope.size() >= IF_NAMESIZE) return std::nullopt;
  const std::string name(scope);
  const unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) return std::nullopt;
  return index;
}

}  // namespace

InetSocketAddress::InetSocketAddress() {
  storage_.ss_family = AF_INET;
}

std::optional<InetSocketAddress> InetSocketAddress::of(std::string_view host, std::uint16_t port) {
  if (host == "localhost") return loopback(port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // "[1.2.3.4]"
  }
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN + IF_NAMESIZE) return std::nullopt;

  InetSocketAddress address;
  if (host.find(':') == std::string_view::npos) {
    // inet_pton, unlike inet_aton, accepts only dotted-quad decimal ("127.1" and "0x7f.0.0.1"
    // are rejected), so what parses is exactly what host() prints back.
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage_);
    const std::string text(host);
    if (::inet_pton(AF_INET, text.c_str(), &in->sin_addr) != 1) return std::nullopt;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    return address;
  }

  std::uint32_t scope = 0;
  if (const auto percent = host.find('%'); percent != std::string_view::npos) {
    const auto parsed = parseScope(host.substr(percent + 1));
    if (!parsed) return std::nullopt;
    scope = *parsed;
    host = host.substr(0, percent);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  const std::string text(host);
  if (::inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1) return std::nullopt;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  in6->sin6_scope_id = scope;
  return address;
}

std::optional<InetSocketAddress> InetSocketAddress::parse(std::string_view hostPort) {
  std::string_view host;
  std::string_view port;
  if (!hostPort.empty() && hostPort.front() == '[') {
    const auto close = hostPort.find(']');
    if (close == std::string_view::npos || close + 1 >= hostPort.size() ||
        hostPort[close + 1] != ':') {
      return std::nullopt;
    }
    host = hostPort.substr(0, close + 1);
    port = hostPort.substr(close + 2);
  } else {
    const auto colon = hostPort.find(':');
    // An unbracketed IPv6 literal ("::1:80") is ambiguous: require "[::1]:80".
    if (colon == std::string_view::npos ||
        hostPort.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;
    }
    host = hostPort.substr(0, colon);
    port = hostPort.substr(colon + 1);
  }
  const auto number = parseNumber(port, 65535);
  if (!number) return std::nullopt;
  return of(host, static_cast<std::uint16_t>(*number));
}

InetSocketAddress InetSocketAddress::loopback(std::uint16_t port, bool ipv6) {
  InetSocketAddress address;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(port);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage_);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons(port);
  }
  return address;
}

InetSocketAddress InetSocketAddress::any(std::uint16_t port, bool ipv6) {
  InetSocketAddress address;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    in6->sin6_port = htons(port);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage_);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(port);
  }
  return address;
}

std::optional<InetSocketAddress> InetSocketAddress::fromSockaddr(const sockaddr_storage& ss,
                                                                 socklen_t len) {
  InetSocketAddress address;
  if (ss.ss_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&address.storage_, &ss, sizeof(sockaddr_in));
    return address;
  }
  if (ss.ss_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&address.storage_, &ss, sizeof(sockaddr_in6));
    return address;
  }
  return std::nullopt;
}

std::uint16_t InetSocketAddress::port() const noexcept {
  if (isIpv6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
}

std::string InetSocketAddress::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (isIpv6()) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    std::string result(text);
    if (in6->sin6_scope_id != 0) result += "%" + std::to_string(in6->sin6_scope_id);
    return result;
  }
  ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof text);
  return text;
}

std::string InetSocketAddress::toString() const {
  if (isIpv6()) return "[" + host() + "]:" + std::to_string(port());
  return host() + ":" + std::to_string(port());
}

socklen_t InetSocketAddress::length() const noexcept {
  return isIpv6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

bool operator==(const InetSocketAddress& a, const InetSocketAddress& b) noexcept {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.isIpv6()) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.storage_);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage_);
    return std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
           x->sin6_scope_id == y->sin6_scope_id;
  }
  return reinterpret_cast<const sockaddr_in*>(&a.storage_)->sin_addr.s_addr ==
         reinterpret_cast<const sockaddr_in*>(&b.storage_)->sin_addr.s_addr;
}

}  // namespace nioxx
