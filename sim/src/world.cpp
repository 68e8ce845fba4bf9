#include "nioxx/sim/world.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "nioxx/reactor/selector_backend.h"
#include "sim_backend.h"

namespace nioxx::sim {

// One direction of a connection: bytes in transit (each segment due at a virtual time, in order),
// then readable.
struct Segment {
  std::uint64_t at;
  std::string data;
  enum Kind : std::uint8_t { bytes, fin, rst } kind;
};

struct Flow {
  std::deque<Segment> transit;
  std::string buf;
  std::size_t inflight = 0;  // bytes in transit + buf
  std::size_t capacity = 0;
  bool fin = false;         // end of stream arrived
  bool rst = false;         // reset arrived
  bool readerGone = false;  // the reading end was closed
};

struct Conn {
  Flow flow[2];  // side s reads flow[s] and writes flow[1 - s]
};

struct Endpoint {
  enum class Kind : std::uint8_t { socket, listener, pipe } kind = Kind::socket;
  enum class State : std::uint8_t {
    unconnected,
    connecting,
    connected,
    refused
  } state = State::unconnected;
  std::shared_ptr<Conn> conn;
  int side = 0;
  bool shutRd = false;
  bool shutWr = false;
  bool nonblock = true;
  bool deaf = false;  // Fault::drop_readiness
  int soError = 0;
  std::uint16_t port = 0;
  std::uint16_t peerPort = 0;
  std::uint64_t connectAt = 0;
  std::size_t backlogMax = 0;
  std::deque<std::shared_ptr<Endpoint>> backlog;
};

namespace {

World* gWorld = nullptr;

std::unique_ptr<SelectorBackend> makeBackend() {
  return std::make_unique<SimBackend>(*gWorld);
}

int fail(int err) noexcept {
  errno = err;
  return -1;
}

void fillAddress(std::uint16_t port, sockaddr* addr, socklen_t* len) noexcept {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::memcpy(addr, &in, std::min<std::size_t>(*len, sizeof in));
  *len = sizeof in;
}

std::uint16_t portOf(const sockaddr* addr, socklen_t len) noexcept {
  if (addr == nullptr) return 0;
  if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  }
  if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  }
  return 0;
}

void push(Flow& f, Segment seg) {
  if (!f.transit.empty()) seg.at = std::max(seg.at, f.transit.back().at);  // TCP keeps order
  f.inflight += seg.data.size();
  f.transit.push_back(std::move(seg));
}

}  // namespace

Fault parseFault(const std::string& name) {
  if (name == "none") return Fault::none;
  if (name == "reorder-writes") return Fault::reorder_writes;
  if (name == "drop-readiness") return Fault::drop_readiness;
  if (name == "overlap-handlers") return Fault::overlap_handlers;
  throw std::invalid_argument("unknown fault '" + name +
                              "' (none, reorder-writes, drop-readiness, overlap-handlers)");
}

World::World(std::uint64_t seed, Fault fault, bool log) : rng_(seed), fault_(fault), logging_(log) {
  // Every seed draws its own hostility: some worlds are calm, some hostile.
  chaos_.partialIo = static_cast<int>(rng_.below(600));
  chaos_.spuriousAgain = static_cast<int>(rng_.below(100));
  chaos_.delay = static_cast<int>(rng_.below(700));
  chaos_.deferReady = static_cast<int>(rng_.below(400));
  chaos_.emfile = rng_.oneIn(4) ? static_cast<int>(rng_.below(200)) : 0;
  chaos_.maxDelayNs = 1000 + rng_.below(20'000'000);
  chaos_.capacity = rng_.oneIn(3) ? 1 + rng_.below(512) : 1 + rng_.below(256 * 1024);
  chaos_.backlog = 1 + static_cast<int>(rng_.below(16));
  gWorld = this;
  sys::install(this);
  setSelectorBackendFactory(&makeBackend);
  trace("world", static_cast<std::int64_t>(seed));
}

World::~World() {
  setSelectorBackendFactory(nullptr);
  sys::install(nullptr);
  gWorld = nullptr;
}

World* World::current() noexcept {
  return gWorld;
}

void World::trace(const char* what, std::int64_t a, std::int64_t b, std::int64_t c) {
  const auto mix = [this](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (v >> (8 * i)) & 0xff;
      hash_ *= 1099511628211ull;
    }
  };
  for (const char* p = what; *p != '\0'; ++p)
    mix(static_cast<unsigned char>(*p));
  mix(static_cast<std::uint64_t>(a));
  mix(static_cast<std::uint64_t>(b));
  mix(static_cast<std::uint64_t>(c));
  if (logging_) {
    log_.push_back(std::to_string((now_ - 1'000'000'000) / 1000) + "us " + what + " " +
                   std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c));
  }
}

Endpoint* World::find(int fd) noexcept {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : it->second.get();
}

int World::allocate(std::shared_ptr<Endpoint> ep) noexcept {
  int fd = kFdBase;  // lowest free number, as the kernel does: reuse bugs show up
  for (const auto& [used, e] : fds_) {
    if (used != fd) break;
    ++fd;
  }
  ep->deaf = fault_ == Fault::drop_readiness && allocations_ % 3 == 2;
  ++allocations_;
  fds_.emplace(fd, std::move(ep));
  return fd;
}

// The last descriptor of an endpoint is gone: what close(2) does to the connection.
void World::release(std::shared_ptr<Endpoint> ep) noexcept {
  if (ep.use_count() > 1) return;
  if (ep->kind == Endpoint::Kind::listener) {
    listeners_.erase(ep->port);
    for (auto& pending : ep->backlog)
      release(std::move(pending));
    return;
  }
  if (!ep->conn) return;
  Flow& in = ep->conn->flow[ep->side];
  Flow& out = ep->conn->flow[1 - ep->side];
  in.readerGone = true;
  // Unread input makes close(2) send a reset (Linux), else an end of stream.
  if (ep->kind == Endpoint::Kind::socket && in.inflight > 0) {
    push(out, {now_, {}, Segment::rst});
  } else if (!ep->shutWr) {
    push(out, {now_, {}, Segment::fin});
  }
  in.buf.clear();
  in.transit.clear();
  in.inflight = 0;
}

std::shared_ptr<Conn> World::makeConn() {
  auto conn = std::make_shared<Conn>();
  conn->flow[0].capacity = chaos_.capacity;
  conn->flow[1].capacity = chaos_.capacity;
  conns_.push_back(conn);
  return conn;
}

std::uint32_t World::readiness(int fd) {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return 0;
  constexpr auto in = SelectorBackend::kIn, out = SelectorBackend::kOut,
                 err = SelectorBackend::kErr, hup = SelectorBackend::kHup;
  switch (ep->kind) {
    case Endpoint::Kind::listener:
      return ep->backlog.empty() ? 0 : in;
    case Endpoint::Kind::pipe:
    case Endpoint::Kind::socket:
      break;
  }
  if (ep->state == Endpoint::State::unconnected) return out | hup;
  if (ep->state == Endpoint::State::connecting) return 0;
  if (ep->state == Endpoint::State::refused) return out | err | hup;
  const Flow& rd = ep->conn->flow[ep->side];
  const Flow& wr = ep->conn->flow[1 - ep->side];
  std::uint32_t r = 0;
  if (!rd.buf.empty() || rd.fin || rd.rst || ep->shutRd) r |= in;
  if (rd.rst) r |= err | hup;
  if (ep->shutWr && (rd.fin || ep->shutRd)) r |= hup;
  if (ep->shutWr || rd.rst || wr.readerGone || wr.inflight < wr.capacity) r |= out;
  return r;
}

bool World::deafTo(int fd) const noexcept {
  auto it = fds_.find(fd);
  return it != fds_.end() && it->second->deaf;
}

void World::establish(Endpoint& client) {
  auto it = listeners_.find(client.peerPort);
  std::shared_ptr<Endpoint> listener = it == listeners_.end() ? nullptr : it->second.lock();
  if (!listener || listener->backlog.size() >= listener->backlogMax) {
    client.state = Endpoint::State::refused;
    client.soError = ECONNREFUSED;
    trace("refused", client.port);
    return;
  }
  auto server = std::make_shared<Endpoint>();
  server->conn = makeConn();
  client.conn = server->conn;
  server->side = 0;
  client.side = 1;
  server->state = client.state = Endpoint::State::connected;
  server->port = listener->port;
  server->peerPort = client.port;
  listener->backlog.push_back(std::move(server));
  trace("established", client.port, client.peerPort);
}

void World::deliverDue() {
  std::erase_if(connecting_, [](const std::weak_ptr<Endpoint>& w) { return w.expired(); });
  for (std::size_t i = 0; i < connecting_.size();) {
    auto ep = connecting_[i].lock();
    if (ep->state == Endpoint::State::connecting && ep->connectAt <= now_) {
      establish(*ep);
      connecting_.erase(connecting_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    ++i;
  }
  std::erase_if(conns_, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
  for (auto& weak : conns_) {
    auto conn = weak.lock();
    for (Flow& f : conn->flow) {
      while (!f.transit.empty() && f.transit.front().at <= now_) {
        Segment seg = std::move(f.transit.front());
        f.transit.pop_front();
        if (seg.kind == Segment::fin) f.fin = true;
        if (seg.kind == Segment::rst) f.rst = true;
        if (f.readerGone) {
          f.inflight -= seg.data.size();
        } else {
          f.buf += seg.data;
        }
      }
    }
  }
}

std::uint64_t World::nextEventNs() const noexcept {
  std::uint64_t next = UINT64_MAX;
  for (const auto& weak : connecting_) {
    if (auto ep = weak.lock(); ep && ep->state == Endpoint::State::connecting)
      next = std::min(next, ep->connectAt);
  }
  for (const auto& weak : conns_) {
    if (auto conn = weak.lock()) {
      for (const Flow& f : conn->flow) {
        if (!f.transit.empty()) next = std::min(next, f.transit.front().at);
      }
    }
  }
  return next;
}

void World::advanceTo(std::uint64_t ns) {
  if (ns <= now_) return;
  now_ = ns;
  trace("clock", static_cast<std::int64_t>(ns - 1'000'000'000));
}

std::chrono::steady_clock::time_point World::now() noexcept {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(now_));
}

// ------------------------------------------------------------------ descriptors

int World::socket(int domain, int, int) noexcept {
  if (domain != AF_INET && domain != AF_INET6) return fail(EAFNOSUPPORT);
  const int fd = allocate(std::make_shared<Endpoint>());
  trace("socket", fd);
  return fd;
}

int World::socketpair(int, int, int, int sv[2]) noexcept {
  auto a = std::make_shared<Endpoint>();
  auto b = std::make_shared<Endpoint>();
  a->conn = b->conn = makeConn();
  a->side = 0;
  b->side = 1;
  a->state = b->state = Endpoint::State::connected;
  sv[0] = allocate(std::move(a));
  sv[1] = allocate(std::move(b));
  trace("socketpair", sv[0], sv[1]);
  return 0;
}

int World::pipe2(int fds[2], int) noexcept {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return -1;
  find(fds[0])->kind = find(fds[1])->kind = Endpoint::Kind::pipe;
  find(fds[0])->shutWr = true;  // the read end
  find(fds[1])->shutRd = true;  // the write end
  return 0;
}

int World::close(int fd) noexcept {
  if (fd < kFdBase) return ::close(fd);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return fail(EBADF);
  auto ep = std::move(it->second);
  fds_.erase(it);
  trace("close", fd);
  release(std::move(ep));
  return 0;
}

int World::dup3(int oldFd, int newFd, int) noexcept {
  auto it = fds_.find(oldFd);
  if (it == fds_.end() || oldFd == newFd) return fail(EBADF);
  auto ep = it->second;
  if (auto old = fds_.find(newFd); old != fds_.end()) {
    auto replaced = std::move(old->second);
    old->second = std::move(ep);
    release(std::move(replaced));
  } else {
    fds_.emplace(newFd, std::move(ep));
  }
  trace("dup3", oldFd, newFd);
  return newFd;
}

int World::fcntl(int fd, int cmd, int arg) noexcept {
  if (fd < kFdBase) return ::fcntl(fd, cmd, arg);
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (cmd == F_GETFL) return O_RDWR | (ep->nonblock ? O_NONBLOCK : 0);
  if (cmd == F_SETFL) ep->nonblock = (arg & O_NONBLOCK) != 0;
  return 0;
}

// ------------------------------------------------------------------ reads and writes

ssize_t World::readInto(int fd, const iovec* iov, int count) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  std::size_t want = 0;
  for (int i = 0; i < count; ++i)
    want += iov[i].iov_len;
  if (ep->kind == Endpoint::Kind::listener || ep->state != Endpoint::State::connected) {
    trace("read", fd, -1, ENOTCONN);
    return fail(ENOTCONN);
  }
  Flow& f = ep->conn->flow[ep->side];
  if (f.rst) {
    // Reported once; afterwards the connection reads as closed.
    f.rst = false;
    f.fin = true;
    f.inflight -= f.buf.size();
    f.buf.clear();
    trace("read", fd, -1, ECONNRESET);
    return fail(ECONNRESET);
  }
  if (ep->shutRd || want == 0 || (f.buf.empty() && f.fin)) {
    trace("read", fd, 0);
    return 0;
  }
  if (f.buf.empty() || chance(chaos_.spuriousAgain)) {
    trace("read", fd, -1, EAGAIN);
    return fail(EAGAIN);
  }
  std::size_t n = std::min(want, f.buf.size());
  if (n > 1 && chance(chaos_.partialIo)) n = 1 + rng_.below(n);
  std::size_t done = 0;
  for (int i = 0; i < count && done < n; ++i) {
    const std::size_t step = std::min(iov[i].iov_len, n - done);
    std::memcpy(iov[i].iov_base, f.buf.data() + done, step);
    done += step;
  }
  f.buf.erase(0, n);
  f.inflight -= n;
  trace("read", fd, static_cast<std::int64_t>(n));
  return static_cast<ssize_t>(n);
}

ssize_t World::writeFrom(int fd, const iovec* iov, int count) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (ep->kind == Endpoint::Kind::listener || ep->state != Endpoint::State::connected) {
    trace("write", fd, -1, ENOTCONN);
    return fail(ep->state == Endpoint::State::connecting ? EAGAIN : ENOTCONN);
  }
  Flow& back = ep->conn->flow[ep->side];
  Flow& out = ep->conn->flow[1 - ep->side];
  if (ep->shutWr || back.rst) {
    const int err = back.rst ? ECONNRESET : EPIPE;
    trace("write", fd, -1, err);
    return fail(err);
  }
  std::size_t want = 0;
  for (int i = 0; i < count; ++i)
    want += iov[i].iov_len;
  if (want == 0) return 0;
  if (out.readerGone) {
    // The peer closed: the bytes are lost and a reset comes back.
    push(back, {now_, {}, Segment::rst});
    trace("write", fd, static_cast<std::int64_t>(want), -1);
    return static_cast<ssize_t>(want);
  }
  const std::size_t room = out.inflight < out.capacity ? out.capacity - out.inflight : 0;
  if (room == 0 || chance(chaos_.spuriousAgain)) {
    trace("write", fd, -1, EAGAIN);
    return fail(EAGAIN);
  }
  std::size_t n = std::min(want, room);
  if (n > 1 && chance(chaos_.partialIo)) n = 1 + rng_.below(n);
  Segment seg{now_, {}, Segment::bytes};
  seg.data.reserve(n);
  for (int i = 0; i < count && seg.data.size() < n; ++i) {
    const std::size_t step = std::min(iov[i].iov_len, n - seg.data.size());
    seg.data.append(static_cast<const char*>(iov[i].iov_base), step);
  }
  if (chance(chaos_.delay)) seg.at += rng_.below(chaos_.maxDelayNs);
  if (fault_ == Fault::reorder_writes && !out.transit.empty() &&
      out.transit.back().kind == Segment::bytes && rng_.oneIn(2)) {
    // The bug: this write overtakes the previous one.
    std::swap(seg.data, out.transit.back().data);
  }
  push(out, std::move(seg));
  if (chance(chaos_.reset)) {
    push(out, {now_, {}, Segment::rst});
    push(back, {now_, {}, Segment::rst});
  }
  trace("write", fd, static_cast<std::int64_t>(n));
  return static_cast<ssize_t>(n);
}

ssize_t World::read(int fd, void* buf, std::size_t n) noexcept {
  if (fd < kFdBase) return ::read(fd, buf, n);
  const iovec iov{buf, n};
  return readInto(fd, &iov, 1);
}
ssize_t World::readv(int fd, const iovec* iov, int count) noexcept {
  return readInto(fd, iov, count);
}
ssize_t World::recv(int fd, void* buf, std::size_t n, int) noexcept {
  const iovec iov{buf, n};
  return readInto(fd, &iov, 1);
}
ssize_t World::write(int fd, const void* buf, std::size_t n) noexcept {
  if (fd < kFdBase) return ::write(fd, buf, n);
  const iovec iov{const_cast<void*>(buf), n};
  return writeFrom(fd, &iov, 1);
}
ssize_t World::send(int fd, const void* buf, std::size_t n, int) noexcept {
  const iovec iov{const_cast<void*>(buf), n};
  return writeFrom(fd, &iov, 1);
}
ssize_t World::sendmsg(int fd, const msghdr* msg, int) noexcept {
  return writeFrom(fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen));
}

// ------------------------------------------------------------------ connections

int World::connect(int fd, const sockaddr* addr, socklen_t len) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (ep->state == Endpoint::State::connected) return fail(EISCONN);
  if (ep->state == Endpoint::State::connecting) return fail(EALREADY);
  if (ep->port == 0) ep->port = nextPort_++;
  ep->peerPort = portOf(addr, len);
  ep->state = Endpoint::State::connecting;
  ep->connectAt = now_ + (chance(chaos_.delay) ? rng_.below(chaos_.maxDelayNs) : 0);
  trace("connect", fd, ep->peerPort);
  if (ep->connectAt == now_ && rng_.oneIn(4)) {  // loopback can connect at once
    establish(*ep);
    if (ep->state == Endpoint::State::connected) return 0;
    ep->soError = 0;
    return fail(ECONNREFUSED);
  }
  connecting_.push_back(fds_.at(fd));
  return fail(EINPROGRESS);
}

int World::accept4(int fd, sockaddr* addr, socklen_t* len, int flags) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (ep->kind != Endpoint::Kind::listener) return fail(EINVAL);
  if (ep->backlog.empty()) {
    trace("accept", fd, -1, EAGAIN);
    return fail(EAGAIN);
  }
  if (chance(chaos_.emfile)) {
    trace("accept", fd, -1, EMFILE);
    return fail(EMFILE);
  }
  auto conn = std::move(ep->backlog.front());
  ep->backlog.pop_front();
  conn->nonblock = (flags & SOCK_NONBLOCK) != 0;
  fillAddress(conn->peerPort, addr, len);
  const int c = allocate(std::move(conn));
  trace("accept", fd, c);
  return c;
}

int World::bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  std::uint16_t port = portOf(addr, len);
  if (port == 0) port = nextPort_++;
  if (auto it = listeners_.find(port); it != listeners_.end() && !it->second.expired())
    return fail(EADDRINUSE);
  ep->port = port;
  trace("bind", fd, port);
  return 0;
}

int World::listen(int fd, int backlog) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  ep->kind = Endpoint::Kind::listener;
  ep->backlogMax = static_cast<std::size_t>(std::clamp(backlog, 1, chaos_.backlog));
  listeners_[ep->port] = fds_.at(fd);
  trace("listen", fd, static_cast<std::int64_t>(ep->backlogMax));
  return 0;
}

int World::shutdown(int fd, int how) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (ep->state != Endpoint::State::connected) return fail(ENOTCONN);
  if (how == SHUT_RD || how == SHUT_RDWR) ep->shutRd = true;
  if ((how == SHUT_WR || how == SHUT_RDWR) && !ep->shutWr) {
    ep->shutWr = true;
    push(ep->conn->flow[1 - ep->side], {now_, {}, Segment::fin});
  }
  trace("shutdown", fd, how);
  return 0;
}

int World::getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  if (fd < kFdBase) return ::getsockopt(fd, level, name, value, len);
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  int v = 0;
  if (level == SOL_SOCKET && name == SO_ERROR) {
    v = ep->soError;
    ep->soError = 0;
  }
  std::memcpy(value, &v, std::min<std::size_t>(*len, sizeof v));
  *len = sizeof v;
  return 0;
}

int World::setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  if (fd < kFdBase) return ::setsockopt(fd, level, name, value, len);
  return find(fd) == nullptr ? fail(EBADF) : 0;
}

int World::getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  fillAddress(ep->port, addr, len);
  return 0;
}

int World::getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
  Endpoint* ep = find(fd);
  if (ep == nullptr) return fail(EBADF);
  if (ep->state != Endpoint::State::connected) return fail(ENOTCONN);
  fillAddress(ep->peerPort, addr, len);
  return 0;
}

}  // namespace nioxx::sim
