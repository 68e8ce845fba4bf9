// HttpSession: one connection's HTTP logic, independent of the I/O style. The glue feeds it the
// bytes it reads and sends the responses it queues, in order (pipelining: several requests may be
// parsed before the first answer is sent; at most maxPipelined wait).
//
// Connection behaviour: after a response marked close (Connection: close, HTTP/1.0 without
// keep-alive, or any error that leaves the stream unparseable) nothing more is parsed; the glue
// sends what is queued, then closes.
//
// Thread rule: used by one thread at a time (the connection's handler).
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "http/path_resolver.h"
#include "http/request_parser.h"
#include "http/response.h"

namespace nioxx::http {

struct SessionLimits {
  ParserLimits parser{};
  std::size_t maxPipelined = 16;  // responses queued before reading stops
};

class HttpSession {
 public:
  HttpSession(const DocumentRoot& root, SessionLimits limits);

  // Bytes read from the socket.
  void feed(std::string_view bytes);
  // The peer closed its side: what was complete is answered, a partial request is dropped.
  void endOfInput();
  // Headers did not arrive in time: queues 408 (and close) if a request was under way; returns
  // true if it did (otherwise the connection was merely idle and may be closed silently).
  bool headerTimeout();

  bool hasResponse() const noexcept { return !responses_.empty(); }
  Response& front() noexcept { return responses_.front(); }
  // The front response is sent: drops it and parses what is buffered.
  void pop();

  // More input is welcome (not closing, queue not full).
  bool wantsRead() const noexcept { return !closing_ && responses_.size() < limits_.maxPipelined; }
  // A close is decided: once the queue is sent, close the connection.
  bool closing() const noexcept { return closing_; }
  bool finished() const noexcept { return closing_ && responses_.empty(); }
  // Bytes of an unfinished request head have arrived (the header timeout runs).
  bool midRequest() const noexcept { return parser_.midRequest() || !pending_.empty(); }
  std::size_t requests() const noexcept { return requests_; }

 private:
  void parseBuffered();
  void queue(Response r);

  const DocumentRoot& root_;
  SessionLimits limits_;
  RequestParser parser_;
  std::string pending_;  // received, not yet parsed (only while the queue is full)
  std::deque<Response> responses_;
  std::size_t requests_ = 0;
  bool closing_ = false;
};

}  // namespace nioxx::http
