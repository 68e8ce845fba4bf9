#include "nioxx/server/metrics_endpoint.h"

#include <map>
#include <stdexcept>
#include <string_view>

#include "nioxx/core/log.h"
#include "nioxx/core/metrics.h"
#include "nioxx/reactor/acceptor.h"
#include "nioxx/reactor/reactor.h"

namespace nioxx::server {
namespace {

std::string response(std::string_view status, std::string_view contentType,
                     const std::string& body) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += contentType;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

struct Scrape;
void finish(MetricsEndpoint::State& state, Scrape* s);

// One scraper's connection: read the head, answer, close. Loop thread only.
struct Scrape : EventHandler {
  SocketChannel channel;
  SelectionKey* key = nullptr;
  std::string in, out;
  std::size_t written = 0;
  TimerId timeout{};
  MetricsEndpoint::State* state = nullptr;
  const std::function<std::string()>* render = nullptr;

  void done() { finish(*state, this); }  // closes and frees this: return right after

  void handleEvent(SelectionKey& k) override {
    if (k.isReadable() && out.empty()) {
      char buf[2048];
      for (;;) {
        const ssize_t n = channel.readSome(buf, sizeof buf);
        if (n == 0) return done();  // closed before a full request
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          return done();
        }
        in.append(buf, static_cast<std::size_t>(n));
        if (in.find("\r\n\r\n") != std::string::npos) break;
        if (in.size() > MetricsEndpoint::kMaxRequestBytes) break;
      }
      if (in.find("\r\n\r\n") == std::string::npos &&
          in.size() <= MetricsEndpoint::kMaxRequestBytes) {
        return;  // wait for the rest of the head
      }
      out =
          in.size() > MetricsEndpoint::kMaxRequestBytes && in.find("\r\n\r\n") == std::string::npos
              ? response("431 Request Header Fields Too Large", "text/plain",
                         "request head over 8192 bytes\n")
              : MetricsEndpoint::respond(in, *render);
      k.interestOps(SelectionKey::OP_WRITE);
    }
    if (!out.empty()) {
      while (written < out.size()) {
        const ssize_t n = channel.writeSome(out.data() + written, out.size() - written);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return;
          return done();
        }
        written += static_cast<std::size_t>(n);
      }
      done();
    }
  }
};

struct MetricsEndpoint::State {
  Reactor reactor;
  std::unique_ptr<Acceptor> acceptor;
  std::map<Scrape*, std::unique_ptr<Scrape>> open;
  std::function<std::string()> render;

  void accept(SocketChannel&& channel) {
    if (open.size() >= kMaxConnections) return;  // dropped: closes it
    auto s = std::make_unique<Scrape>();
    s->channel = std::move(channel);
    s->render = &render;
    s->state = this;
    Scrape* raw = s.get();
    s->key = &reactor.registerHandler(s->channel, SelectionKey::OP_READ, *s);
    s->timeout = reactor.schedule(kRequestTimeout, [this, raw] {
      raw->timeout = {};
      finish(*this, raw);
    });
    open.emplace(raw, std::move(s));
  }
};

void finish(MetricsEndpoint::State& state, Scrape* s) {
  if (s->timeout) state.reactor.cancelTimer(s->timeout);
  s->channel.close();
  state.open.erase(s);  // frees s
}

MetricsEndpoint::MetricsEndpoint(const InetSocketAddress& address,
                                 std::function<std::string()> render)
    : state_(std::make_unique<State>()) {
  state_->render = std::move(render);
  State* st = state_.get();
  st->acceptor = std::make_unique<Acceptor>(
      st->reactor, address, [st](SocketChannel&& ch) { st->accept(std::move(ch)); });
  bound_ = st->acceptor->localAddress();
  thread_ = std::thread([st] { st->reactor.run(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  State* st = state_.get();
  // Everything registered on the loop is torn down on the loop thread, then the loop stops.
  st->reactor.post([st] {
    st->open.clear();  // closes each channel (cancelling its key); timers die with the reactor
    st->acceptor.reset();
    st->reactor.stop();
  });
  thread_.join();
}

InetSocketAddress MetricsEndpoint::parse(const std::string& hostPort) {
  const auto colon = hostPort.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostPort.size()) {
    throw std::invalid_argument("--metrics wants HOST:PORT (for example 127.0.0.1:9100), got '" +
                                hostPort + "'");
  }
  std::string host = hostPort.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string portText = hostPort.substr(colon + 1);
  if (portText.find_first_not_of("0123456789") != std::string::npos || portText.size() > 5 ||
      std::stoul(portText) > 65535) {
    throw std::invalid_argument("--metrics: port '" + portText + "' is not a number 0..65535");
  }
  auto address = InetSocketAddress::of(host, static_cast<std::uint16_t>(std::stoul(portText)));
  if (!address) {
    throw std::invalid_argument("--metrics: host '" + host +
                                "' must be a numeric IP address or localhost");
  }
  return *address;
}

std::string MetricsEndpoint::respond(const std::string& head,
                                     const std::function<std::string()>& render) {
  const auto lineEnd = head.find("\r\n");
  const std::string line = head.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || !line.substr(sp2 + 1).starts_with("HTTP/")) {
    return response("400 Bad Request", "text/plain", "expected: GET /metrics HTTP/1.1\n");
  }
  const std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") {
    return response("404 Not Found", "text/plain", "only /metrics is served here\n");
  }
  if (method != "GET") {
    return response("405 Method Not Allowed", "text/plain", "only GET /metrics\n");
  }
  try {
    return response("200 OK", metrics::kContentType, render());
  } catch (const std::exception& e) {
    log::get("metrics")->error("rendering /metrics failed: {}", e.what());
    return response("500 Internal Server Error", "text/plain", std::string(e.what()) + "\n");
  }
}

}  // namespace nioxx::server
