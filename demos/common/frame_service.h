// FrameService: the protocol logic of a framed request/reply demo, written once and driven by both
// I/O styles (reactive Event Handlers and proactive Completion Handlers).
//
// A service sees whole request frames (the length prefix already stripped) and appends whole,
// framed replies. It never touches a socket, a buffer position or a thread: that is the glue's job.
//
// Thread rule: one instance per connection (made by a ServiceFactory); the glue calls it from one
// thread at a time, so an implementation may keep per-connection state without locks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace nioxx::demo {

class FrameService {
 public:
  virtual ~FrameService() = default;

  // Handles one request payload and appends the framed reply (or replies) to out. Returns false
  // if the payload is bad: the service has then appended its error reply, and the connection is
  // closed once the output is flushed.
  virtual bool onFrame(std::span<const std::uint8_t> payload, std::string& out) = 0;

  // Appends one framed error reply carrying reason (framing errors, rejected connections).
  virtual void appendError(std::string_view reason, std::string& out) = 0;
};

using ServiceFactory = std::function<std::unique_ptr<FrameService>()>;

}  // namespace nioxx::demo
