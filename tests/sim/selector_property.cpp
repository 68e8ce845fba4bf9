// The Selector contract under random readiness: a selected key is valid and its ready ops are a
// non-empty subset of its interest ops that the world really has ready; a cancelled key or a
// closed channel is never reported again; keys() holds exactly the live registrations. Streams
// stay intact (what arrives is a prefix of what was sent) and, with every interest on, every
// stream is delivered in full (liveness).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nioxx/reactor/selector.h"
#include "nioxx/reactor/server_socket_channel.h"
#include "nioxx/reactor/socket_channel.h"
#include "property.h"

namespace nioxx::sim {
namespace {

struct Stream {
  std::uint64_t id;
  SocketChannel client;
  std::optional<SocketChannel> server;  // once accepted
  std::uint64_t length;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  bool connected = false;
  bool failed = false;    // refused or reset: no delivery promised
  bool eof = false;       // the server side saw the end of the stream
  bool writeOff = false;  // the random schedule switched OP_WRITE off for a while
};

constexpr int kRead = SelectionKey::OP_READ;
constexpr int kWrite = SelectionKey::OP_WRITE;

}  // namespace

void selectorProperty(World& world, Check& check) {
  Rng& rng = world.rng();
  Selector selector;
  ServerSocketChannel listener = ServerSocketChannel::open(AF_INET);
  listener.bind(InetSocketAddress::loopback(0), 16);
  const InetSocketAddress address = *listener.localAddress();
  SelectionKey* acceptKey = &listener.registerWith(selector, SelectionKey::OP_ACCEPT);

  std::vector<std::unique_ptr<Stream>> streams(1 + rng.below(6));
  std::map<int, Stream*> byFd;  // server side and client side descriptors -> stream
  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto s = std::make_unique<Stream>();
    s->id = i;
    s->length = rng.oneIn(4) ? 0 : rng.below(rng.oneIn(3) ? 30'000 : 3000);
    // Bounded by the step budget: a tiny buffer moves a few bytes per round.
    s->length = std::min<std::uint64_t>(s->length, world.chaos().capacity * 40);
    s->client = SocketChannel::open(AF_INET);
    std::error_code ec;
    s->connected = s->client.connect(address, ec);
    s->failed = static_cast<bool>(ec);
    if (!s->failed) {
      s->client.registerWith(selector, s->connected ? kWrite : SelectionKey::OP_CONNECT, s.get());
      byFd[s->client.fd()] = s.get();
    }
    streams[i] = std::move(s);
  }
  std::vector<std::uint8_t> scratch(70'000);
  std::size_t accepted = 0;

  const auto finishStream = [&](Stream& s) {  // the writer is done: half-close
    std::error_code ec;
    s.client.shutdownOutput(ec);
    if (SelectionKey* k = s.client.keyFor(selector)) k->interestOps(0);
  };

  for (int step = 0; step < 20000; ++step) {
    const bool draining = step >= 3000;  // the last rounds: no random interference
    const int timeout = rng.oneIn(3) ? 0 : static_cast<int>(rng.below(10));
    selector.select(std::chrono::milliseconds(timeout));
    std::vector<SelectionKey*> selected = selector.selectedKeys();
    selector.selectedKeys().clear();
    for (SelectionKey* key : selected) {
      const int ready = key->readyOps();
      if (!check.that(key->isValid(), "a selected key is not valid")) continue;
      check.that(ready != 0 && (ready & ~key->interestOps()) == 0,
                 "readyOps " + std::to_string(ready) + " not within interestOps " +
                     std::to_string(key->interestOps()));
      if (key == acceptKey) {
        std::error_code ec;
        auto channel = listener.accept(ec);
        if (!channel) continue;  // EAGAIN, or EMFILE (the seed's chaos): try again later
        Stream* s = nullptr;
        for (auto& st : streams) {
          if (!st->server && !st->failed && st->client.localAddress() && channel->remoteAddress() &&
              st->client.localAddress()->port() == channel->remoteAddress()->port()) {
            s = st.get();
          }
        }
        if (!check.that(s != nullptr, "accepted a connection nobody made")) continue;
        s->server = std::move(*channel);
        s->server->registerWith(selector, kRead, s);
        byFd[s->server->fd()] = s;
        ++accepted;
        continue;
      }
      Stream* s = key->attachment<Stream>();
      if (!check.that(s != nullptr && byFd.count(key->channel()->fd()) == 1,
                      "a key reported for a channel no longer registered"))
        continue;
      const bool serverSide = s->server && key->channel() == &*s->server;
      if (serverSide) {
        if ((ready & kRead) == 0) continue;
        std::error_code ec;
        ByteBuffer buf = ByteBuffer::wrap(scratch);
        const auto n = s->server->read(buf, ec);
        if (n > 0) {
          for (std::int64_t i = 0; i < n; ++i) {
            if (!check.that(scratch[static_cast<std::size_t>(i)] ==
                                streamByte(s->id, s->received + static_cast<std::uint64_t>(i)),
                            "stream " + std::to_string(s->id) + ": byte " +
                                std::to_string(s->received + static_cast<std::uint64_t>(i)) +
                                " differs from what was sent"))
              break;
          }
          s->received += static_cast<std::uint64_t>(n);
          check.that(s->received <= s->sent, "received more than was sent");
        } else if (n < 0) {
          if (ec) s->failed = true;
          s->eof = !ec;
          byFd.erase(s->server->fd());
          s->server->close();
        }
        continue;
      }
      // The client side: connect, then write the stream.
      if ((ready & SelectionKey::OP_CONNECT) != 0) {
        std::error_code ec;
        if (s->client.finishConnect(ec)) {
          s->connected = true;
          key->interestOps(kWrite);
        } else if (ec) {
          s->failed = true;
          byFd.erase(s->client.fd());
          s->client.close();
        }
        continue;
      }
      if ((ready & kWrite) == 0) continue;
      if (s->sent == s->length) {
        finishStream(*s);
        continue;
      }
      const std::size_t chunk = std::min<std::uint64_t>(s->length - s->sent, 1 + rng.below(65536));
      for (std::size_t i = 0; i < chunk; ++i)
        scratch[i] = streamByte(s->id, s->sent + i);
      ByteBuffer buf = ByteBuffer::wrap({scratch.data(), chunk});
      std::error_code ec;
      const auto n = s->client.write(buf, ec);
      if (n > 0) s->sent += static_cast<std::uint64_t>(n);
      if (ec) {
        s->failed = true;
        byFd.erase(s->client.fd());
        s->client.close();
      } else if (s->sent == s->length) {
        finishStream(*s);
      }
    }
    if (draining) {
      for (auto& s : streams) {  // every interest back on
        if (s->writeOff && s->client.isOpen()) {
          if (SelectionKey* k = s->client.keyFor(selector)) k->interestOps(kWrite);
          s->writeOff = false;
        }
      }
    } else if (rng.oneIn(8)) {
      // Interest churn: switch a writer off or on again (lazy sync must not lose the change).
      Stream& s = *streams[rng.below(streams.size())];
      SelectionKey* k = s.client.isOpen() ? s.client.keyFor(selector) : nullptr;
      if (k != nullptr && s.connected && s.sent < s.length) {
        s.writeOff = !s.writeOff;
        k->interestOps(s.writeOff ? 0 : kWrite);
      }
    } else if (rng.oneIn(40)) {
      // Cancel and register again: the old key must never be reported afterwards.
      Stream& s = *streams[rng.below(streams.size())];
      if (s.server && s.server->isOpen()) {
        if (SelectionKey* k = s.server->keyFor(selector)) {
          k->cancel();
          selector.selectNow();  // frees it; a new registration gets a new key
          selector.selectedKeys().clear();
          check.that(s.server->keyFor(selector) == nullptr,
                     "a cancelled key is still the channel's");
          s.server->registerWith(selector, kRead, &s);
        }
      }
    }
    bool done = true;
    for (auto& s : streams)
      done = done && (s->failed || s->eof);
    if (done) break;
  }
  // keys(): the listener and every open registered channel, nothing else.
  selector.selectNow();
  std::size_t open = 1;
  for (auto& s : streams) {
    open += s->client.isOpen() && s->client.isRegistered();
    open += s->server && s->server->isOpen() && s->server->isRegistered();
  }
  check.that(selector.keys().size() == open,
             "keys() holds " + std::to_string(selector.keys().size()) + " keys for " +
                 std::to_string(open) + " registered channels");
  for (auto& s : streams) {
    if (s->failed) continue;
    check.that(
        s->eof && s->received == s->length,
        "stream " + std::to_string(s->id) + " not delivered: " + std::to_string(s->received) +
            " of " + std::to_string(s->length) + " bytes (sent " + std::to_string(s->sent) +
            ", accepted " + std::to_string(accepted) + ")" + (world.stuck() ? ", stuck" : ""));
  }
}

}  // namespace nioxx::sim
