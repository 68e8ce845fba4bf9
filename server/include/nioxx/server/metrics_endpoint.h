// MetricsEndpoint: serves GET /metrics (Prometheus text format 0.0.4) on a listener of its own,
// with one nioxx Reactor on one thread, apart from the server's loops: a slow scraper never
// delays a request. HTTP/1.0-style: one request per connection, answered, then closed.
//
// Limits: request head up to kMaxRequestBytes (else 431), kMaxConnections scrapers at once
// (further ones are closed at once), kRequestTimeout to send the request (else closed).
//
// Thread rule: construct and destroy on one controlling thread; render() runs on the endpoint's
// thread, once per scrape.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "nioxx/core/inet_socket_address.h"

namespace nioxx::server {

class MetricsEndpoint {
 public:
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kRequestTimeout{10};

  // Binds (throws std::system_error) and starts the thread.
  MetricsEndpoint(const InetSocketAddress& address, std::function<std::string()> render);
  ~MetricsEndpoint();  // stops the thread and closes every connection
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The bound address (the real port if 0 was asked).
  const InetSocketAddress& localAddress() const noexcept { return bound_; }

  // "HOST:PORT" -> address; throws std::invalid_argument with the reason. Host must be numeric
  // (or localhost); the port 0..65535.
  static InetSocketAddress parse(const std::string& hostPort);

  // The HTTP response to one request head (exposed for tests).
  static std::string respond(const std::string& head, const std::function<std::string()>& render);

  struct State;  // the loop and its connections (metrics_endpoint.cpp)

 private:
  std::unique_ptr<State> state_;
  InetSocketAddress bound_;
  std::thread thread_;
};

}  // namespace nioxx::server
