// The hello protocol end to end in the simulated world: FramedSession + HelloService behind one
// of the server layer's real glues, the seed picks which: reactive (makeReactiveServer on 1-3
// server loops the scheduler steps, ServerConfig::reactors), proactive (makeProactiveServer) or
// coroutine (makeCoroutineServer), both on the scheduler's Proactor (ServerConfig::proactor). The
// clients run on that Proactor, in a dispatch strategy the seed picks. Every valid
// request gets its reply, in order, whatever the fragmentation of either direction; a bad frame
// gets the replies to the requests before it, one error reply and then the end of the stream; a
// connection that sends nothing is closed at its idle timeout (virtual clock: the glue reads
// time through sys::now(), in every glue) and not before; and once everything is closed, no
// simulated descriptor is left open.
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hello.pb.h"
#include "hello/hello_service.h"
#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/core/frame_codec.h"
#include "nioxx/proactor/all.h"
#include "nioxx/server/server.h"
#include "property.h"
#include "scheduler.h"

namespace nioxx::sim {
namespace {

using demo::HelloService;

constexpr std::uint64_t kIdleNs = 5'000'000'000ull;   // the server's idle timeout
constexpr std::uint64_t kSlackNs = 1'000'000'000ull;  // how late "on time" may be
constexpr std::size_t kMaxFrame = 1024;

enum class Kind { good, bad_payload, oversized, idle };

struct Client {
  std::size_t id = 0;
  Kind kind = Kind::good;
  AsyncSocket socket;
  std::vector<std::string> names;   // requests sent (good ones, before a bad frame)
  std::vector<std::string> chunks;  // the request stream, cut at random points
  std::size_t nextChunk = 0;
  int writesOutstanding = 0;
  FrameDecoder decoder{1 << 20};
  std::size_t replies = 0;
  bool gotError = false;
  bool afterError = false;  // something arrived after the error reply
  bool eof = false;
  bool broken = false;  // refused, reset or failed: no delivery promised
  bool shutOutput = false;
  bool connected = false;
  std::uint64_t startNs = 0;  // connect initiated: the server's idle clock starts later
  std::uint64_t eofNs = 0;
  std::string problem;  // the first protocol violation seen
};

ByteBuffer bufferOf(const std::string& bytes) {
  return ByteBuffer::copyOf({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

std::string randomName(Rng& rng) {
  static const char* const kPieces[] = {"a", "Zoe", "ünï", "名前", " ", "x_y", "\xf0\x9f\x99\x82"};
  std::string name;
  const std::size_t n = rng.below(6);
  for (std::size_t i = 0; i < n; ++i)
    name += kPieces[rng.below(sizeof(kPieces) / sizeof(kPieces[0]))];
  return name;
}

// The client's whole request stream, then cut into pieces at random points.
void planRequests(Client& c, Rng& rng) {
  std::string stream;
  const std::size_t requests = c.kind == Kind::idle ? 0 : rng.below(12);
  for (std::size_t i = 0; i < requests; ++i) {
    c.names.push_back(randomName(rng));
    HelloService::appendRequest(c.names.back(), i, stream);
  }
  if (c.kind == Kind::bad_payload) {
    stream += std::string(
        "\x04\x0a\x05"
        "ab",
        5);  // field 1 claims 5 bytes, the frame has 2
  } else if (c.kind == Kind::oversized) {
    std::uint8_t prefix[kMaxVarint32Bytes];
    const std::size_t n = encodeVarint32(static_cast<std::uint32_t>(kMaxFrame + 1), prefix);
    stream.append(reinterpret_cast<const char*>(prefix), n);
    stream += "xy";  // the rest never comes: the prefix alone is refused
  }
  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t n = std::min(stream.size() - at, 1 + rng.below(rng.oneIn(2) ? 7 : 300));
    c.chunks.push_back(stream.substr(at, n));
    at += n;
  }
}

const char* modeName(HelloMode mode) {
  switch (mode) {
    case HelloMode::reactor:
      return "reactor";
    case HelloMode::proactor:
      return "proactor";
    case HelloMode::coroutine:
      return "coroutine";
  }
  return "?";
}

}  // namespace

void helloProperty(World& world, Check& check) {
  helloPropertyIn(static_cast<HelloMode>(world.rng().below(3)), world, check);
}
void helloReactorProperty(World& world, Check& check) {
  helloPropertyIn(HelloMode::reactor, world, check);
}
void helloProactorProperty(World& world, Check& check) {
  helloPropertyIn(HelloMode::proactor, world, check);
}
void helloCoroutineProperty(World& world, Check& check) {
  helloPropertyIn(HelloMode::coroutine, world, check);
}

void helloPropertyIn(HelloMode mode, World& world, Check& check) {
  Rng& rng = world.rng();
  world.trace(modeName(mode));
  // Shedding on EMFILE turns a client away before the protocol starts: selectorProperty and
  // proactorProperty cover it; here every client must reach the service.
  world.chaos().emfile = 0;
  const std::size_t descriptorsBefore = world.openDescriptors();
  {
    static constexpr DispatchStrategy kStrategies[] = {
        DispatchStrategy::post_reactive, DispatchStrategy::call_through, DispatchStrategy::pool};
    const DispatchStrategy strategy = kStrategies[rng.below(3)];
    Scheduler sched(world, strategy, mode == HelloMode::reactor ? 1 + rng.below(3) : 0);
    Proactor& proactor = sched.proactor();
    server::ServerConfig config;
    config.mode = modeName(mode);
    config.port = 0;
    config.framing = server::Framing::varint();
    config.limits = server::SessionLimits{kMaxFrame, 64 + rng.below(4096)};
    config.idleTimeout = std::chrono::milliseconds(kIdleNs / 1'000'000);
    config.proactor = &proactor;
    config.reactors = sched.serverLoops();
    // Half the worlds read into provided buffers, the glues' io_uring path (the proactive one
    // with one multishot read per connection, cancelled and restarted around the output cap).
    if (mode != HelloMode::reactor && rng.below(2) == 0) config.providedBufferReads = true;
    world.trace(config.providedBufferReads.value_or(false) ? "provided-buffer reads"
                                                           : "pooled reads");
    const auto factory = [] { return HelloService::create(); };
    auto server = mode == HelloMode::reactor    ? server::makeReactiveServer(config, factory)
                  : mode == HelloMode::proactor ? server::makeProactiveServer(config, factory)
                                                : server::makeCoroutineServer(config, factory);
    const InetSocketAddress address = server->start();

    std::vector<std::unique_ptr<Client>> clients(1 + rng.below(5));
    std::function<void(Client&)> writeNext;
    std::function<void(Client&)> readNext;
    // A good client ends its side once every reply is in, a bad one once its bytes are out: the
    // server then closes as well (an idle client never does).
    const auto maybeFinish = [&](Client& c) {
      if (c.shutOutput || c.broken || c.kind == Kind::idle) return;
      if (c.nextChunk < c.chunks.size() || c.writesOutstanding > 0) return;
      if (c.kind == Kind::good && c.replies < c.names.size()) return;
      c.shutOutput = true;
      c.socket.shutdownOutput();
    };
    writeNext = [&](Client& c) {
      while (!c.broken && c.nextChunk < c.chunks.size() && c.writesOutstanding < 3) {
        ++c.writesOutstanding;
        c.socket.writeAll(bufferOf(c.chunks[c.nextChunk++]), [&](IoResult& r) {
          --c.writesOutstanding;
          // A bad client's last bytes may meet a server that already answered and closed.
          if (!r.success() && c.kind == Kind::good) c.broken = true;
          writeNext(c);
          maybeFinish(c);
        });
      }
    };
    readNext = [&](Client& c) {
      c.socket.read(ByteBuffer::allocate(1 + rng.below(300)), [&](IoResult& r) {
        if (r.success()) {
          const std::error_code e = c.decoder.feed(
              std::span<const std::uint8_t>(r.buffer().array(), r.bytesTransferred()),
              [&](std::span<const std::uint8_t> frame) {
                hello::HelloReply reply;
                if (c.gotError) c.afterError = true;
                if (!reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
                  if (c.problem.empty()) c.problem = "a reply that is not a HelloReply";
                } else if (!reply.error().empty()) {
                  c.gotError = true;
                } else if (c.replies >= c.names.size() || reply.seq() != c.replies ||
                           reply.greeting() != HelloService::greeting(c.names[c.replies])) {
                  if (c.problem.empty())
                    c.problem = "reply " + std::to_string(c.replies) + " is wrong or out of order";
                } else {
                  ++c.replies;
                }
              });
          if (e && c.problem.empty()) c.problem = "undecodable reply stream: " + e.message();
          maybeFinish(c);
          readNext(c);
        } else if (r.endOfStream()) {
          c.eof = true;
          c.eofNs = world.nowNs();
        } else {
          c.broken = c.kind == Kind::good;  // a bad client may see its connection reset
          c.eof = c.kind != Kind::good;
          c.eofNs = world.nowNs();
        }
      });
    };

    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto c = std::make_unique<Client>();
      c->id = i;
      const auto pick = rng.below(8);
      c->kind = pick < 5    ? Kind::good
                : pick == 5 ? Kind::bad_payload
                : pick == 6 ? Kind::oversized
                            : Kind::idle;
      planRequests(*c, rng);
      c->socket = AsyncSocket::open(proactor);
      Client& ref = *c;
      ref.startNs = world.nowNs();
      ref.socket.connect(address, [&](ConnectResult& r) {
        if (!r.success()) {
          ref.broken = true;
          return;
        }
        ref.connected = true;
        writeNext(ref);
        maybeFinish(ref);
        readNext(ref);
      });
      clients[i] = std::move(c);
    }

    const int steps = sched.strategy() == DispatchStrategy::post_reactive ? 40000 : 160000;
    for (int step = 0; step < steps; ++step) {
      sched.step(std::chrono::milliseconds(19));
      bool done = true;
      for (auto& c : clients)
        done = done && (c->broken || c->eof);
      if (done) break;
    }
    for (auto& c : clients) {
      const std::string who =
          std::string(modeName(mode)) + " client " + std::to_string(c->id) + ": ";
      check.that(c->problem.empty(), who + c->problem);
      if (c->broken) {
        check.that(c->kind != Kind::good || !c->connected,
                   who + "a good client's connection broke");
        continue;
      }
      check.that(c->eof, who + "never saw the server close" + (world.stuck() ? " (stuck)" : ""));
      switch (c->kind) {
        case Kind::good:
          check.that(c->replies == c->names.size() && !c->gotError,
                     who + std::to_string(c->replies) + " of " + std::to_string(c->names.size()) +
                         " replies");
          break;
        case Kind::bad_payload:
        case Kind::oversized:
          check.that(c->replies == c->names.size(),
                     who + "the requests before the bad frame got " + std::to_string(c->replies) +
                         " of " + std::to_string(c->names.size()) + " replies");
          check.that(c->gotError && !c->afterError,
                     who + "a bad frame must get exactly one error reply, then the close");
          break;
        case Kind::idle:
          check.that(c->replies == 0 && !c->gotError, who + "an idle client got a reply");
          check.that(c->eofNs >= c->startNs + kIdleNs,
                     who + "closed " + std::to_string((c->eofNs - c->startNs) / 1'000'000) +
                         " ms after connecting, before the idle timeout");
          check.that(c->eofNs <= c->startNs + kIdleNs + kSlackNs,
                     who + "closed " + std::to_string((c->eofNs - c->startNs) / 1'000'000) +
                         " ms after connecting: late for the idle timeout");
          break;
      }
    }
    // The proactive glues' handlers run meanwhile (they outlive this); the reactive glue's
    // stop() then closes its connections on the caller's thread, its loops' thread.
    proactor.shutdown();
    server->stop();
    for (auto& c : clients)
      c->socket = {};
    server.reset();
  }
  check.that(world.openDescriptors() == descriptorsBefore,
             std::to_string(world.openDescriptors() - descriptorsBefore) +
                 " simulated descriptor(s) left open after everything closed");
}

}  // namespace nioxx::sim
