#include "hello/hello_service.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include "hello.pb.h"
#include "hello_reply_wire.pb.h"
#include "nioxx/core/frame_codec.h"
#include "nioxx/core/log.h"

namespace nioxx::demo {

namespace {

// As one reply of the connection: serialised in place, behind the connection's frame prefix.
template <class Message>
void appendFramed(const Message& msg, server::Replies& out) {
  const std::size_t size = msg.ByteSizeLong();
  out.append(size, [&msg](std::uint8_t* at) { msg.SerializeWithCachedSizesToArray(at); });
}

// Serialises msg after its varint32 length, straight into out (no temporary string).
template <class Message>
void appendFramed(const Message& msg, std::string& out) {
  const std::size_t size = msg.ByteSizeLong();
  std::uint8_t prefix[kMaxVarint32Bytes];
  const std::size_t prefixLen = encodeVarint32(static_cast<std::uint32_t>(size), prefix);
  const std::size_t at = out.size();
  out.resize(at + prefixLen + size);
  auto* dst = reinterpret_cast<std::uint8_t*>(out.data()) + at;
  std::copy(prefix, prefix + prefixLen, dst);
  msg.SerializeWithCachedSizesToArray(dst + prefixLen);
}

// Reused per thread: parsing into a fresh message per request would allocate every time. One
// thread_local object, so each request pays one initialisation check, not one per message.
struct Messages {
  hello::HelloRequest request;
  hello::wire::HelloReply reply;  // encodes a hello::HelloReply (hello_reply_wire.proto)
};
thread_local Messages tMessages;

}  // namespace

std::string HelloService::greeting(std::string_view name) {
  std::string g;
  g.reserve(name.size() + 8);
  g.append("Hello, ").append(name).append("!");
  return g;
}

bool HelloService::onFrame(std::span<const std::uint8_t> payload, server::Replies& out) {
  Messages& m = tMessages;
  hello::HelloRequest& request = m.request;
  hello::wire::HelloReply& reply = m.reply;
  if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    // proto3 rejects a string field holding invalid UTF-8; tell that apart from broken wire
    // format by parsing again without field types (only on this error path).
    google::protobuf::UnknownFieldSet raw;
    const bool wireOk = raw.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
    appendError(wireOk ? "bad request: name is not valid UTF-8"
                       : "bad request: payload is not a valid HelloRequest (malformed protobuf)",
                out);
    return false;
  }
  // The reply only ever carries greeting + seq (errors use their own message), so overwriting both
  // is enough: no Clear(), and the greeting keeps its capacity from one request to the next, and
  // its "Hello, " too (cutting back to it costs less than assigning it again, issue 17).
  static constexpr std::string_view kHello = "Hello, ";
  std::string* g = reply.mutable_greeting();
  if (g->size() >= kHello.size()) [[likely]] {
    g->resize(kHello.size());
  } else {
    g->assign(kHello);
  }
  g->append(request.name());
  g->push_back('!');
  reply.set_seq(request.seq());
  appendFramed(reply, out);
  return true;
}

void HelloService::appendError(std::string_view reason, server::Replies& out) {
  hello::HelloReply reply;
  reply.set_error(std::string(reason));
  appendFramed(reply, out);
}

void HelloService::appendRequest(std::string_view name, std::uint64_t seq, std::string& out) {
  hello::HelloRequest request;
  request.set_name(std::string(name));
  request.set_seq(seq);
  appendFramed(request, out);
}

void HelloService::appendReply(const hello::HelloReply& reply, std::string& out) {
  appendFramed(reply, out);
}

void HelloService::routeProtobufLogs() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
        static const auto logger = nioxx::log::get("hello");
        if (level >= google::protobuf::LOGLEVEL_FATAL) {
          logger->critical("protobuf {}:{}: {}", file, line, message);
        } else {
          logger->debug("protobuf {}:{}: {}", file, line, message);
        }
      });
}

}  // namespace nioxx::demo
