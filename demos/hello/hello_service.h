// HelloService: the hello protocol (hello.proto), written once for both server modes.
//
// Each HelloRequest{name, seq} is answered by HelloReply{greeting = "Hello, " + name + "!", seq};
// a payload that is not a HelloRequest (bad wire format, or a name that is not valid UTF-8) gets
// HelloReply{error = reason} and the connection closes after it.
//
// Thread rule: one instance per connection, one thread at a time; the static helpers are safe
// from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "nioxx/server/frame_service.h"

namespace hello {
class HelloReply;
}

namespace nioxx::demo {

// Replies are framed by the connection's Framing: with Framing::varint() (hello_server) that is
// protobuf's length-delimited form, the protocol's wire format.
class HelloService final : public server::FrameService {
 public:
  bool onFrame(std::span<const std::uint8_t> payload, server::Replies& out) override;
  void appendError(std::string_view reason, server::Replies& out) override;

  static std::unique_ptr<server::FrameService> create() { return std::make_unique<HelloService>(); }

  // "Hello, " + name + "!"
  static std::string greeting(std::string_view name);
  // Appends a framed HelloRequest (clients and tests).
  static void appendRequest(std::string_view name, std::uint64_t seq, std::string& out);
  // Appends any framed message (protobuf's length-delimited form).
  static void appendReply(const hello::HelloReply& reply, std::string& out);
  // Sends protobuf's own log lines (e.g. "String field ... contains invalid UTF-8", printed on
  // every such request) to the "hello" spdlog logger at debug level, so hostile input cannot flood
  // stderr. Call once at startup, from any thread.
  static void routeProtobufLogs();
};

}  // namespace nioxx::demo
