// FrameService: the protocol logic of a framed request/reply server, written once and driven by
// every I/O style of the server layer (reactive Event Handlers, proactive Completion Handlers,
// coroutines).
//
// A service sees whole request payloads (the framing already stripped: length prefix, or end of
// line) and appends whole replies to a Replies, which frames them the way the connection's
// Framing says. It never touches a socket, a buffer position or a thread: that is the glue's job.
//
// Thread rule: one instance per connection (made by a ServiceFactory); the glue calls it from one
// thread at a time, so an implementation may keep per-connection state without locks. State
// shared by all connections (captured by the factory) needs its own synchronisation: with several
// threads, connections are served in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "nioxx/server/framing.h"

namespace nioxx::server {

class FrameService {
 public:
  virtual ~FrameService() = default;

  // Handles one request payload and appends the reply (or replies) to out. Returns false if the
  // payload is bad: the service has then appended its error reply, the connection is closed once
  // the output is flushed, and the server counts an error. (To end a connection that did nothing
  // wrong, "QUIT", append the reply, call out.closeAfter() and return true.)
  virtual bool onFrame(std::span<const std::uint8_t> payload, Replies& out) = 0;

  // Appends one error reply carrying reason (framing errors: a frame over the limit, a truncated
  // frame; rejected connections: "server busy").
  virtual void appendError(std::string_view reason, Replies& out) = 0;
};

using ServiceFactory = std::function<std::unique_ptr<FrameService>()>;

}  // namespace nioxx::server
