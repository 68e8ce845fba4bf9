// The emulated proactor in each dispatch strategy (driven post_reactive, stepped call_through and
// pool: scheduler.h), every thread a logical one the seed steps: every operation completes exactly
// once; writes complete in the order initiated; no handler runs inside an API call, and no two
// handlers of one socket overlap; a read that times out does so no earlier than its timeout
// (virtual clock); cancel/close races leave nothing outstanding after shutdown(); streams arrive
// intact, and in full unless the schedule broke them on purpose. Some writes are transmitFile of a
// real file holding the stream's bytes (the simulated socket takes them through sys::Os::sendfile),
// in order with the others.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nioxx/bridge/emulated_processor.h"
#include "nioxx/proactor/all.h"
#include "property.h"
#include "scheduler.h"

namespace nioxx::sim {
namespace {

struct Link {
  std::uint64_t id = 0;
  AsyncSocket client;
  AsyncSocket server;
  std::uint64_t length = 0;
  std::uint64_t queued = 0;   // bytes handed to writeAll so far
  std::uint64_t written = 0;  // bytes whose writeAll completed
  std::uint64_t received = 0;
  std::uint64_t nextWriteSeq = 0;
  std::uint64_t doneWriteSeq = 0;
  int writesOutstanding = 0;
  bool connected = false;
  bool broken = false;  // cancelled/closed by the schedule or refused: no delivery promised
  bool eof = false;
  bool inClient = false;  // a client handler is running
  bool inServer = false;
};

// A real file holding stream `id`'s bytes (at least kStreamFileBytes): made once per process
// and kept open (the simulation runs seed after seed).
constexpr std::uint64_t kStreamFileBytes = 30'000;
constexpr std::size_t kStreamFiles = 6;
int streamFile(std::uint64_t id) {
  static std::array<int, kStreamFiles> fds = [] {
    std::array<int, kStreamFiles> made{};
    for (std::size_t id = 0; id < kStreamFiles; ++id) {
      char path[] = "/tmp/nioxx-sim-stream-XXXXXX";
      const int fd = ::mkstemp(path);
      if (fd < 0) throw std::runtime_error("mkstemp failed");
      ::unlink(path);
      std::vector<std::uint8_t> bytes(kStreamFileBytes);
      for (std::uint64_t i = 0; i < kStreamFileBytes; ++i)
        bytes[i] = streamByte(id, i);
      if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        throw std::runtime_error("cannot write the stream file");
      }
      made[id] = fd;
    }
    return made;
  }();
  return fds.at(id);
}

// Sets a flag for the lifetime of a scope: a handler that initiates during shutdown() ends with
// ShutdownError (the documented refusal), and the flag must not stay set after it.
class Raised {
 public:
  explicit Raised(bool& flag) noexcept : flag_(flag) { flag_ = true; }
  ~Raised() { flag_ = false; }
  Raised(const Raised&) = delete;
  Raised& operator=(const Raised&) = delete;

 private:
  bool& flag_;
};

struct Op {
  int completions = 0;
  std::uint64_t startNs = 0;
  std::uint64_t timeoutNs = 0;
};

}  // namespace

namespace {

void proactorUnder(DispatchStrategy strategy, World& world, Check& check) {
  Rng& rng = world.rng();
  Scheduler sched(world, strategy);
  Proactor& proactor = sched.proactor();
  AsyncServerSocket listener = AsyncServerSocket::open(proactor);
  listener.bind(InetSocketAddress::loopback(0), 16);
  const InetSocketAddress address = *listener.localAddress();

  bool inApi = false;
  bool shed = false;
  std::map<std::uint64_t, Op> ops;
  const auto initiated = [&](OperationId id, std::uint64_t timeoutNs = 0) {
    ops[id] = Op{0, world.nowNs(), timeoutNs};
  };
  const auto completed = [&](const AsyncResult& r) {
    check.that(!inApi, "a handler ran inside an API call");
    Op& op = ops[r.operationId()];
    ++op.completions;
    check.that(op.completions == 1,
               "operation completed " + std::to_string(op.completions) + " times");
    if (r.timedOut()) {
      check.that(world.nowNs() >= op.startNs + op.timeoutNs, "a read timed out early");
    }
  };
  // Every initiation goes through api(): a handler seen while inApi ran inside the call.
  const auto api = [&](auto&& f) {
    Raised during(inApi);
    return f();
  };

  std::vector<std::unique_ptr<Link>> conns(1 + rng.below(5));
  std::function<void(Link&)> writeNext;
  std::function<void(Link&)> readNext;
  std::function<void()> acceptNext;

  writeNext = [&](Link& c) {
    while (!c.broken && c.queued < c.length && c.writesOutstanding < 3) {
      const std::size_t n = std::min<std::uint64_t>(c.length - c.queued, 1 + rng.below(8000));
      const std::uint64_t seq = c.nextWriteSeq++;
      const std::uint64_t at = c.queued;
      c.queued += n;
      ++c.writesOutstanding;
      auto done = [&, seq](IoResult& r) {
        completed(r);
        check.that(!c.inClient, "two handlers of one socket overlapped");
        Raised running(c.inClient);
        sched.preempt();
        check.that(seq == c.doneWriteSeq++, "writes completed out of order");
        --c.writesOutstanding;
        if (r.success()) {
          c.written += r.bytesTransferred();
        } else {
          c.broken = true;
        }
        writeNext(c);
      };
      if (rng.oneIn(3)) {
        initiated(api([&] { return c.client.transmitFile(streamFile(c.id), at, n, done); }));
        continue;
      }
      std::vector<std::uint8_t> bytes(n);
      for (std::size_t i = 0; i < n; ++i)
        bytes[i] = streamByte(c.id, at + i);
      initiated(api([&] { return c.client.writeAll(ByteBuffer::copyOf(bytes), done); }));
    }
    if (!c.broken && c.queued == c.length && c.writesOutstanding == 0) {
      Raised during(inApi);
      c.client.shutdownOutput();
    }
  };

  readNext = [&](Link& c) {
    const auto timeout = rng.oneIn(3) ? std::chrono::nanoseconds(1 + rng.below(30'000'000'000ull))
                                      : std::chrono::nanoseconds(0);
    const std::size_t size = 1 + rng.below(rng.oneIn(2) ? 64 : 8192);
    initiated(api([&] {
                return c.server.read(
                    ByteBuffer::allocate(size), NoAct{},
                    [&](IoResult& r) {
                      completed(r);
                      check.that(!c.inServer, "two handlers of one socket overlapped");
                      Raised running(c.inServer);
                      sched.preempt();
                      if (r.success()) {
                        const ByteBuffer& b = r.buffer();
                        for (std::size_t i = 0; i < r.bytesTransferred(); ++i) {
                          if (!check.that(b.array()[i] == streamByte(c.id, c.received + i),
                                          "stream " + std::to_string(c.id) + ": byte " +
                                              std::to_string(c.received + i) + " differs"))
                            break;
                        }
                        c.received += r.bytesTransferred();
                        readNext(c);
                      } else if (r.timedOut()) {
                        readNext(c);
                      } else {
                        c.eof = r.endOfStream();
                        if (!c.eof) c.broken = true;
                        c.server.close();
                      }
                    },
                    timeout);
              }),
              static_cast<std::uint64_t>(timeout.count()));
  };

  acceptNext = [&] {
    initiated(api([&] {
      return listener.accept([&](AcceptResult& r) {
        completed(r);
        // Descriptor exhaustion sheds a waiting connection (the engine's reserve-descriptor
        // trick): its client is turned away, so no delivery is promised to anyone not accepted.
        if (r.error() == std::errc::too_many_files_open) shed = true;
        if (r.success()) {
          AsyncSocket s = r.socket();
          const auto peer = s.remoteAddress();
          for (auto& c : conns) {
            const auto local = c->client ? c->client.localAddress() : std::nullopt;
            if (!c->server && peer && local && local->port() == peer->port()) {
              c->server = s;
              readNext(*c);
              break;
            }
          }
        }
        if (!r.aborted() && r.error() != Error::closed) acceptNext();
      });
    }));
  };
  acceptNext();

  for (std::size_t i = 0; i < conns.size(); ++i) {
    auto c = std::make_unique<Link>();
    c->id = i;
    c->length = rng.oneIn(5) ? 0 : rng.below(rng.oneIn(3) ? 30'000 : 3000);
    c->length = std::min<std::uint64_t>(c->length, world.chaos().capacity * 40);
    c->client = AsyncSocket::open(proactor);
    Link& ref = *c;
    initiated(api([&] {
      return ref.client.connect(address, [&](ConnectResult& r) {
        completed(r);
        ref.connected = r.success();
        if (r.success()) {
          writeNext(ref);
        } else {
          ref.broken = true;
        }
      });
    }));
    conns[i] = std::move(c);
  }

  // Finer steps (one loop iteration or one handler) need more of them than runOnce() turns.
  const int steps = strategy == DispatchStrategy::post_reactive ? 20000 : 80000;
  for (int step = 0; step < steps; ++step) {
    sched.step(std::chrono::milliseconds(19));
    if (step < 2000 && rng.oneIn(200)) {
      // The races: cancel or close a socket while its operations are in flight.
      Link& c = *conns[rng.below(conns.size())];
      c.broken = true;
      Raised during(inApi);
      if (rng.oneIn(2)) {
        c.client.cancel();
      } else {
        c.client.close();
      }
    }
    bool done = true;
    for (auto& c : conns)
      done = done && (c->broken || c->eof);
    if (done) break;
  }
  for (auto& c : conns) {
    if (c->broken || (shed && !c->server)) continue;
    check.that(c->eof && c->received == c->length,
               "stream " + std::to_string(c->id) +
                   " not delivered: " + std::to_string(c->received) + " of " +
                   std::to_string(c->length) + " bytes (written " + std::to_string(c->written) +
                   ")" + (world.stuck() ? ", stuck" : ""));
  }
  proactor.shutdown();  // completes what is left (the accept, reads of broken streams)
  for (const auto& [id, op] : ops)
    check.that(op.completions == 1, "an operation completed " + std::to_string(op.completions) +
                                        " times after shutdown");
  for (auto& c : conns) {
    c->client = {};
    c->server = {};
  }
  listener = {};
}

}  // namespace

void proactorProperty(World& world, Check& check) {
  proactorUnder(DispatchStrategy::post_reactive, world, check);
}
void proactorCallThroughProperty(World& world, Check& check) {
  proactorUnder(DispatchStrategy::call_through, world, check);
}
void proactorPoolProperty(World& world, Check& check) {
  proactorUnder(DispatchStrategy::pool, world, check);
}

}  // namespace nioxx::sim
