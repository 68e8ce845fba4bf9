// World: a simulated operating system for deterministic simulation (issue 13). Installed, it
// replaces the kernel under every nioxx channel, the emulated engine and the proactor handles
// (nioxx::sys) and under every Selector (its SelectorBackend): sockets, listeners and pipes live
// in this process, a virtual clock drives timers, and one seeded random source decides every
// choice the kernel could make: readiness order, partial reads and writes, spurious EAGAIN,
// delivery delays, resets, EMFILE on accept, the accept backlog. Same seed, same trace.
//
// Single-threaded: the code under test must run on the thread that owns the World.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nioxx/core/sys.h"
#include "nioxx/sim/rng.h"

namespace nioxx::sim {

// Deliberate bugs in the world, for proving that the properties catch them.
enum class Fault : std::uint8_t {
  none,
  reorder_writes,  // a write's bytes are sometimes delivered before the previous write's
  drop_readiness,  // some sockets' read readiness is never reported (a lost event)
  // The scheduler's Proactor dispatches without strands (spi::SkipStrandsFault):
  // two pool workers may run handlers of one channel together.
  overlap_handlers,
};
Fault parseFault(const std::string& name);  // throws std::invalid_argument

// How hostile the world is; chosen per seed by World's constructor. Probabilities per mille.
struct Chaos {
  int partialIo = 300;     // a read/write moves fewer bytes than it could
  int spuriousAgain = 30;  // EAGAIN although data or room is there
  int delay = 300;         // a write's bytes arrive later (up to maxDelayNs)
  int deferReady = 150;    // a ready descriptor is not reported by this wait
  int reset = 0;           // a write resets the connection
  int emfile = 20;         // accept4 fails with EMFILE
  std::uint64_t maxDelayNs = 2'000'000;
  std::size_t capacity = 65536;  // bytes in flight per direction before writes get EAGAIN
  int backlog = 8;               // accept backlog (smaller of this and listen()'s)
};

struct Endpoint;
struct Conn;

class World final : public sys::Os {
 public:
  static constexpr int kFdBase = 1 << 20;  // simulated descriptors; lower ones are the kernel's

  // Installs itself as the OS and the selector backend factory; the destructor uninstalls.
  explicit World(std::uint64_t seed, Fault fault = Fault::none, bool log = false);
  ~World() override;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  static World* current() noexcept;
  Rng& rng() noexcept { return rng_; }
  Chaos& chaos() noexcept { return chaos_; }
  Fault fault() const noexcept { return fault_; }
  std::uint64_t nowNs() const noexcept { return now_; }

  // The trace: every system call, readiness report and clock step, hashed (FNV-1a); kept as
  // readable lines when logging.
  void trace(const char* what, std::int64_t a = 0, std::int64_t b = 0, std::int64_t c = 0);
  std::uint64_t traceHash() const noexcept { return hash_; }
  const std::vector<std::string>& log() const noexcept { return log_; }
  // No descriptor can ever become ready again and no timer was waiting: a deadlock.
  bool stuck() const noexcept { return stuck_; }
  std::size_t openDescriptors() const noexcept { return fds_.size(); }

  // For the backend: readiness (SelectorBackend::k* bits) of a descriptor, or nullopt-like ~0u
  // when it is not a simulated descriptor; delivery of what is due; the next timed event.
  std::uint32_t readiness(int fd);
  bool deafTo(int fd) const noexcept;
  void deliverDue();
  std::uint64_t nextEventNs() const noexcept;
  void advanceTo(std::uint64_t ns);
  void setStuck() noexcept { stuck_ = true; }

  // sys::Os
  int socket(int domain, int type, int protocol) noexcept override;
  int socketpair(int domain, int type, int protocol, int sv[2]) noexcept override;
  int pipe2(int fds[2], int flags) noexcept override;
  int close(int fd) noexcept override;
  int dup3(int oldFd, int newFd, int flags) noexcept override;
  int fcntl(int fd, int cmd, int arg) noexcept override;
  ssize_t read(int fd, void* buf, std::size_t n) noexcept override;
  ssize_t readv(int fd, const iovec* iov, int count) noexcept override;
  ssize_t recv(int fd, void* buf, std::size_t n, int flags) noexcept override;
  ssize_t write(int fd, const void* buf, std::size_t n) noexcept override;
  ssize_t send(int fd, const void* buf, std::size_t n, int flags) noexcept override;
  ssize_t sendmsg(int fd, const msghdr* msg, int flags) noexcept override;
  int connect(int fd, const sockaddr* addr, socklen_t len) noexcept override;
  int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) noexcept override;
  int bind(int fd, const sockaddr* addr, socklen_t len) noexcept override;
  int listen(int fd, int backlog) noexcept override;
  int shutdown(int fd, int how) noexcept override;
  int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept override;
  int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept override;
  int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept override;
  int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept override;
  std::chrono::steady_clock::time_point now() noexcept override;

 private:
  bool chance(int perMille) noexcept {
    return perMille > 0 && rng_.below(1000) < static_cast<std::uint64_t>(perMille);
  }
  Endpoint* find(int fd) noexcept;
  int allocate(std::shared_ptr<Endpoint> ep) noexcept;
  void release(std::shared_ptr<Endpoint> ep) noexcept;
  std::shared_ptr<Conn> makeConn();
  ssize_t readInto(int fd, const iovec* iov, int count) noexcept;
  ssize_t writeFrom(int fd, const iovec* iov, int count) noexcept;
  void establish(Endpoint& client);

  Rng rng_;
  Chaos chaos_;
  Fault fault_;
  bool logging_;
  std::uint64_t now_ = 1'000'000'000;  // 1 s: below any real steady clock
  std::uint64_t hash_ = 14695981039346656037ull;
  std::vector<std::string> log_;
  bool stuck_ = false;
  std::map<int, std::shared_ptr<Endpoint>> fds_;
  std::map<std::uint16_t, std::weak_ptr<Endpoint>> listeners_;
  std::vector<std::weak_ptr<Conn>> conns_;
  std::vector<std::weak_ptr<Endpoint>> connecting_;
  std::uint16_t nextPort_ = 20000;
  std::uint64_t allocations_ = 0;
};

}  // namespace nioxx::sim
